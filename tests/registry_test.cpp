// The catalogue's consistency: codes, slugs, doc pages (and their examples), fixtures, README
// table.
#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <sstream>

#include "engine/engine.h"
#include "fixture_support.h"
#include "registry.h"
#include "tool_commands.h"

using namespace oomlint;

namespace {

// The first ```python block after `heading`, or "".
std::string code_block_after(const std::string& doc, const std::string& heading) {
  auto h = doc.find("\n" + heading + "\n");
  if (h == std::string::npos) return "";
  auto open = doc.find("```python\n", h);
  if (open == std::string::npos) return "";
  open += 10;
  auto close = doc.find("\n```", open);
  if (close == std::string::npos) return "";
  return doc.substr(open, close - open + 1);
}

checks::Settings doc_settings(const std::string& doc, std::string_view code) {
  checks::Settings s;
  s.select = {std::string(code)};
  auto pos = doc.find("<!-- oomlint-test:");
  if (pos != std::string::npos) {
    auto end = doc.find("-->", pos);
    test::apply_test_options(doc.substr(pos + 18, end - pos - 18), s);
  }
  return s;
}

size_t count_negative_cases(const std::string& text) {
  auto marker = text.find("# ---- negatives ----");
  if (marker == std::string::npos) return 0;
  std::istringstream in(text.substr(marker));
  std::string line;
  size_t cases = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == ' ' || line[0] == '\t' || line[0] == '#' || line[0] == ')' ||
        line[0] == ']' || line[0] == '}' || line.rfind("import ", 0) == 0 ||
        line.rfind("from ", 0) == 0 || line[0] == '@') {
      continue;
    }
    ++cases; // a top-level statement: one negative case
  }
  return cases;
}

} // namespace

TEST_CASE("rule codes are unique, sorted and carry their guide section", "[registry]") {
  auto rules = checks::all_rules();
  REQUIRE(rules.size() >= 1);
  std::set<std::string_view> codes, slugs;
  const std::regex code_re("OOM([0-9]{2})[0-9]");
  const std::regex slug_re("[a-z0-9]+(-[a-z0-9]+)+");
  const std::regex section_re("M([0-9]+).*");
  for (size_t i = 0; i < rules.size(); ++i) {
    const auto& m = rules[i]->meta();
    INFO(m.code);
    std::smatch cm, sm;
    std::string code(m.code), section(m.section), slug(m.slug);
    REQUIRE(std::regex_match(code, cm, code_re));
    CHECK(std::regex_match(slug, slug_re));
    REQUIRE(std::regex_match(section, sm, section_re));
    CHECK(std::stoi(cm[1]) == std::stoi(sm[1]));
    CHECK(codes.insert(m.code).second);
    CHECK(slugs.insert(m.slug).second);
    CHECK_FALSE(m.summary.empty());
    CHECK_FALSE(rules[i]->node_kinds().empty());
    if (i > 0) CHECK(rules[i - 1]->meta().code < m.code);
    CHECK(checks::find_rule(m.code) == rules[i]);
    CHECK(checks::find_rule(m.slug) == rules[i]);
  }
}

TEST_CASE("every rule has a complete doc page whose example fires and whose fix does not",
          "[registry][docs]") {
  for (const auto* rule : checks::all_rules()) {
    const auto& m = rule->meta();
    INFO(m.code);
    std::string doc(checks::rule_doc(m.code));
    REQUIRE_FALSE(doc.empty());
    CHECK(doc.rfind("# " + std::string(m.code) + " `" + std::string(m.slug) + "`\n", 0) == 0);
    CHECK(doc.find("**Guide section:** " + std::string(m.section)) != std::string::npos);
    size_t last = 0;
    for (const char* h :
         {"## What it finds", "## Why it matters", "## Example", "## Fixed", "## Fix safety"}) {
      auto pos = doc.find(std::string("\n") + h + "\n");
      INFO(h);
      CHECK(pos != std::string::npos);
      CHECK(pos >= last);
      if (pos != std::string::npos) last = pos;
    }
    auto settings = doc_settings(doc, m.code);
    checks::Engine engine(settings);
    std::string example = code_block_after(doc, "## Example");
    std::string fixed = code_block_after(doc, "## Fixed");
    REQUIRE_FALSE(example.empty());
    REQUIRE_FALSE(fixed.empty());
    CHECK_FALSE(engine.check(example).empty());
    CHECK(engine.check(fixed).empty());
  }
}

TEST_CASE("every doc page belongs to a rule", "[registry][docs]") {
  for (const auto& e : std::filesystem::directory_iterator(test::source_dir() / "docs" / "rules")) {
    auto name = e.path().stem().string();
    INFO(name);
    CHECK(checks::find_rule(name) != nullptr);
  }
}

TEST_CASE("every rule has fixtures with positive and negative cases", "[registry][fixtures]") {
  auto files = test::fixture_files();
  for (const auto* rule : checks::all_rules()) {
    std::string code(rule->meta().code);
    INFO(code);
    size_t positives = 0, negatives = 0;
    for (const auto& f : files) {
      if (f.filename().string().rfind(code, 0) != 0) continue;
      auto fx = test::load_fixture(f);
      for (const auto& [line, codes] : fx.expected)
        positives += codes.size();
      negatives += count_negative_cases(fx.text);
    }
    CHECK(positives >= 6);
    CHECK(negatives >= 6);
  }
}

TEST_CASE("the README rule table is the registry's", "[registry][docs]") {
  std::string readme = test::read_file(test::source_dir() / "README.md");
  const std::string begin = "<!-- rules:begin -->\n", end = "<!-- rules:end -->";
  auto b = readme.find(begin);
  auto e = readme.find(end);
  REQUIRE(b != std::string::npos);
  REQUIRE(e != std::string::npos);
  std::string table = readme.substr(b + begin.size(), e - b - begin.size());
  INFO("README.md's rule table is not the registry's: regenerate it with\n  "
       << test::update_rule_table_command() << "\nexpected:\n"
       << checks::rules_markdown_table());
  CHECK(table == checks::rules_markdown_table());
}
