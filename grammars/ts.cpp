#include "ts.h"

#include "ts_arena.h"

#include <string>
#include <string_view>
#include <vector>

extern "C" const TSLanguage* tree_sitter_python(void);

namespace oomlint::ts {

const TSLanguage* python() {
  // Every parser starts here, so no tree-sitter allocation precedes the allocator's install.
  static const TSLanguage* language = [] {
    install_arena_allocator();
    return tree_sitter_python();
  }();
  return language;
}

namespace {
size_t field_slot(std::string_view v) {
  size_t a = static_cast<unsigned char>(v[0]), b = static_cast<unsigned char>(v[v.size() - 1]);
  return (v.size() * 31 + a * 7 + b) & 1023;
}
} // namespace

TSFieldId field_id(std::string_view name) {
  // There are a few dozen field names: a table indexed by a name's length and its first and last
  // bytes holds the candidates, so a lookup is a compare or two instead of hashing the whole name
  // (this runs for every field() a rule asks for).
  struct Entry {
    std::string_view name;
    TSFieldId id;
  };
  static const std::vector<std::vector<Entry>> table = [] {
    std::vector<std::vector<Entry>> t(1024);
    const TSLanguage* lang = python();
    for (TSFieldId id = 1, n = static_cast<TSFieldId>(ts_language_field_count(lang)); id <= n;
         ++id) {
      const char* f = ts_language_field_name_for_id(lang, id);
      if (!f || !*f) continue;
      std::string_view v(f);
      t[field_slot(v)].push_back({v, id});
    }
    return t;
  }();
  if (name.empty()) return 0;
  for (const Entry& e : table[field_slot(name)]) {
    if (e.name == name) return e.id;
  }
  return 0;
}

Node Node::field(std::string_view name) const {
  if (null()) return Node();
  TSFieldId id = field_id(name);
  return id == 0 ? Node() : Node(ts_node_child_by_field_id(node_, id));
}

Parser::Parser() : parser_(ts_parser_new()) {
  ts_parser_set_language(parser_, python());
}

Parser::~Parser() {
  ts_parser_delete(parser_);
}

void Node::append_named_children(std::vector<Node>& out) const {
  uint32_t count = named_child_count();
  if (count == 0) return;
  // No reserve(out.size() + count): callers append to a growing stack, and an exact reserve per
  // call would defeat the vector's geometric growth (quadratic on deep trees).
  if (count <= 8) {
    // A cursor costs an allocation; for a few children the indexed walk is cheaper.
    for (uint32_t i = 0; i < count; ++i)
      out.push_back(named_child(i));
    return;
  }
  for_each_named_child([&](Node n) {
    out.push_back(n);
    return true;
  });
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
