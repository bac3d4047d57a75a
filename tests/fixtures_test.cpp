// Runs every rule fixture: expected diagnostics, fixes against .fixed.py, fixes that parse and
// reach a fixed point.
#include <catch2/catch.hpp>

#include "engine/engine.h"
#include "engine/fixes.h"
#include "fixture_support.h"
#include "registry.h"
#include "tool_commands.h"
#include "ts.h"

using namespace oomlint;

namespace {

std::string describe(const std::map<uint32_t, std::vector<std::string>>& m) {
  std::string out;
  for (const auto& [line, codes] : m) {
    for (const auto& c : codes)
      out += "  line " + std::to_string(line) + ": " + c + "\n";
  }
  return out.empty() ? "  (none)\n" : out;
}

} // namespace

TEST_CASE("rule fixtures report exactly the expected lines", "[fixtures]") {
  auto files = test::fixture_files();
  REQUIRE_FALSE(files.empty());
  for (const auto& path : files) {
    auto f = test::load_fixture(path);
    INFO("fixture " << path.filename().string());
    if (checks::find_rule(f.code) == nullptr) {
      FAIL_CHECK("the fixture's name starts with " << f.code << " and no rule " << f.code
                                                   << " is registered: name the fixture after a "
                                                      "rule's code, or register the rule "
                                                      "(OOMLINT_REGISTER_RULE at the end of its "
                                                      "file)");
      continue;
    }
    checks::Engine engine(f.settings);
    std::map<uint32_t, std::vector<std::string>> actual;
    for (const auto& d : engine.check(f.text, /*no_prefilter=*/true)) {
      actual[d.start_pos.line].push_back(d.code);
    }
    INFO("expected:\n" << describe(f.expected) << "actual:\n" << describe(actual));
    CHECK(actual == f.expected);
    // The prefilter must never hide a diagnostic.
    CHECK(engine.check(f.text).size() == engine.check(f.text, true).size());
  }
}

TEST_CASE("fixes parse, match the .fixed.py file and reach a fixed point", "[fixtures][fix]") {
  for (const auto& path : test::fixture_files()) {
    auto f = test::load_fixture(path);
    INFO("fixture " << path.filename().string());
    checks::Engine engine(f.settings);
    auto once = checks::apply_fixes(engine, f.text, /*unsafe=*/true);
    ts::Parser parser;
    CHECK(checks::count_syntax_errors(parser.parse(once.text)) <=
          checks::count_syntax_errors(parser.parse(f.text)));
    auto twice = checks::apply_fixes(engine, once.text, true);
    CHECK(twice.applied == 0);
    CHECK(twice.text == once.text);
    auto fixed_path = path;
    fixed_path.replace_extension(".fixed.py");
    std::string update = test::update_command("update-fixed.sh", path.stem().string());
    if (std::filesystem::exists(fixed_path)) {
      {
        INFO("no fix applies, yet " << fixed_path.filename().string() << " exists: remove it ("
                                    << update << " does)");
        CHECK(once.applied > 0);
      }
      INFO(fixed_path.filename().string()
           << " is not the fixture with every fix applied; if the rule's fixes changed on "
              "purpose, regenerate it and review the diff: "
           << update);
      CHECK(once.text == test::read_file(fixed_path));
    } else {
      // A rule with an automatic fix must show it in a .fixed.py file.
      bool has_fixes = false;
      for (const auto& d : engine.check(f.text, true))
        has_fixes = has_fixes || d.fix.has_value();
      INFO("fixture has fixable diagnostics but no .fixed.py: write it with " << update);
      CHECK_FALSE(has_fixes);
    }
  }
}
