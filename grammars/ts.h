// Thin RAII wrappers over the tree-sitter C API for the Python grammar.
#pragma once

#include <tree_sitter/api.h>

#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace oomlint::ts {

const TSLanguage* python();

// The Python grammar's id of a field name (0 when there is none), from a table built once:
// tree-sitter's own lookup compares the name with every field name on each call.
TSFieldId field_id(std::string_view name);

// A node is a cheap value; it is valid while its Tree lives.
class Node {
public:
  Node() : node_{} {}
  explicit Node(TSNode n) : node_(n) {}

  bool null() const { return node_.id == nullptr; } // ts_node_is_null(), without the call
  explicit operator bool() const { return !null(); }
  // Every accessor is safe on a null node (it answers "nothing"), so rules can chain lookups
  // such as `call.field("function").field("object")` without checking each step.
  TSSymbol symbol() const { return null() ? 0 : ts_node_symbol(node_); }
  std::string_view kind() const { return null() ? std::string_view() : ts_node_type(node_); }
  bool is(std::string_view k) const {
    if (null()) return false;
    // Compares without measuring the kind's name first (this runs for most nodes of a file),
    // and inline: most kinds differ in their first bytes. `t` ends with a NUL, which no kind
    // contains, so a shorter `t` stops the loop.
    const char* t = ts_node_type(node_);
    if (k.empty()) return false;
    for (size_t i = 0; i < k.size(); ++i) {
      if (t[i] != k[i]) return false;
    }
    return t[k.size()] == '\0';
  }
  bool named() const { return !null() && ts_node_is_named(node_); }
  bool has_error() const { return !null() && ts_node_has_error(node_); }
  bool is_error() const { return !null() && ts_node_is_error(node_); }
  bool is_missing() const { return !null() && ts_node_is_missing(node_); }
  uint32_t start() const { return null() ? 0 : ts_node_start_byte(node_); }
  uint32_t end() const { return null() ? 0 : ts_node_end_byte(node_); }
  uint32_t child_count() const { return null() ? 0 : ts_node_child_count(node_); }
  uint32_t named_child_count() const { return null() ? 0 : ts_node_named_child_count(node_); }
  Node child(uint32_t i) const { return null() ? Node() : Node(ts_node_child(node_, i)); }
  Node named_child(uint32_t i) const {
    return null() ? Node() : Node(ts_node_named_child(node_, i));
  }
  Node field(std::string_view name) const;
  Node next_named_sibling() const {
    return null() ? Node() : Node(ts_node_next_named_sibling(node_));
  }
  Node prev_named_sibling() const {
    return null() ? Node() : Node(ts_node_prev_named_sibling(node_));
  }
  // O(depth): prefer the ancestors the engine keeps.
  Node parent() const { return null() ? Node() : Node(ts_node_parent(node_)); }
  // Appends the named children, in order, to `out`. named_child(i) walks from the first child
  // on every call, so a loop over it is quadratic in the number of children (a module or a
  // block of thousands of statements); this walks them once.
  void append_named_children(std::vector<Node>& out) const;
  // Calls f(child) for each named child in order until f returns false: one cursor walk that
  // can stop early, for a block of thousands of statements. (For a few children, named_child(i)
  // is cheaper: the cursor pays for every step it takes.)
  template <class F> void for_each_named_child(F&& f) const {
    if (null() || ts_node_child_count(node_) == 0) return;
    TSTreeCursor cursor = ts_tree_cursor_new(node_);
    for (bool more = ts_tree_cursor_goto_first_child(&cursor); more;
         more = ts_tree_cursor_goto_next_sibling(&cursor)) {
      TSNode n = ts_tree_cursor_current_node(&cursor);
      if (ts_node_is_named(n) && !f(Node(n))) break;
    }
    ts_tree_cursor_delete(&cursor);
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
  const char* field_name_for_child(uint32_t i) const {
    return null() ? nullptr : ts_node_field_name_for_child(node_, i);
  }
  TSNode raw() const { return node_; }
  bool operator==(const Node& o) const {
    return null() ? o.null() : (!o.null() && ts_node_eq(node_, o.node_));
  }

private:
  TSNode node_;
};

class Tree {
public:
  Tree() = default;
  explicit Tree(TSTree* t) : tree_(t) {}
  Tree(Tree&& o) noexcept : tree_(o.tree_) { o.tree_ = nullptr; }
  Tree& operator=(Tree&& o) noexcept {
    if (this != &o) {
      reset();
      tree_ = o.tree_;
      o.tree_ = nullptr;
    }
    return *this;
  }
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;
  ~Tree() { reset(); }

  Tree clone() const { return Tree(tree_ ? ts_tree_copy(tree_) : nullptr); }
  // Lets go of the tree without deleting it: for a tree in a thread's arena (ts_arena.h), whose
  // memory goes all at once when the arena is reset.
  void abandon() { tree_ = nullptr; }
  Node root() const { return tree_ ? Node(ts_tree_root_node(tree_)) : Node(); }
  void edit(const TSInputEdit& e) {
    if (tree_) ts_tree_edit(tree_, &e);
  }
  TSTree* raw() const { return tree_; }
  explicit operator bool() const { return tree_ != nullptr; }

private:
  void reset() {
    if (tree_) ts_tree_delete(tree_);
    tree_ = nullptr;
  }
  TSTree* tree_ = nullptr;
};

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
