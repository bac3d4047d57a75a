// The memory guide's pages (docs/guide/) and every link oomlint emits to the docs: the default
// base (installed docs, else the source tree's docs/), the docs-url setting of each front end,
// `oomlint guide`, and that no link leads to a page that does not exist.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <regex>
#include <set>
#include <sstream>

#include "cli/cli_test_support.h"
#include "cli/config.h"
#include "cli/file_checker.h"
#include "cli/guide_command.h"
#include "cli/renderers.h"
#include "cli/rule_command.h"
#include "doc_links.h"
#include "fixture_support.h"
#include "lsp/lsp_client.h"
#include "registry.h"

using namespace oomlint;
namespace fs = std::filesystem;

namespace {

fs::path docs_dir() {
  return test::source_dir() / "docs";
}

std::string source_base() {
  return checks::file_url(docs_dir()) + "/";
}

// A command's exit code and what it printed.
struct Run {
  int rc = 0;
  std::string out, err;
};

Run run_cli(int (*command)(const std::vector<std::string>&), std::vector<std::string> args) {
  std::ostringstream out, err;
  auto* old_out = std::cout.rdbuf(out.rdbuf());
  auto* old_err = std::cerr.rdbuf(err.rdbuf());
  Run r;
  try {
    r.rc = command(args);
  } catch (...) {
    std::cout.rdbuf(old_out);
    std::cerr.rdbuf(old_err);
    throw;
  }
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  r.out = out.str();
  r.err = err.str();
  return r;
}

// Every Markdown link target in `text`.
std::vector<std::string> link_targets(const std::string& text) {
  static const std::regex re(R"re(\]\(([^)\s]*)\))re");
  std::vector<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it)
    out.push_back((*it)[1]);
  return out;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The file in docs/ a link under `base` names; empty when the link is not under `base`.
fs::path page_of(const std::string& url, const std::string& base) {
  if (!url.starts_with(base)) return {};
  std::string rest = url.substr(base.size());
  auto hash = rest.find('#');
  if (hash != std::string::npos) rest.resize(hash);
  return docs_dir() / percent_decode(rest);
}

// Collects links under a base and checks each names an existing page.
struct LinkCheck {
  std::string base;
  std::set<std::string> seen;

  void add(const std::string& url, const std::string& where) {
    INFO(where << " links " << url);
    CHECK(url.starts_with(base));
    fs::path page = page_of(url, base);
    INFO("no such page: " << page.string());
    CHECK(fs::is_regular_file(page));
    seen.insert(url);
  }
  // Every link of a page's Markdown: pages of ours under the base; the rest go elsewhere
  // (https://, mailto:) and none may be left relative.
  void add_markdown(const std::string& text, const std::string& where) {
    for (const auto& t : link_targets(text)) {
      if (t.starts_with(base)) {
        add(t, where);
      } else {
        INFO(where << " keeps the link `" << t << "`: relative links must be made absolute");
        CHECK(t.find("://") != std::string::npos);
        CHECK_FALSE(t.starts_with("file://"));
      }
    }
  }
  // Every string in a JSON value that is a link under the base, and each Markdown string.
  void add_json(const nlohmann::json& j, const std::string& where) {
    if (j.is_string()) {
      auto s = j.get<std::string>();
      if (s.starts_with(base))
        add(s, where);
      else if (s.find("](") != std::string::npos)
        add_markdown(s, where);
      else {
        // A local page outside the base would be a link the base does not govern (SARIF's
        // %SRCROOT% is a file:// directory, not a page).
        INFO(where << ": " << s);
        CHECK_FALSE((s.starts_with("file://") && s.ends_with(".md")));
      }
    } else if (j.is_structured()) {
      for (const auto& v : j)
        add_json(v, where);
    }
  }
};

std::vector<cli::Finding> findings_for(const test::TempDir& tmp, const std::string& rel,
                                       const std::string& text) {
  tmp.write(rel, text);
  checks::Settings settings;
  settings.select = {"OOM203"};
  checks::Engine engine{settings};
  cli::FileJob job;
  job.path = tmp.path() / rel;
  job.absolute = job.path;
  job.display = rel;
  job.engine = &engine;
  return cli::check_file(job, {}).findings;
}

const char* kTrainLoop = "import torch\n"
                         "\n"
                         "def train(model, loader, opt):\n"
                         "    for batch in loader:\n"
                         "        model(batch).sum().backward()\n"
                         "        opt.step()\n"
                         "        torch.cuda.empty_cache()\n";

std::string section_title(std::string_view page) {
  auto eol = page.find('\n');
  std::string first(page.substr(0, eol));
  auto dash = first.find(" \xE2\x80\x94 "); // " — "
  return dash == std::string::npos ? std::string() : first.substr(dash + 5);
}

} // namespace

TEST_CASE("the guide has a page per section M1-M20, each in the same shape, and a contents page",
          "[guide][docs]") {
  auto sections = checks::guide_sections();
  REQUIRE(sections.size() == 20);
  for (int n = 1; n <= 20; ++n) {
    std::string s = "M" + std::to_string(n);
    INFO("docs/guide/" << s << ".md");
    CHECK(sections[static_cast<size_t>(n - 1)] == s);
    std::string page(checks::guide_doc(s));
    REQUIRE_FALSE(page.empty());
    CHECK(page.starts_with("# " + s + " \xE2\x80\x94 "));
    CHECK(page.find("\n**Part:** ") != std::string::npos);
    size_t last = 0;
    for (const char* h :
         {"## Symptom", "## Cause", "## What to do", "## Figures", "## Rules", "## Sources"}) {
      auto pos = page.find(std::string("\n") + h + "\n");
      INFO("needs the headings Symptom, Cause, What to do, Figures, Rules, Sources in this order: "
           << h);
      CHECK(pos != std::string::npos);
      CHECK(pos >= last);
      if (pos != std::string::npos) last = pos;
    }
    // The contents page names each section with its page's title.
    std::string row = "| [" + s + "](" + s + ".md) | " + section_title(page) + " |";
    INFO("docs/guide/README.md needs the row " << row);
    CHECK(std::string(checks::guide_index()).find(row) != std::string::npos);
  }
  CHECK(checks::guide_doc("M21").empty());
  CHECK(checks::guide_doc("README").empty());
}

TEST_CASE("each guide page lists exactly the rules that enforce its section", "[guide][docs]") {
  static const std::regex rule_link(R"re(\[(OOM[0-9]{3})\]\(\.\./rules/(OOM[0-9]{3})\.md\))re");
  for (auto section : checks::guide_sections()) {
    std::string page(checks::guide_doc(section));
    auto from = page.find("\n## Rules\n");
    REQUIRE(from != std::string::npos);
    auto to = page.find("\n## ", from + 1);
    std::string part = page.substr(from, to - from);
    std::set<std::string> listed, expected;
    for (auto it = std::sregex_iterator(part.begin(), part.end(), rule_link);
         it != std::sregex_iterator(); ++it) {
      CHECK((*it)[1] == (*it)[2]);
      listed.insert((*it)[1]);
    }
    for (const auto* r : checks::all_rules()) {
      for (const auto& s : checks::split_sections(r->meta().section))
        if (s == section) expected.insert(std::string(r->meta().code));
    }
    INFO("## Rules of docs/guide/" << section << ".md lists each rule whose kMeta.section names "
                                   << section << " as [OOMnnn](../rules/OOMnnn.md)");
    CHECK(listed == expected);
    if (expected.empty()) CHECK(part.find("No rule checks this section") != std::string::npos);
  }
}

TEST_CASE("guide sections are named M7, m7, 7 or M07", "[guide]") {
  CHECK(checks::normalize_section("M7") == "M7");
  CHECK(checks::normalize_section("m7") == "M7");
  CHECK(checks::normalize_section("7") == "M7");
  CHECK(checks::normalize_section("M07") == "M7");
  CHECK(checks::normalize_section("20") == "M20");
  CHECK(checks::normalize_section("M21").empty());
  CHECK(checks::normalize_section("M0").empty());
  CHECK(checks::normalize_section("").empty());
  CHECK(checks::normalize_section("M").empty());
  CHECK(checks::normalize_section("M7x").empty());
  CHECK(checks::normalize_section("README").empty());
  CHECK(checks::split_sections("M9/M10") == std::vector<std::string>{"M9", "M10"});
  CHECK(checks::split_sections("M7") == std::vector<std::string>{"M7"});
}

TEST_CASE("oomlint guide prints the contents or a section, and exits 2 for an unknown one",
          "[guide][cli]") {
  Run toc = run_cli(cli::run_guide, {});
  CHECK(toc.rc == 0);
  CHECK(toc.out.starts_with("# The memory guide\n"));
  // Links made absolute: the section's page under the default base.
  CHECK(toc.out.find("[M7](" + checks::default_docs_base() + "guide/M7.md)") != std::string::npos);
  Run m7 = run_cli(cli::run_guide, {"M7"});
  CHECK(m7.rc == 0);
  CHECK(m7.out.starts_with("# M7 \xE2\x80\x94 Activation (gradient) checkpointing\n"));
  CHECK(m7.out.find("[OOM071](" + checks::default_docs_base() + "rules/OOM071.md)") !=
        std::string::npos);
  for (const char* alias : {"m7", "7", "M07"}) {
    INFO(alias);
    Run r = run_cli(cli::run_guide, {alias});
    CHECK(r.rc == 0);
    CHECK(r.out == m7.out);
  }
  for (const char* bad : {"M21", "M0", "memory", "OOM071"}) {
    INFO(bad);
    Run r = run_cli(cli::run_guide, {bad});
    CHECK(r.rc == 2);
    CHECK(r.out.empty());
    CHECK(r.err.find(std::string("unknown guide section `") + bad + "`") != std::string::npos);
    CHECK(r.err.find("M1 to M20") != std::string::npos);
  }
  Run hosted = run_cli(cli::run_guide, {"M20", "--docs-url", "https://example.org/oomlint/docs"});
  CHECK(hosted.rc == 0);
  CHECK(hosted.out.find("[OOM203](https://example.org/oomlint/docs/rules/OOM203.md)") !=
        std::string::npos);
  CHECK(hosted.out.find("file://") == std::string::npos);
}

TEST_CASE("the docs base: installed docs next to bin/, else the source tree, else hosted",
          "[guide][links]") {
  test::TempDir tmp;
  auto make_tree = [&](const std::string& dir) {
    tmp.write(dir + "/guide/README.md", "# The memory guide\n");
    tmp.write(dir + "/rules/OOM203.md", "# OOM203\n");
  };
  make_tree("prefix/share/doc/oomlint");
  make_tree("src/docs");
  checks::DocsLocations where;
  where.executable = tmp.path() / "prefix" / "bin" / "oomlint";
  where.source_docs = tmp.path() / "src" / "docs";
  where.hosted = "https://example.org/docs";
  CHECK(checks::docs_base_for(where) ==
        checks::file_url(tmp.path() / "prefix/share/doc/oomlint") + "/");
  // A wheel installed in a virtual environment.
  make_tree("venv/lib/python3.11/site-packages/oomlint/docs");
  where.executable = tmp.path() / "venv" / "bin" / "oomlint";
  CHECK(checks::docs_base_for(where) ==
        checks::file_url(tmp.path() / "venv/lib/python3.11/site-packages/oomlint/docs") + "/");
  where.executable = tmp.path() / "elsewhere" / "bin" / "oomlint";
  CHECK(checks::docs_base_for(where) == checks::file_url(tmp.path() / "src/docs") + "/");
  // A folder without the guide is not a docs tree.
  where.source_docs = tmp.path() / "prefix";
  CHECK(checks::docs_base_for(where) == "https://example.org/docs/");
  where.source_docs.clear();
  where.executable.clear();
  CHECK(checks::docs_base_for(where) == "https://example.org/docs/");
  // This test binary is not installed: its links go to the source tree it was built from.
  CHECK(checks::default_docs_base() == source_base());
  CHECK(checks::rule_url("OOM071") == source_base() + "rules/OOM071.md");
  CHECK(checks::file_url("/a b/c%") == "file:///a%20b/c%25");
}

TEST_CASE("a docs-url setting is a URL or a directory", "[guide][links]") {
  CHECK(checks::docs_base_from_setting("https://example.org/d", {}) == "https://example.org/d/");
  CHECK(checks::docs_base_from_setting(" https://example.org/d/ ", {}) == "https://example.org/d/");
  CHECK(checks::docs_base_from_setting("/opt/oomlint/docs", {}) == "file:///opt/oomlint/docs/");
  CHECK(checks::docs_base_from_setting("docs", "/repo") == "file:///repo/docs/");
  CHECK(checks::docs_base_from_setting("../docs/", "/repo/sub") == "file:///repo/docs/");
  CHECK_FALSE(checks::docs_base_from_setting("", "/repo"));
  CHECK_FALSE(checks::docs_base_from_setting("  ", "/repo"));
  CHECK(checks::docs_base(std::nullopt) == checks::default_docs_base());
  CHECK(checks::docs_base(std::string("")) == checks::default_docs_base());
  CHECK(checks::docs_base(std::string("https://h/x")) == "https://h/x/");
}

TEST_CASE("relative links of a page are made absolute, other links are left alone",
          "[guide][links]") {
  const std::string base = "https://h/docs/";
  std::string md = "**Guide section:** [M9](../guide/M9.md)/[M10](../guide/M10.md) · x\n"
                   "see [M4](M4.md#ladder), [ext](https://a.b/c), [top](#top), [abs](/etc/x)\n"
                   "```python\nx = a[0](b)\n```\n"
                   "[out](../../etc/passwd)\n";
  std::string rules = checks::absolute_doc_links(md, "rules/", base);
  CHECK(rules.find("[M9](https://h/docs/guide/M9.md)/[M10](https://h/docs/guide/M10.md)") !=
        std::string::npos);
  CHECK(rules.find("[M4](https://h/docs/rules/M4.md#ladder)") != std::string::npos);
  CHECK(rules.find("[ext](https://a.b/c)") != std::string::npos);
  CHECK(rules.find("[top](#top)") != std::string::npos);
  CHECK(rules.find("[abs](/etc/x)") != std::string::npos);
  CHECK(rules.find("x = a[0](b)") != std::string::npos);             // code is not Markdown
  CHECK(rules.find("[out](../../etc/passwd)") != std::string::npos); // leaves the tree: as is
  std::string guide =
      checks::absolute_doc_links("[M4](M4.md) [r](../rules/OOM011.md)", "guide/", base);
  CHECK(guide == "[M4](https://h/docs/guide/M4.md) [r](https://h/docs/rules/OOM011.md)");
}

TEST_CASE("no dead links: every link oomlint emits leads to a page in docs/", "[guide][links]") {
  LinkCheck links{source_base(), {}};
  REQUIRE(checks::default_docs_base() == links.base);
  // Rule pages and guide pages as `oomlint rule` and `oomlint guide` print them.
  for (const auto* r : checks::all_rules()) {
    std::string code(r->meta().code);
    links.add(checks::rule_url(code), code + " rule_url");
    for (const auto& s : checks::split_sections(r->meta().section))
      links.add(checks::guide_url(s, links.base), code + " guide_url");
    Run text = run_cli(cli::run_rule, {code});
    REQUIRE(text.rc == 0);
    links.add_markdown(text.out, "oomlint rule " + code);
    // The header line renders the section as a link to its page.
    for (const auto& s : checks::split_sections(r->meta().section)) {
      INFO("oomlint rule " << code << " links its section " << s);
      CHECK(text.out.find("[" + s + "](" + checks::guide_url(s, links.base) + ")") !=
            std::string::npos);
    }
    Run as_json = run_cli(cli::run_rule, {code, "--output-format", "json"});
    REQUIRE(as_json.rc == 0);
    auto j = nlohmann::json::parse(as_json.out);
    CHECK(j["guide"].size() == checks::split_sections(r->meta().section).size());
    links.add_json(j, "oomlint rule --output-format json " + code);
  }
  Run all = run_cli(cli::run_rule, {"--all", "--output-format", "json"});
  links.add_json(nlohmann::json::parse(all.out), "oomlint rule --all");
  Run toc = run_cli(cli::run_guide, {});
  links.add_markdown(toc.out, "oomlint guide");
  for (auto s : checks::guide_sections()) {
    Run page = run_cli(cli::run_guide, {std::string(s)});
    links.add_markdown(page.out, "oomlint guide " + std::string(s));
  }
  // `oomlint check`: json's url, SARIF's helpUri and help text of every rule.
  test::TempDir tmp;
  auto f = findings_for(tmp, "t.py", kTrainLoop);
  REQUIRE(f.size() == 1);
  for (auto format : {cli::OutputFormat::Json, cli::OutputFormat::Sarif}) {
    std::ostringstream out;
    cli::RenderOptions o;
    o.format = format;
    o.sarif_root = tmp.path();
    cli::render_findings(out, f, o);
    links.add_json(nlohmann::json::parse(out.str()), "check output");
  }
  // The language server: codeDescription and the hover.
  lsp::test::LspClient c;
  c.initialize();
  c.open("file:///work/train.py", lsp::test::kTrainPy);
  auto d = c.last_diagnostics("file:///work/train.py")["diagnostics"];
  REQUIRE(d.size() == 1);
  links.add(d[0]["codeDescription"]["href"].get<std::string>(), "codeDescription");
  auto h = c.call("textDocument/hover", {{"textDocument", {{"uri", "file:///work/train.py"}}},
                                         {"position", {{"line", 5}, {"character", 15}}}});
  std::string hover = h["contents"]["value"];
  CHECK(hover.find("[guide M20](" + checks::guide_url("M20", links.base) + ")") !=
        std::string::npos);
  links.add_markdown(hover, "hover");
  // Every rule page and every guide page was reached.
  for (const auto* r : checks::all_rules())
    CHECK(links.seen.count(checks::rule_url(r->meta().code)) == 1);
  for (auto s : checks::guide_sections())
    CHECK(links.seen.count(checks::guide_url(s, links.base)) == 1);
}

TEST_CASE("docs-url points the links at a hosted copy: command line, config file, editor",
          "[guide][links]") {
  const std::string hosted = "https://example.org/oomlint/docs/";
  // oomlint rule --docs-url: every link is under the hosted copy and names a page that exists.
  LinkCheck links{hosted, {}};
  Run r = run_cli(cli::run_rule, {"OOM091", "--docs-url", "https://example.org/oomlint/docs"});
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("[M9](" + hosted + "guide/M9.md)/[M10](" + hosted + "guide/M10.md)") !=
        std::string::npos);
  links.add_markdown(r.out, "oomlint rule --docs-url");
  CHECK(r.out.find("file://") == std::string::npos);
  // check's renderers.
  test::TempDir tmp;
  auto f = findings_for(tmp, "t.py", kTrainLoop);
  REQUIRE(f.size() == 1);
  std::ostringstream out;
  cli::RenderOptions o;
  o.format = cli::OutputFormat::Sarif;
  o.sarif_root = tmp.path();
  o.docs_base = hosted;
  cli::render_findings(out, f, o);
  links.add_json(nlohmann::json::parse(out.str()), "sarif with docs-url");
  CHECK(out.str().find(hosted + "rules/OOM203.md") != std::string::npos);
  // The config file's key; the command line wins over it.
  auto cfg = cli::parse_config("docs-url = \"../docs\"\n", tmp.path() / "sub" / "oomlint.toml");
  REQUIRE(cfg);
  REQUIRE(cfg->docs_url);
  CHECK(cli::resolve_docs_base("", &*cfg) == checks::file_url(tmp.path() / "docs") + "/");
  CHECK(cli::resolve_docs_base("https://x.org/d", &*cfg) == "https://x.org/d/");
  CHECK(cli::resolve_docs_base("", nullptr) == checks::default_docs_base());
  CHECK_THROWS_AS(cli::parse_config("docs-url = 3\n", tmp.path() / "oomlint.toml"),
                  cli::ConfigError);
  CHECK_THROWS_AS(cli::parse_config("docs-url = \"\"\n", tmp.path() / "oomlint.toml"),
                  cli::ConfigError);
  // The language server: initializationOptions, then didChangeConfiguration, then unset.
  lsp::test::LspClient c;
  c.initialize(nlohmann::json::object(), {{"docsUrl", "https://example.org/oomlint/docs"}});
  const std::string uri = "file:///work/train.py";
  c.open(uri, lsp::test::kTrainPy);
  auto d = c.last_diagnostics(uri)["diagnostics"];
  REQUIRE(d.size() == 1);
  CHECK(d[0]["codeDescription"]["href"] == hosted + "rules/OOM203.md");
  auto hover = c.call("textDocument/hover", {{"textDocument", {{"uri", uri}}},
                                             {"position", {{"line", 5}, {"character", 15}}}});
  std::string md = hover["contents"]["value"];
  CHECK(md.find("[guide M20](" + hosted + "guide/M20.md)") != std::string::npos);
  links.add_markdown(md, "hover with docsUrl");
  c.notify("workspace/didChangeConfiguration",
           {{"settings", {{"oomlint", {{"docsUrl", "https://other.org/d/"}}}}}});
  c.run_pending();
  CHECK(c.last_diagnostics(uri)["diagnostics"][0]["codeDescription"]["href"] ==
        "https://other.org/d/rules/OOM203.md");
  c.notify("workspace/didChangeConfiguration", {{"settings", nlohmann::json::object()}});
  c.run_pending();
  CHECK(c.last_diagnostics(uri)["diagnostics"][0]["codeDescription"]["href"] ==
        checks::rule_url("OOM203"));
}

TEST_CASE("a workspace folder's config file sets docs-url for its documents", "[guide][links]") {
  test::TempDir tmp;
  tmp.write("oomlint.toml", "docs-url = \"https://example.org/team/docs\"\n");
  std::string folder = "file://" + tmp.path().string();
  std::string uri = folder + "/train.py";
  lsp::test::LspClient c;
  c.initialize(nlohmann::json::object(), nullptr,
               nlohmann::json::array({{{"uri", folder}, {"name", "w"}}}));
  c.open(uri, lsp::test::kTrainPy);
  auto d = c.last_diagnostics(uri)["diagnostics"];
  REQUIRE(d.size() == 1);
  CHECK(d[0]["codeDescription"]["href"] == "https://example.org/team/docs/rules/OOM203.md");
  // A document outside the folder keeps the default.
  c.open("file:///elsewhere/train.py", lsp::test::kTrainPy);
  CHECK(c.last_diagnostics(
            "file:///elsewhere/train.py")["diagnostics"][0]["codeDescription"]["href"] ==
        checks::rule_url("OOM203"));
}

TEST_CASE("a code without a page (OOM001 unused-noqa) gets no link rather than a dead one",
          "[guide][links]") {
  REQUIRE(checks::rule_doc("OOM001").empty());
  lsp::test::LspClient c;
  c.initialize(nlohmann::json::object(), {{"extendSelect", {"OOM001"}}});
  const std::string uri = "file:///work/noqa.py";
  c.open(uri, "import torch\nx = 1  # noqa: OOM203\n");
  auto d = c.last_diagnostics(uri)["diagnostics"];
  REQUIRE(d.size() == 1);
  CHECK(d[0]["code"] == "OOM001");
  CHECK_FALSE(d[0].contains("codeDescription"));
  auto h = c.call("textDocument/hover",
                  {{"textDocument", {{"uri", uri}}}, {"position", d[0]["range"]["start"]}});
  REQUIRE(h.is_object());
  std::string md = h["contents"]["value"];
  CHECK(md.find("OOM001") != std::string::npos);
  CHECK(md.find("](") == std::string::npos);
}
