#include "ts.h"

#include "ts_arena.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

extern "C" const TSLanguage* tree_sitter_python(void);

namespace oomlint::ts {

const TSLanguage* python() {
  // Every parser starts here, so no tree-sitter allocation precedes the allocator's install.
  static const TSLanguage* language = [] {
    install_arena_allocator();
    const TSLanguage* lang = tree_sitter_python();
    static std::vector<const char*> names(ts_language_symbol_count(lang));
    static std::vector<uint8_t> lengths(names.size());
    for (uint32_t s = 0; s < names.size(); ++s) {
      const char* n = ts_language_symbol_name(lang, static_cast<TSSymbol>(s));
      names[s] = n ? n : "";
      // A name too long for the table (none is) gets a length no kind asked about has.
      lengths[s] = static_cast<uint8_t>(std::min<size_t>(std::strlen(names[s]), 255));
    }
    detail::kind_names = names.data();
    detail::kind_lengths = lengths.data();
    detail::kind_count = static_cast<uint32_t>(names.size());
    for (size_t i = 0; i < kFieldCount; ++i) {
      const std::string_view f = kFieldNames[i];
      detail::field_ids[i] =
          ts_language_field_id_for_name(lang, f.data(), static_cast<uint32_t>(f.size()));
    }
    return lang;
  }();
  return language;
}

namespace detail {
const char* const* kind_names = nullptr;
const uint8_t* kind_lengths = nullptr;
uint32_t kind_count = 0;
TSFieldId field_ids[kFieldCount] = {};

const char* kind_name_slow(TSSymbol symbol) {
  const char* n = ts_language_symbol_name(python(), symbol);
  return n ? n : "";
}
} // namespace detail

namespace {

// The last index a thread let go of, kept for the next tree it indexes: a file's index is a few
// megabytes, and fresh pages for each file would cost page faults.
thread_local std::vector<NodeRecord> spare_index;

} // namespace

namespace detail {

bool build_index_fast(TSTree* tree, std::vector<NodeRecord>& out) {
  size_t count = ts_node_descendant_count(ts_tree_root_node(tree));
  out.resize(count);
  if (oomlint_ts_index(tree, out.data(), count) == count) return true;
  out.clear();
  return false;
}

// Lists the visible nodes of `tree` depth-first in preorder, with the links and facts Node
// reads, through the public API: a cursor knows each node's field.
void build_index_with_cursor(TSTree* tree, std::vector<NodeRecord>& out) {
  out.clear();
  TSTreeCursor cursor = ts_tree_cursor_new(ts_tree_root_node(tree));
  // Per open ancestor: its index, and the index of its latest child (or UINT32_MAX).
  struct Open {
    uint32_t index, last_child;
  };
  std::vector<Open> open;
  for (;;) {
    TSNode n = ts_tree_cursor_current_node(&cursor);
    const uint32_t i = static_cast<uint32_t>(out.size());
    NodeRecord r{};
    r.start = ts_node_start_byte(n);
    r.end = ts_node_end_byte(n);
    r.symbol = ts_node_symbol(n);
    r.field = ts_tree_cursor_current_field_id(&cursor);
    bool named = ts_node_is_named(n);
    r.flags = static_cast<uint8_t>((named ? OOMLINT_NODE_NAMED : 0) |
                                   (ts_node_is_error(n) ? OOMLINT_NODE_ERROR : 0) |
                                   (ts_node_is_missing(n) ? OOMLINT_NODE_MISSING : 0) |
                                   (ts_node_has_error(n) ? OOMLINT_NODE_HAS_ERROR : 0));
    if (!open.empty()) {
      Open& p = open.back();
      r.parent = i - p.index;
      ++out[p.index].child_count;
      if (named) ++out[p.index].named_child_count;
      if (p.last_child != UINT32_MAX) {
        out[p.last_child].next = i - p.last_child;
        r.prev = i - p.last_child;
      }
      p.last_child = i;
    }
    out.push_back(r);
    if (ts_tree_cursor_goto_first_child(&cursor)) {
      open.push_back({i, UINT32_MAX});
      continue;
    }
    bool done = false;
    while (!ts_tree_cursor_goto_next_sibling(&cursor)) {
      if (!ts_tree_cursor_goto_parent(&cursor)) {
        done = true;
        break;
      }
      open.pop_back();
    }
    if (done) break;
  }
  ts_tree_cursor_delete(&cursor);
}

} // namespace detail

Node Tree::root() const {
  if (!tree_ && index_.empty()) return Node();
  if (index_.empty()) {
    index_.swap(spare_index);
    if (!detail::build_index_fast(tree_, index_)) detail::build_index_with_cursor(tree_, index_);
  }
  return Node(index_.data());
}

void Tree::reset() {
  if (tree_) ts_tree_delete(tree_);
  tree_ = nullptr;
  if (index_.capacity() > spare_index.capacity()) index_.swap(spare_index);
  index_.clear();
}

Tree::~Tree() {
  reset();
}

Parser::Parser() : parser_(ts_parser_new()) {
  ts_parser_set_language(parser_, python());
}

Parser::~Parser() {
  ts_parser_delete(parser_);
}

namespace {
// tree-sitter-python misreads two kinds of bytes: a NUL inside a string ends the input for its
// scanner (everything after it is lost), and a lone CR is whitespace to it although Python ends
// the line there. The parser sees NUL as a space and a lone CR as LF: same offsets, same lines.
// (DocumentStore widens incremental edits next to a CR, whose reading depends on the next byte.)
std::string_view python_view(std::string_view text, std::string& copy) {
  size_t i = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\0' || (c == '\r' && (i + 1 == text.size() || text[i + 1] != '\n'))) break;
  }
  if (i == text.size()) return text;
  copy.assign(text);
  for (; i < copy.size(); ++i) {
    if (copy[i] == '\0') {
      copy[i] = ' ';
    } else if (copy[i] == '\r' && (i + 1 == copy.size() || copy[i + 1] != '\n')) {
      copy[i] = '\n';
    }
  }
  return copy;
}
} // namespace

Tree Parser::parse(std::string_view text, const Tree* old) {
  std::string copy;
  text = python_view(text, copy);
  TSTree* t =
      ts_parser_parse_string_encoding(parser_, old ? old->raw() : nullptr, text.data(),
                                      static_cast<uint32_t>(text.size()), TSInputEncodingUTF8);
  return Tree(t);
}

} // namespace oomlint::ts
