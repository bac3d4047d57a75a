// source.fixAll.oomlint over every rule fixture that has fixes: the action's single edit must turn
// the document into exactly what checks::apply_fixes (safe fixes only) produces.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/engine.h"
#include "engine/fixes.h"
#include "line_index.h"
#include "lsp/convert.h"
#include "lsp/lsp_client.h"

using namespace oomlint;
using namespace oomlint::lsp;
using namespace oomlint::lsp::test;

TEST_CASE("fixAll gives the engine's safe-fix result for every fixture", "[lsp]") {
  namespace fs = std::filesystem;
  fs::path dir = fs::path(OOMLINT_SOURCE_DIR) / "tests" / "fixtures";
  checks::Engine engine{checks::Settings{}};
  int with_fixes = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    fs::path p = entry.path();
    std::string name = p.filename().string();
    if (p.extension() != ".py" || name.find(".fixed.") != std::string::npos) continue;
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    if (text.starts_with("# oomlint-test:")) continue; // fixtures with their own settings
    std::string expected = checks::apply_fixes(engine, text, /*unsafe=*/false).text;
    LspClient c;
    c.initialize();
    std::string uri = "file:///fixtures/" + name;
    c.open(uri, text);
    json actions = c.call(
        "textDocument/codeAction",
        {{"textDocument", {{"uri", uri}}},
         {"range", range_json(0, 0, 0, 0)},
         {"context", {{"diagnostics", json::array()}, {"only", json::array({"source.fixAll"})}}}});
    INFO(name);
    if (expected == text) {
      CHECK(actions.empty());
      continue;
    }
    ++with_fixes;
    REQUIRE(actions.size() == 1);
    CHECK(actions[0]["kind"] == "source.fixAll.oomlint");
    json edits = actions[0]["edit"]["changes"][uri];
    REQUIRE(edits.size() == 1);
    checks::LineIndex lines(text);
    Range r = parse_range(edits[0]["range"]);
    uint32_t s = to_offset(lines, r.start, PositionEncoding::Utf16);
    uint32_t e = to_offset(lines, r.end, PositionEncoding::Utf16);
    std::string fixed = text;
    fixed.replace(s, e - s, edits[0]["newText"].get<std::string>());
    CHECK(fixed == expected);
  }
  CHECK(with_fixes > 0); // rules with safe fixes exist, so the loop above did real work
}
