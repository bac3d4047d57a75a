// Thin RAII wrappers over the tree-sitter C API for the Python grammar.
#pragma once

#include <tree_sitter/api.h>

#include "python_node_kinds.h"
#include "ts_index.h"

#include <cstdint>
#include <cstring>
#include <iterator>
#include <string_view>
#include <vector>

namespace oomlint::ts {

const TSLanguage* python();

// The field names of the Python grammar (tree-sitter-python's ts_field_names, in its order).
inline constexpr std::string_view kFieldNames[] = {"alias",
                                                   "alternative",
                                                   "argument",
                                                   "arguments",
                                                   "attribute",
                                                   "body",
                                                   "cause",
                                                   "code",
                                                   "condition",
                                                   "consequence",
                                                   "definition",
                                                   "expression",
                                                   "format_specifier",
                                                   "function",
                                                   "guard",
                                                   "key",
                                                   "left",
                                                   "module_name",
                                                   "name",
                                                   "object",
                                                   "operator",
                                                   "operators",
                                                   "parameters",
                                                   "return_type",
                                                   "right",
                                                   "subject",
                                                   "subscript",
                                                   "superclasses",
                                                   "type",
                                                   "type_conversion",
                                                   "type_parameters",
                                                   "value"};
inline constexpr size_t kFieldCount = std::size(kFieldNames);

namespace detail {
// The grammar's id of each of kFieldNames, filled by python() before any tree exists.
extern TSFieldId field_ids[kFieldCount];
} // namespace detail

// A field name written in the code (`node.field("object")`), looked up while compiling: a
// misspelt name does not compile, and asking a node for a field costs one load for its id
// instead of a lookup by name (rules ask for fields of most of the nodes they see).
class FieldName {
public:
  template <size_t N>
  consteval FieldName(const char (&name)[N]) : index_(index_of({name, N - 1})) {}
  TSFieldId id() const { return detail::field_ids[index_]; }

private:
  static consteval uint8_t index_of(std::string_view name) {
    for (size_t i = 0; i < kFieldCount; ++i) {
      if (kFieldNames[i] == name) return static_cast<uint8_t>(i);
    }
    throw "not a field of the Python grammar"; // a compile-time error
  }
  uint8_t index_;
};

// A node kind written in the code (`node.is("call")`, a rule's node kinds), checked while
// compiling against the grammar's kinds (python_node_kinds.h, generated from tree-sitter-python's
// node-types.json): a misspelt kind does not compile. A kind known only at run time is compared
// with Node::is_kind() instead.
class NodeKind {
public:
  template <size_t N> consteval NodeKind(const char (&name)[N]) : name_(name, N - 1) {
    bool known = false;
    for (std::string_view k : kNodeKindNames)
      known = known || k == name_;
    if (!known) throw "not a node kind of the Python grammar"; // a compile-time error
  }
  constexpr std::string_view name() const { return name_; }
  constexpr bool operator==(const NodeKind& o) const { return name_ == o.name_; }

private:
  std::string_view name_;
};

// One visible node of a parsed tree, as the tree's flat index keeps it (see Tree::root()).
using NodeRecord = OomlintNodeRecord;

namespace detail {
// The names of the grammar's symbols, filled by python() before any tree exists (so before any
// node can ask): Node::is() runs for most nodes of a file and reads this table inline.
extern const char* const* kind_names;
extern const uint8_t* kind_lengths; // strlen of each of kind_names (names are short)
extern uint32_t kind_count;
const char* kind_name_slow(TSSymbol symbol); // ERROR and the other built-in symbols
} // namespace detail

// The name of a node kind (ts_node_type() of a node with that symbol).
inline const char* kind_name(TSSymbol symbol) {
  return symbol < detail::kind_count ? detail::kind_names[symbol] : detail::kind_name_slow(symbol);
}

// A node is a cheap value (a pointer into its tree's index); it is valid while its Tree lives.
// Moving between nodes is pointer arithmetic: no call into tree-sitter, which pays hundreds of
// instructions for a child, a sibling or a field.
class Node {
public:
  Node() = default;
  explicit Node(const NodeRecord* r) : r_(r) {}

  bool null() const { return r_ == nullptr; }
  explicit operator bool() const { return !null(); }
  // Every accessor is safe on a null node (it answers "nothing"), so rules can chain lookups
  // such as `call.field("function").field("object")` without checking each step.
  TSSymbol symbol() const { return null() ? 0 : r_->symbol; }
  std::string_view kind() const { return null() ? std::string_view() : kind_name(r_->symbol); }
  bool is(NodeKind kind) const { return is_kind(kind.name()); }
  // The same for a kind known only at run time (unchecked: a misspelt one is never true).
  bool is_kind(std::string_view k) const {
    if (null() || k.empty()) return false;
    // This runs for most nodes of a file: the lengths come from a table, and `k` is nearly always
    // a literal, whose length is known while compiling and whose bytes memcmp compares a word at
    // a time.
    TSSymbol s = r_->symbol;
    if (s >= detail::kind_count) return k == detail::kind_name_slow(s);
    return detail::kind_lengths[s] == k.size() &&
           std::memcmp(detail::kind_names[s], k.data(), k.size()) == 0;
  }
  bool named() const { return flag(OOMLINT_NODE_NAMED); }
  bool has_error() const { return flag(OOMLINT_NODE_HAS_ERROR); }
  bool is_error() const { return flag(OOMLINT_NODE_ERROR); }
  bool is_missing() const { return flag(OOMLINT_NODE_MISSING); }
  uint32_t start() const { return null() ? 0 : r_->start; }
  uint32_t end() const { return null() ? 0 : r_->end; }
  uint32_t child_count() const { return null() ? 0 : r_->child_count; }
  uint32_t named_child_count() const { return null() ? 0 : r_->named_child_count; }
  Node first_child() const { return child_count() == 0 ? Node() : Node(r_ + 1); }
  Node next_sibling() const { return null() || r_->next == 0 ? Node() : Node(r_ + r_->next); }
  Node prev_sibling() const { return null() || r_->prev == 0 ? Node() : Node(r_ - r_->prev); }
  Node child(uint32_t i) const {
    if (i >= child_count()) return Node();
    const NodeRecord* c = r_ + 1;
    for (; i > 0; --i)
      c += c->next;
    return Node(c);
  }
  Node named_child(uint32_t i) const {
    if (i >= named_child_count()) return Node();
    for (Node c = first_child();; c = c.next_sibling()) {
      if (c.named() && i-- == 0) return c;
    }
  }
  // The child held in field `name` (the first, for a field that holds several), or null.
  Node field(FieldName name) const { return field_with_id(name.id()); }
  // The same for a field id (the grammar's; 0 finds nothing).
  Node field_with_id(TSFieldId id) const {
    if (id == 0) return Node();
    for (Node c = first_child(); !c.null(); c = c.next_sibling()) {
      if (c.r_->field == id) return c;
    }
    return Node();
  }
  Node next_named_sibling() const {
    Node s = next_sibling();
    while (!s.null() && !s.named())
      s = s.next_sibling();
    return s;
  }
  Node prev_named_sibling() const {
    Node s = prev_sibling();
    while (!s.null() && !s.named())
      s = s.prev_sibling();
    return s;
  }
  Node parent() const { return null() || r_->parent == 0 ? Node() : Node(r_ - r_->parent); }
  // Appends the named children, in order, to `out`.
  void append_named_children(std::vector<Node>& out) const {
    for (Node c = first_child(); !c.null(); c = c.next_sibling()) {
      if (c.named()) out.push_back(c);
    }
  }
  // Calls f(child) for each named child in order until f returns false.
  template <class F> void for_each_named_child(F&& f) const {
    for (Node c = first_child(); !c.null(); c = c.next_sibling()) {
      if (c.named() && !f(c)) break;
    }
  }
  std::vector<Node> named_children() const {
    std::vector<Node> out;
    append_named_children(out);
    return out;
  }
  std::string_view text(std::string_view source) const {
    if (null()) return {};
    uint32_t s = start(), e = end();
    if (e > source.size() || s > e) return {};
    return source.substr(s, e - s);
  }
  // Identifies the node within its tree (for memo tables); null for a null node.
  const void* id() const { return r_; }
  // The node's place in its tree's index (preorder), counted from `root`, the root of the same
  // tree: a memo can be a vector indexed by it.
  size_t index_from(Node root) const { return static_cast<size_t>(r_ - root.r_); }
  bool operator==(const Node& o) const { return r_ == o.r_; }

private:
  bool flag(uint8_t f) const { return !null() && (r_->flags & f) != 0; }
  const NodeRecord* r_ = nullptr;
};

class Tree {
public:
  Tree() = default;
  explicit Tree(TSTree* t) : tree_(t) {}
  Tree(Tree&& o) noexcept : tree_(o.tree_), index_(std::move(o.index_)) { o.tree_ = nullptr; }
  Tree& operator=(Tree&& o) noexcept {
    if (this != &o) {
      reset();
      tree_ = o.tree_;
      o.tree_ = nullptr;
      index_ = std::move(o.index_);
    }
    return *this;
  }
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;
  ~Tree();

  // A copy of the tree (not of its index: the copy builds its own on its first root()).
  Tree clone() const { return Tree(tree_ ? ts_tree_copy(tree_) : nullptr); }
  // Lets go of the tree without deleting it: for a tree in a thread's arena (ts_arena.h), whose
  // memory goes all at once when the arena is reset. The index (its own memory) stays usable.
  void abandon() { tree_ = nullptr; }
  // The root of the tree's index of visible nodes, built on the first call: one walk over the
  // tree. Not thread-safe: a tree is used by one thread at a time. The index describes the tree
  // as parsed; after edit() the tree is only fit for handing to a reparse.
  Node root() const;
  void edit(const TSInputEdit& e) {
    if (tree_) ts_tree_edit(tree_, &e);
  }
  TSTree* raw() const { return tree_; }
  explicit operator bool() const { return tree_ != nullptr; }

private:
  void reset();
  TSTree* tree_ = nullptr;
  mutable std::vector<NodeRecord> index_;
};

namespace detail {
// The two ways to build a tree's index, for the tests: the walk over tree-sitter's subtrees that
// Tree::root() uses (false if it failed), and a TSTreeCursor walk, which is slower but uses only
// tree-sitter's public API (the fallback, and the reference the tests compare with).
bool build_index_fast(TSTree* tree, std::vector<NodeRecord>& out);
void build_index_with_cursor(TSTree* tree, std::vector<NodeRecord>& out);
} // namespace detail

class Parser {
public:
  Parser();
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // Parses `text`; pass the edited previous tree to reparse incrementally. Returns an empty Tree
  // only if tree-sitter gives up (cancelled), which callers treat as "no tree".
  Tree parse(std::string_view text, const Tree* old = nullptr);

private:
  TSParser* parser_;
};

} // namespace oomlint::ts
