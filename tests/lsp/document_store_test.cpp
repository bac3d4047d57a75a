// The document store: incremental edits splice the text and keep the tree equal to a fresh parse.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>

#include "line_index.h"
#include "lsp/convert.h"
#include "lsp/document_store.h"
#include "lsp/notebook.h"

using namespace oomlint;
using namespace oomlint::lsp;

namespace {
std::string sexp(const ts::Tree& t) {
  char* s = ts_node_string(ts_tree_root_node(t.raw()));
  std::string out(s);
  std::free(s);
  return out;
}
} // namespace

TEST_CASE("random incremental edits give the same tree as a fresh parse", "[lsp]") {
  std::mt19937 rng(1234);
  const std::vector<std::string> pieces = {"x",
                                           "\n",
                                           "    ",
                                           "for b in loader:\n    ",
                                           "torch.cuda.empty_cache()",
                                           "(",
                                           ")",
                                           "é",
                                           "😀",
                                           "\r\n",
                                           "def f(a):\n",
                                           "'''doc\n'''",
                                           "# comment",
                                           "",
                                           "\t",
                                           ":",
                                           "if x:\n  pass\n"};
  std::string text =
      "import torch\n\ndef train(model, loader):\n    for b in loader:\n        model(b)\n";
  DocumentStore store;
  store.open("file:///r.py", "python", 1, text);
  ts::Parser parser;
  for (int step = 0; step < 300; ++step) {
    auto snap = store.snapshot("file:///r.py");
    const std::string& cur = *snap->text;
    checks::LineIndex lines(cur);
    auto pos = [&] {
      uint32_t off = cur.empty() ? 0 : static_cast<uint32_t>(rng() % (cur.size() + 1));
      return to_position(lines, off, PositionEncoding::Utf16);
    };
    Position a = pos(), b = pos();
    if (b.line < a.line || (b.line == a.line && b.character < a.character)) std::swap(a, b);
    ContentChange change{Range{a, b}, pieces[rng() % pieces.size()]};
    // Keep our own copy of the expected text with the same conversion.
    std::string expected = cur;
    uint32_t s = to_offset(lines, a, PositionEncoding::Utf16);
    uint32_t e = to_offset(lines, b, PositionEncoding::Utf16);
    expected.replace(s, e - s, change.text);
    REQUIRE(store.change("file:///r.py", step + 2, {change}, PositionEncoding::Utf16));
    auto after = store.snapshot("file:///r.py");
    REQUIRE(*after->text == expected);
    REQUIRE(after->tree);
    REQUIRE(sexp(*after->tree) == sexp(parser.parse(expected)));
  }
}

TEST_CASE("several changes in one didChange apply in order", "[lsp]") {
  DocumentStore store;
  store.open("file:///m.py", "python", 1, "abc\ndef\n");
  std::vector<ContentChange> changes = {
      {Range{{0, 1}, {0, 2}}, "XYZ"}, // aXYZc
      {Range{{1, 0}, {1, 3}}, ""},    // empty second line
      {Range{{0, 0}, {0, 0}}, "é"},   // éaXYZc
      {std::nullopt, "full\n"},       {Range{{0, 4}, {0, 4}}, "!"},
  };
  REQUIRE(store.change("file:///m.py", 2, changes, PositionEncoding::Utf16));
  CHECK(*store.snapshot("file:///m.py")->text == "full!\n");
  CHECK_FALSE(store.change("file:///none.py", 2, changes, PositionEncoding::Utf16));
}

TEST_CASE("positions past the end are clamped and reversed ranges are empty", "[lsp]") {
  std::string text = "ab\ncd";
  apply_change(text, nullptr, {Range{{0, 99}, {0, 99}}, "X"}, PositionEncoding::Utf16);
  CHECK(text == "abX\ncd");
  apply_change(text, nullptr, {Range{{9, 0}, {12, 4}}, "Y"}, PositionEncoding::Utf16);
  CHECK(text == "abX\ncdY");
  apply_change(text, nullptr, {Range{{1, 2}, {0, 0}}, "Z"}, PositionEncoding::Utf16);
  CHECK(text == "abX\ncdZY");
}

TEST_CASE("UTF-16 positions never split a character", "[lsp]") {
  std::string text = "a😀b\n";
  checks::LineIndex lines(text);
  CHECK(to_offset(lines, {0, 1}, PositionEncoding::Utf16) == 1);
  CHECK(to_offset(lines, {0, 2}, PositionEncoding::Utf16) == 1); // inside the surrogate pair
  CHECK(to_offset(lines, {0, 3}, PositionEncoding::Utf16) == 5);
  CHECK(to_position(lines, 5, PositionEncoding::Utf16).character == 3);
  CHECK(to_position(lines, 5, PositionEncoding::Utf8).character == 5);
  std::string crlf = "ab\r\ncd";
  checks::LineIndex l2(crlf);
  CHECK(to_position(l2, 3, PositionEncoding::Utf16) == Position{0, 2}); // between \r and \n
  CHECK(to_position(l2, 4, PositionEncoding::Utf16) == Position{1, 0});
}

TEST_CASE("minimal_line_edit replaces only the changed lines", "[lsp]") {
  auto e = minimal_line_edit("a\nb\nc\n", "a\nB\nc\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].start == 2);
  CHECK(e[0].end == 4);
  CHECK(e[0].text == "B\n");
  CHECK(minimal_line_edit("same", "same").empty());
  e = minimal_line_edit("x", "");
  REQUIRE(e.size() == 1);
  CHECK(e[0].start == 0);
  CHECK(e[0].end == 1);
  e = minimal_line_edit("a\nb\n", "a\nb\nc\n");
  REQUIRE(e.size() == 1);
  CHECK(e[0].start == 4);
  CHECK(e[0].text == "c\n");
}

TEST_CASE("notebook extraction maps code cells to JSON offsets", "[lsp]") {
  std::string nb =
      R"({"cells":[{"cell_type":"code","source":"a = \"\u00e9\"\nb\tc"},)"
      R"({"cell_type":"markdown","source":["x"]},{"cell_type":"code","source":["!pip x\n","y"]}]})";
  std::string error;
  auto src = extract_notebook(nb, error);
  REQUIRE(src);
  // Joined as `oomlint check` joins them: magics masked as comments, a boundary line between
  // cells.
  const std::string& py = src->join.source();
  CHECK(py == "a = \"é\"\nb\tc\n#<oomlint-cell-boundary>\n#pip x\ny\n");
  CHECK(src->to_json.size() == py.size() + 1);
  CHECK(nb[src->to_json[0]] == 'a');
  size_t y = py.find("\ny\n") + 1;
  CHECK(nb[src->to_json[y]] == 'y');
  CHECK(src->cell[y] == 1);
  CHECK(src->cell[py.find("#<oomlint")] == kBoundaryCell);
  CHECK(nb[src->to_json[py.find("#pip")]] == '!');
  CHECK_FALSE(extract_notebook("[1,2]", error));
  CHECK_FALSE(extract_notebook("{\"cells\": [", error));
  CHECK_FALSE(extract_notebook(std::string(100000, '['), error));
  CHECK(json_escape("a\"b\\\n\x01") == "a\\\"b\\\\\\n\\u0001");
}
