// Regressions found by the libFuzzer harnesses in fuzz/ (each reproducer is also kept in the
// harness's seed corpus, fuzz/corpus/<harness>/).
#include <catch2/catch.hpp>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>

#include "engine/engine.h"
#include "line_index.h"
#include "lsp/document_store.h"

using oomlint::checks::LineIndex;
namespace lsp = oomlint::lsp;

namespace {

// `text` has findings, and the check with the prefilter reports each of them, as the check
// without it does.
void check_prefilter_keeps_findings(const std::string& text) {
  oomlint::checks::Engine engine{oomlint::checks::Settings{}};
  auto all = engine.check(text, /*no_prefilter=*/true);
  auto filtered = engine.check(text);
  REQUIRE_FALSE(all.empty());
  REQUIRE(filtered.size() == all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(filtered[i].code == all[i].code);
    CHECK(filtered[i].start == all[i].start);
  }
}

} // namespace

TEST_CASE("a huge UTF-8 column clamps to the end of its own line", "[fuzz][line_index]") {
  // docsync: character 4294967295 on line 1 wrapped around to the end of line 0.
  LineIndex idx("ab\ncd\nef");
  constexpr uint32_t kMax = std::numeric_limits<uint32_t>::max();
  CHECK(idx.offset_from_utf8(0, kMax) == 2);
  CHECK(idx.offset_from_utf8(1, kMax) == 5);
  CHECK(idx.offset_from_utf8(2, kMax) == 8);
  CHECK(idx.offset_from_utf8(1, kMax - 1) == 5);
  CHECK(idx.offset_from_utf16(1, kMax) == 5);
}

TEST_CASE("an insertion at a huge UTF-8 column lands at the end of that line",
          "[fuzz][lsp][document_store]") {
  std::string text = "x = 1\ny = 2\nz = 3\n";
  lsp::ContentChange c;
  c.range = lsp::Range{{1, std::numeric_limits<uint32_t>::max()},
                       {1, std::numeric_limits<uint32_t>::max()}};
  c.text = "  # end";
  lsp::apply_change(text, nullptr, c, lsp::PositionEncoding::Utf8);
  CHECK(text == "x = 1\ny = 2  # end\nz = 3\n");
}

TEST_CASE("an unterminated docstring does not hide the code tree-sitter recovers after it",
          "[fuzz][prefilter]") {
  // docsync: the prefilter's source tracker read everything after an unclosed `"""` as a
  // docstring, so OOM201's code-only tokens were "absent", while tree-sitter recovered and parsed
  // the rest as code: the check with the prefilter missed the finding the fresh check had.
  std::string text = "\"\"\"Fine-tune a model.\n"
                     "\n"
                     "This script is oomlintimport torch\n"
                     "from transformers import AutoModel\n"
                     "model = AutoModel.from_pretrained(\"gpt2\")\n"
                     "total = 0\n"
                     "for batch in loader:\n"
                     "    loss = model(batch).loss\n"
                     "    total += loss\n";
  check_prefilter_keeps_findings(text);
}

TEST_CASE("an unterminated one-line quote does not hide the code tree-sitter recovers after it",
          "[fuzz][prefilter]") {
  // engine: the source tracker read the rest of the line after a stray `'` as a string, so
  // OOM061's code-only `autocast` was "absent", while tree-sitter dropped the quote and parsed
  // the call: the check with the prefilter missed the finding the unfiltered one had.
  std::string text = "import torch\n"
                     "def train(model, batch):\n"
                     "     '   ctx = torch.autocast(\"cuda\", dtype=torch.float16)\n"
                     "    with ctx:\n"
                     "        loss = model(batch)\n";
  check_prefilter_keeps_findings(text);
  // A quote that closes on its line, or on the next after a backslash, is still a string.
  oomlint::checks::Engine engine{oomlint::checks::Settings{}};
  for (std::string quoted : {"'   ctx = torch.autocast(\"cuda\", dtype=torch.float16)'",
                             "'   ctx = torch.\\\nautocast(\"cuda\", dtype=torch.float16)'"}) {
    std::string in_string = "import torch\nx = " + quoted + "\n";
    CHECK(engine.check(in_string, /*no_prefilter=*/true).empty());
    CHECK(engine.check(in_string).empty());
  }
}

TEST_CASE("a function definition inside an error node has the scope around it", "[fuzz][flow]") {
  // fixes: `f evaluate(...)` (a `def` cut short) left a function_definition that the scope walk
  // never entered; Flow::scope_of answered -1 and OOM153's caller check read scope(-1). Under
  // UBSan (the ASan test build) this was an out-of-bounds read.
  std::ifstream in(std::string(OOMLINT_SOURCE_DIR) +
                       "/fuzz/corpus/fixes/regress_definition_in_error_scope.py",
                   std::ios::binary);
  REQUIRE(in);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const oomlint::checks::Engine engine{oomlint::checks::Settings{}};
  auto all = engine.check(text, /*no_prefilter=*/true);
  for (const auto& d : all)
    CHECK(d.end <= text.size());
}
