#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli_test_support.h"
#include "cli/file_checker.h"
#include "cli/renderers.h"
#include "fixture_support.h"

using namespace oomlint::cli;
using oomlint::test::TempDir;
namespace fs = std::filesystem;

namespace {

const char* kSource = "import torch\n"
                      "\n"
                      "def train(model, loader, opt):\n"
                      "    for batch in loader:\n"
                      "        model(batch).sum().backward()\n"
                      "        opt.step()\n"
                      "        torch.cuda.empty_cache()\n";

std::vector<Finding> findings_for(const TempDir& tmp, const std::string& rel) {
  oomlint::checks::Settings settings;
  settings.select = {"OOM203"}; // other rules are written concurrently; rely on OOM203 only
  oomlint::checks::Engine engine{settings};
  FileJob job;
  job.path = tmp.path() / rel;
  job.absolute = job.path;
  job.display = rel;
  job.engine = &engine;
  return check_file(job, {}).findings;
}

std::string render(const std::vector<Finding>& f, OutputFormat format, const fs::path& root = {}) {
  std::ostringstream out;
  RenderOptions o;
  o.format = format;
  o.sarif_root = root;
  render_findings(out, f, o);
  return out.str();
}

} // namespace

TEST_CASE("renderers: text shows the line, an underline and the fix", "[cli][render]") {
  TempDir tmp;
  tmp.write("t.py", kSource);
  auto f = findings_for(tmp, "t.py");
  REQUIRE(f.size() == 1);
  std::string out = render(f, OutputFormat::Text);
  CHECK(out.find("t.py:7:9: OOM203 [warning] ") == 0);
  CHECK(out.find("7 |         torch.cuda.empty_cache()\n") != std::string::npos);
  CHECK(out.find("  |         ^^^^^^^^^^^^^^^^^^^^^^^^\n") != std::string::npos);
  CHECK(out.find("= help: Remove the `empty_cache()` call") != std::string::npos);
  CHECK(out.find("\x1b[") == std::string::npos); // no colour unless asked
  std::string concise = render(f, OutputFormat::Concise);
  CHECK(concise.find("t.py:7:9: OOM203 `empty_cache()`") == 0);
  CHECK(summary_line(f, false) ==
        "Found 1 problem (0 fixable with --fix; 1 more with --fix --unsafe-fixes).");
  CHECK(summary_line({}, false) == "All checks passed!");
}

TEST_CASE("renderers: json has Ruff's fields", "[cli][render]") {
  TempDir tmp;
  tmp.write("t.py", kSource);
  auto f = findings_for(tmp, "t.py");
  auto j = nlohmann::json::parse(render(f, OutputFormat::Json));
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 1);
  const auto& d = j[0];
  CHECK(d["filename"] == (tmp.path() / "t.py").string());
  CHECK(d["code"] == "OOM203");
  CHECK(d["slug"] == "empty-cache-in-loop");
  CHECK(d["section"] == "M20");
  CHECK(d["severity"] == "warning");
  CHECK(d["location"]["row"] == 7);
  CHECK(d["location"]["column"] == 9);
  CHECK(d["end_location"]["row"] == 7);
  CHECK(d["end_location"]["column"] == 33);
  CHECK(d["fix"]["applicability"] == "unsafe");
  CHECK(d["fix"]["message"].get<std::string>().find("empty_cache") != std::string::npos);
  REQUIRE(d["fix"]["edits"].size() == 1);
  CHECK(d["fix"]["edits"][0]["location"]["row"] == 7);
  CHECK(d["fix"]["edits"][0]["end_location"]["row"] == 8);
  CHECK(d["url"].get<std::string>().find("OOM203") != std::string::npos);
  CHECK(d["cell"].is_null());
}

TEST_CASE("renderers: sarif 2.1.0 with rules and relative URIs", "[cli][render]") {
  TempDir tmp;
  tmp.write("src/t.py", kSource);
  auto f = findings_for(tmp, "src/t.py");
  auto s = nlohmann::json::parse(render(f, OutputFormat::Sarif, tmp.path()));
  CHECK(s["version"] == "2.1.0");
  CHECK(s["$schema"].is_string());
  const auto& run = s["runs"][0];
  const auto& driver = run["tool"]["driver"];
  CHECK(driver["name"] == "oomlint");
  CHECK(driver["version"].is_string());
  CHECK(driver["informationUri"].is_string());
  bool found_rule = false;
  for (const auto& r : driver["rules"]) {
    if (r["id"] != "OOM203") continue;
    found_rule = true;
    CHECK(r["name"] == "empty-cache-in-loop");
    CHECK(r["shortDescription"]["text"].is_string());
    CHECK(r["fullDescription"]["text"].is_string());
    CHECK(r["help"]["markdown"].get<std::string>().find("# OOM203") != std::string::npos);
    CHECK(r["helpUri"].get<std::string>().find("OOM203") != std::string::npos);
    CHECK(r["defaultConfiguration"]["level"] == "warning");
  }
  CHECK(found_rule);
  REQUIRE(run["results"].size() == 1);
  const auto& res = run["results"][0];
  CHECK(res["ruleId"] == "OOM203");
  CHECK(res["level"] == "warning");
  CHECK(res["message"]["text"].is_string());
  const auto& loc = res["locations"][0]["physicalLocation"];
  CHECK(loc["artifactLocation"]["uri"] == "src/t.py");
  CHECK(loc["artifactLocation"]["uriBaseId"] == "%SRCROOT%");
  CHECK(loc["region"]["startLine"] == 7);
  CHECK(loc["region"]["startColumn"] == 9);
  CHECK(loc["region"]["endLine"] == 7);
  CHECK(loc["region"]["endColumn"] == 33);
  CHECK(res["partialFingerprints"].size() == 1);
}

TEST_CASE("renderers: github workflow commands", "[cli][render]") {
  TempDir tmp;
  tmp.write("t.py", kSource);
  auto f = findings_for(tmp, "t.py");
  std::string out = render(f, OutputFormat::Github);
  CHECK(out.find("::warning file=t.py,line=7,col=9,endLine=7,endColumn=33,title=OOM203::OOM203 ") ==
        0);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
}

TEST_CASE("renderers: statistics", "[cli][render]") {
  TempDir tmp;
  tmp.write("t.py", kSource);
  tmp.write("u.py", kSource);
  auto f = findings_for(tmp, "t.py");
  auto g = findings_for(tmp, "u.py");
  f.insert(f.end(), g.begin(), g.end());
  std::ostringstream out;
  RenderOptions o;
  render_statistics(out, f, o);
  CHECK(out.str() == "2\tOOM203\tempty-cache-in-loop\n");
  std::ostringstream js;
  o.format = OutputFormat::Json;
  render_statistics(js, f, o);
  auto j = nlohmann::json::parse(js.str());
  CHECK(j[0]["code"] == "OOM203");
  CHECK(j[0]["count"] == 2);
}

TEST_CASE("renderers: printable lines never carry raw control or invalid bytes", "[cli][render]") {
  std::vector<size_t> cols;
  std::string out = printable_line("a\x1b[2J\xff\tb\xc3\xa9\r\n", &cols);
  CHECK(out.find('\x1b') == std::string::npos);
  CHECK(out.find('\xff') == std::string::npos);
  CHECK(out.find("\xc3\xa9") != std::string::npos);
  // a, ESC, [, 2, J, 0xff, tab (to column 8), b, é, end
  CHECK(cols == std::vector<size_t>{0, 1, 2, 3, 4, 5, 6, 8, 9, 10});
}
