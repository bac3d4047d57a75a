// The tree's index (ts::Node) must answer every question as tree-sitter's node API does: the
// rules were written against that API, and the index replaced it for speed.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fixture_support.h"
#include "ts.h"

namespace {

using oomlint::ts::Node;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool same(TSNode t, Node n) {
  if (ts_node_is_null(t)) return n.null();
  return !n.null() && ts_node_start_byte(t) == n.start() && ts_node_end_byte(t) == n.end() &&
         ts_node_symbol(t) == n.symbol();
}

// Compares `n` and everything under it with tree-sitter's answers; returns the first mismatch
// as text (empty when they agree). `checked` counts the nodes compared.
std::string compare(TSNode t, Node n, size_t& checked) {
  std::vector<std::pair<TSNode, Node>> stack{{t, n}};
  const TSLanguage* lang = oomlint::ts::python();
  const uint32_t fields = ts_language_field_count(lang);
  while (!stack.empty()) {
    auto [a, b] = stack.back();
    stack.pop_back();
    ++checked;
    std::string at = std::string(ts_node_type(a)) + " at " + std::to_string(ts_node_start_byte(a));
    if (!same(a, b)) return "node differs: " + at;
    if (std::string_view(ts_node_type(a)) != b.kind()) return "kind differs: " + at;
    if (ts_node_is_named(a) != b.named() || ts_node_has_error(a) != b.has_error() ||
        ts_node_is_error(a) != b.is_error() || ts_node_is_missing(a) != b.is_missing()) {
      return "flags differ: " + at;
    }
    if (ts_node_child_count(a) != b.child_count() ||
        ts_node_named_child_count(a) != b.named_child_count()) {
      return "child counts differ: " + at;
    }
    if (!same(ts_node_parent(a), b.parent())) return "parent differs: " + at;
    if (!same(ts_node_next_named_sibling(a), b.next_named_sibling()) ||
        !same(ts_node_prev_named_sibling(a), b.prev_named_sibling())) {
      return "named siblings differ: " + at;
    }
    // Two places where tree-sitter's field lookup disagrees with its own cursor and
    // ts_node_field_name_for_child(), whose view the index takes: inside an ERROR node (where
    // a child the cursor calls `subscript` is not found by its field), and through a child
    // aliased to a visible kind (match_statement's `alternative` reaches past its `block` to a
    // case_clause). No rule asks either question; elsewhere the answers must be the same.
    for (uint32_t f = 1; f <= fields && !ts_node_is_error(a); ++f) {
      const char* name = ts_language_field_name_for_id(lang, static_cast<TSFieldId>(f));
      if (!name) continue;
      TSNode want = ts_node_child_by_field_id(a, static_cast<TSFieldId>(f));
      if (!ts_node_is_null(want) && !ts_node_eq(ts_node_parent(want), a)) continue;
      if (!same(want, b.field_with_id(static_cast<TSFieldId>(f)))) {
        return std::string("field ") + name + " differs: " + at;
      }
    }
    for (uint32_t i = 0; i < ts_node_named_child_count(a); ++i) {
      if (!same(ts_node_named_child(a, i), b.named_child(i))) return "named child differs: " + at;
    }
    for (uint32_t i = 0; i < ts_node_child_count(a); ++i)
      stack.emplace_back(ts_node_child(a, i), b.child(i));
  }
  return {};
}

std::string compare_text(const std::string& text, size_t& checked) {
  oomlint::ts::Parser parser;
  oomlint::ts::Tree tree = parser.parse(text);
  return compare(ts_tree_root_node(tree.raw()), tree.root(), checked);
}

} // namespace

TEST_CASE("ts index: every node, child, sibling and field matches tree-sitter on the fixtures") {
  size_t files = 0, checked = 0;
  for (const auto& path : oomlint::test::fixture_files()) {
    INFO(path.string());
    CHECK(compare_text(read_file(path), checked) == "");
    ++files;
  }
  CHECK(files > 50);
  CHECK(checked > 10000);
}

TEST_CASE("ts index: broken and odd input reads as tree-sitter reads it") {
  // Syntax errors (ERROR and MISSING nodes), comments between tokens (extras, which hold no
  // field), aliases, decorators, a lone CR, and an empty file.
  const std::vector<std::string> inputs{
      "",
      "def f(:\n  return (1,\n",
      "x = foo(a, # note\n b=1)\nclass C(Base, metaclass=M):\n  @dec\n  def g(self): ...\n",
      "print 'old'\nexec 'x'\nif x\n  y = [1, 2\n",
      "with torch.no_grad(), open(p) as f:\n    out = [m(x) for x in xs if x]\n",
      "x = 1\ry = 2\r\nz = {**a, 'k': v}\nlambda *a, **k: (yield)\n",
      "match cmd:\n  case [x, *rest] if x > 0:\n    pass\n  case {'k': v}:\n    pass\n",
      "async def f():\n  async with a as b:\n    await c\n  async for i in d: pass\n",
      "f'{x!r:>{w}} {y}'\n'''doc\n''' \"\"\"\nunterminated\n",
  };
  size_t checked = 0;
  for (const auto& text : inputs) {
    INFO(text);
    CHECK(compare_text(text, checked) == "");
  }
  CHECK(checked > 100);
}

TEST_CASE("ts index: a moved tree keeps its nodes, and a clone builds its own index") {
  oomlint::ts::Parser parser;
  oomlint::ts::Tree tree = parser.parse("a = b(c)\n");
  Node call = tree.root().named_child(0).named_child(0).field("right");
  REQUIRE(call.is("call"));
  oomlint::ts::Tree moved = std::move(tree);
  CHECK(moved.root().named_child(0).named_child(0).field("right") == call);
  oomlint::ts::Tree copy = moved.clone();
  Node other = copy.root().named_child(0).named_child(0).field("right");
  CHECK(other.is("call"));
  CHECK_FALSE(other == call); // a node of another tree
  CHECK(other.start() == call.start());
  CHECK(oomlint::ts::Tree().root().null());
}

namespace {
// The fast walk and the cursor walk, field by field; the first difference as text.
std::string compare_builders(const std::string& text) {
  oomlint::ts::Parser parser;
  oomlint::ts::Tree tree = parser.parse(text);
  std::vector<oomlint::ts::NodeRecord> fast, slow;
  if (!oomlint::ts::detail::build_index_fast(tree.raw(), fast)) return "the fast walk failed";
  oomlint::ts::detail::build_index_with_cursor(tree.raw(), slow);
  if (fast.size() != slow.size()) return "sizes differ";
  for (size_t i = 0; i < fast.size(); ++i) {
    const auto &a = fast[i], &b = slow[i];
    if (a.start != b.start || a.end != b.end || a.parent != b.parent || a.next != b.next ||
        a.prev != b.prev || a.child_count != b.child_count ||
        a.named_child_count != b.named_child_count || a.symbol != b.symbol || a.field != b.field ||
        a.flags != b.flags) {
      return "record " + std::to_string(i) + " differs";
    }
  }
  return {};
}
} // namespace

TEST_CASE("ts index: the subtree walk builds the same index as a cursor walk") {
  size_t files = 0;
  for (const auto& path : oomlint::test::fixture_files()) {
    INFO(path.string());
    CHECK(compare_builders(read_file(path)) == "");
    ++files;
  }
  CHECK(files > 50);
  for (const char* text : {"", "def f(:\n  return (1,\n", "print 'old'\nif x\n  y = [1, 2\n",
                           "match c:\n  case [x, *r] if x:\n    pass\n", "x = 1\ry = 2\r\n"}) {
    INFO(text);
    CHECK(compare_builders(text) == "");
  }
}

TEST_CASE("ts index: the compiled-in field names are exactly the grammar's, each with its id") {
  // FieldName checks a name against kFieldNames while compiling; this holds that list to the
  // grammar, so that a name it accepts is one the grammar has, under the id the grammar gives.
  const TSLanguage* lang = oomlint::ts::python();
  REQUIRE(ts_language_field_count(lang) == oomlint::ts::kFieldCount);
  for (size_t i = 0; i < oomlint::ts::kFieldCount; ++i) {
    std::string_view name = oomlint::ts::kFieldNames[i];
    INFO(name);
    TSFieldId id =
        ts_language_field_id_for_name(lang, name.data(), static_cast<uint32_t>(name.size()));
    CHECK(id != 0);
    CHECK(oomlint::ts::detail::field_ids[i] == id);
  }
  oomlint::ts::Parser parser;
  auto tree = parser.parse("x = obj.attr\n");
  Node assign = tree.root().named_child(0).named_child(0);
  REQUIRE(assign.is("assignment"));
  CHECK(assign.field("right").field("attribute").text("x = obj.attr\n") == "attr");
  CHECK(assign.field("right").field("object").text("x = obj.attr\n") == "obj");
  CHECK(assign.field("type").null());
}
