// The catalogue's consistency: codes, slugs, rule files, doc pages (their header line, headings
// and examples), what the fixtures show of each rule's fix, the fixtures' size, the README table.
// Every failure says what to change; CONTRIBUTING.md describes the same requirements.
#include <catch2/catch.hpp>

#include <cctype>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "engine/engine.h"
#include "fixture_support.h"
#include "registry.h"
#include "tool_commands.h"

using namespace oomlint;
namespace fs = std::filesystem;

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

// How negative cases are counted, for the messages.
constexpr const char* kNegativesRule =
    "a negative case is a top-level statement after the `# ---- negatives ----` marker (a def or "
    "a class counts once with its body; imports, decorators, comments and blank lines do not "
    "count)";

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

std::string doc_path(std::string_view code) {
  return "docs/rules/" + std::string(code) + ".md";
}

// checks/rules/<slug with `_` for `-`>.cpp
std::string rule_file(std::string_view slug) {
  std::string name(slug);
  for (char& c : name)
    if (c == '-') c = '_';
  return "checks/rules/" + name + ".cpp";
}

std::string_view availability_name(checks::FixAvailability f) {
  switch (f) {
  case checks::FixAvailability::None:
    return "FixAvailability::None";
  case checks::FixAvailability::Sometimes:
    return "FixAvailability::Sometimes";
  case checks::FixAvailability::Always:
    return "FixAvailability::Always";
  }
  return "?";
}

// The header line of a rule page, its third line:
//   **Memory bucket:** B · **Guide section:** Mnn · **Severity:** s · **Fix:** f
// A severity may be followed by a note in parentheses: `warning (error once CUDA is in use)`.
constexpr const char* kHeaderFormat = "**Memory bucket:** … · **Guide section:** "
                                      "[Mnn](../guide/Mnn.md) · **Severity:** error|warning|info "
                                      "· **Fix:** none|safe (…)|unsafe (…)";

// The **Guide section:** field: one link per section, `/` between them:
//   [M7](../guide/M7.md)    [M9](../guide/M9.md)/[M10](../guide/M10.md)
struct SectionLinks {
  std::string text;                                       // the sections: M7, M9/M10
  std::vector<std::pair<std::string, std::string>> links; // (section, target)
  std::string problem;                                    // empty when well formed
};

SectionLinks parse_section_links(const std::string& field) {
  SectionLinks out;
  const std::regex link_re(R"re(\[([^\]]*)\]\(([^)]*)\))re");
  size_t at = 0;
  while (at < field.size()) {
    std::smatch m;
    std::string rest = field.substr(at);
    if (!std::regex_search(rest, m, link_re, std::regex_constants::match_continuous)) {
      out.problem = "`" + rest + "` is not a link [Mnn](../guide/Mnn.md)";
      return out;
    }
    out.links.emplace_back(m[1], m[2]);
    if (!out.text.empty()) out.text += "/";
    out.text += m[1];
    at += m.length(0);
    if (at < field.size()) {
      if (field[at] != '/') {
        out.problem = "links to two sections are separated by `/`";
        return out;
      }
      ++at;
    }
  }
  if (out.links.empty()) out.problem = "no link";
  return out;
}

struct DocHeader {
  bool found = false;
  std::string bucket, section, severity, fix;
};

DocHeader parse_header(const std::string& doc) {
  DocHeader h;
  std::istringstream in(doc);
  std::string line;
  for (int i = 0; i < 3 && std::getline(in, line); ++i) {
  }
  const std::string sep = " \xC2\xB7 "; // " · "
  const char* prefixes[] = {"**Memory bucket:** ", "**Guide section:** ", "**Severity:** ",
                            "**Fix:** "};
  std::string* fields[] = {&h.bucket, &h.section, &h.severity, &h.fix};
  size_t at = 0;
  for (size_t i = 0; i < 4; ++i) {
    if (line.compare(at, std::string_view(prefixes[i]).size(), prefixes[i]) != 0) return h;
    at += std::string_view(prefixes[i]).size();
    size_t end = i < 3 ? line.find(sep, at) : line.size();
    if (end == std::string::npos) return h;
    *fields[i] = line.substr(at, end - at);
    at = end + sep.size();
  }
  h.found = true;
  return h;
}

// The **Fix:** wording (the convention CONTRIBUTING.md states):
//   none | none (a note)          FixAvailability::None
//   safe (what the fix does)      Always; the fixes are safe
//   unsafe (what the fix does)    Always; the fixes are unsafe
// Sometimes when the parentheses, outside `code`, say when there is a fix with one of the words
// below; Always when they have none of them. Naming the other applicability in them
// (`safe (…; unsafe for a `.half()` model)`) says that fixes of both kinds occur.
const std::set<std::string> kConditionWords = {"when",   "where", "if",
                                               "unless", "only",  "sometimes"};
constexpr const char* kConditionList = "`when`, `where`, `if`, `unless`, `only` or `sometimes`";

struct FixWording {
  bool valid = false;
  std::string kind;            // none, safe, unsafe
  bool conditional = false;    // a condition word in the parentheses
  std::set<std::string> named; // applicabilities named: the kind and any in the parentheses
  std::string problem;         // when !valid
};

FixWording parse_fix(const std::string& fix) {
  FixWording w;
  size_t open = fix.find(" (");
  w.kind = fix.substr(0, open);
  if (w.kind != "none" && w.kind != "safe" && w.kind != "unsafe") {
    w.problem = "starts with `" + w.kind + "`; write `none`, `safe (…)` or `unsafe (…)`";
    return w;
  }
  std::string inner;
  if (open != std::string::npos) {
    if (fix.back() != ')') {
      w.problem = "does not end with `)`";
      return w;
    }
    inner = fix.substr(open + 2, fix.size() - open - 3);
  } else if (w.kind != "none") {
    w.problem = "says `" + w.kind + "` alone; say what the fix does in parentheses: `" + w.kind +
                " (adds …)`";
    return w;
  }
  // Words outside backquoted code, lower-cased.
  std::string prose;
  bool in_code = false;
  for (char c : inner) {
    if (c == '`') {
      in_code = !in_code;
      prose += ' ';
    } else {
      prose += in_code ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  std::string word;
  w.named.insert(w.kind);
  for (char& c : prose)
    if (!std::isalpha(static_cast<unsigned char>(c))) c = ' ';
  std::istringstream split(prose);
  while (split >> word) {
    if (kConditionWords.count(word)) w.conditional = true;
    if (word == "safe" || word == "unsafe") w.named.insert(word);
  }
  w.valid = true;
  return w;
}

// What the fixtures of one rule show of its fixes.
struct FixEvidence {
  size_t with = 0, without = 0;
  std::map<std::string, std::string> first_of_kind; // applicability -> first `file:line`
  std::string first_with, first_without;
  std::set<std::string> fixtures;
};

std::map<std::string, FixEvidence> fix_evidence() {
  std::map<std::string, FixEvidence> out;
  for (const auto& path : test::fixture_files()) {
    auto f = test::load_fixture(path);
    if (checks::find_rule(f.code) == nullptr) continue; // fixtures_test names it
    FixEvidence& e = out[f.code];
    e.fixtures.insert(path.filename().string());
    checks::Engine engine(f.settings);
    for (const auto& d : engine.check(f.text)) {
      std::string where = path.filename().string() + ":" + std::to_string(d.start_pos.line);
      if (!d.fix) {
        if (e.without++ == 0) e.first_without = where;
        continue;
      }
      if (e.with++ == 0) e.first_with = where;
      e.first_of_kind.emplace(checks::to_string(d.fix->applicability), where);
    }
  }
  return out;
}

std::string joined(const std::set<std::string>& items) {
  std::string out;
  for (const auto& s : items)
    out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "(none)" : out;
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
    std::string code(m.code), section(m.section), slug(m.slug);
    INFO(code << " (" << rule_file(slug) << ")");
    std::smatch cm, sm;
    {
      INFO("kMeta.code must be OOM, the two digits of the guide section, and a digit (M5: OOM05x, "
           "M20: OOM20x)");
      REQUIRE(std::regex_match(code, cm, code_re));
    }
    {
      INFO("kMeta.slug must be kebab case of two words or more: `empty-cache-in-loop`");
      CHECK(std::regex_match(slug, slug_re));
    }
    {
      INFO("kMeta.section must be a guide section, M1 to M20 (`M9/M10` for two)");
      REQUIRE(std::regex_match(section, sm, section_re));
    }
    {
      INFO("the code's two digits must be the section's number: "
           << section << " wants OOM" << (std::stoi(sm[1]) < 10 ? "0" : "") << sm[1] << "x");
      CHECK(std::stoi(cm[1]) == std::stoi(sm[1]));
    }
    {
      INFO("another rule already has this code: pick the next free digit");
      CHECK(codes.insert(m.code).second);
    }
    {
      INFO("another rule already has this slug: name the pattern differently");
      CHECK(slugs.insert(m.slug).second);
    }
    {
      INFO("kMeta.summary is empty: say in one line what the rule finds");
      CHECK_FALSE(m.summary.empty());
    }
    {
      INFO("kKinds is empty: list the node kinds check() is called for (`module` for the file)");
      CHECK_FALSE(rules[i]->node_kinds().empty());
    }
    if (i > 0) CHECK(rules[i - 1]->meta().code < m.code);
    CHECK(checks::find_rule(m.code) == rules[i]);
    CHECK(checks::find_rule(m.slug) == rules[i]);
  }
}

TEST_CASE("each file in checks/rules is one registered rule named after its slug", "[registry]") {
  // A file's slug and code, read from its kMeta as written.
  const std::regex slug_re(R"re(\.slug\s*=\s*"([^"]*)")re");
  const std::regex code_re(R"re(\.code\s*=\s*"([^"]*)")re");
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(test::source_dir() / "checks" / "rules")) {
    if (e.path().extension() != ".cpp") continue;
    std::string file = "checks/rules/" + e.path().filename().string();
    files.insert(file);
    INFO(file);
    std::string text = test::read_file(e.path());
    std::smatch sm, cm;
    if (!std::regex_search(text, sm, slug_re) || !std::regex_search(text, cm, code_re)) {
      FAIL_CHECK("no `.code = \"…\"` and `.slug = \"…\"` in a kMeta: every file in checks/rules/ "
                 "is one rule (RuleBase, kMeta, kKinds, needs(), check, OOMLINT_REGISTER_RULE); "
                 "shared helpers belong in checks/facts/");
      continue;
    }
    std::string slug = sm[1], code = cm[1];
    const checks::Rule* rule = checks::find_rule(slug);
    if (rule == nullptr) {
      FAIL_CHECK("declares " << code << " `" << slug
                             << "`, but no registered rule has that slug: end the file with "
                                "OOMLINT_REGISTER_RULE(YourRuleClass), at file scope");
      continue;
    }
    INFO("the registered rule `" << slug << "` is " << rule->meta().code
                                 << ": its kMeta holds one code and one slug");
    CHECK(rule->meta().code == code);
    INFO("a rule file is named after its slug: rename " << file << " to " << rule_file(slug)
                                                        << " (git mv)");
    CHECK(file == rule_file(slug));
  }
  for (const auto* rule : checks::all_rules()) {
    INFO(rule->meta().code << " `" << rule->meta().slug << "` is registered, but there is no "
                           << rule_file(rule->meta().slug)
                           << ": name the rule's file after its slug");
    CHECK(files.count(rule_file(rule->meta().slug)) == 1);
  }
}

TEST_CASE("every rule has a complete doc page whose example fires and whose fix does not",
          "[registry][docs]") {
  for (const auto* rule : checks::all_rules()) {
    const auto& m = rule->meta();
    std::string page = doc_path(m.code);
    INFO(page);
    std::string doc(checks::rule_doc(m.code));
    {
      INFO("there is no " << page << ": write it (tools/new-rule.sh makes a skeleton)");
      REQUIRE_FALSE(doc.empty());
    }
    std::string title = "# " + std::string(m.code) + " `" + std::string(m.slug) + "`";
    {
      INFO("the page's first line must be " << title);
      CHECK(doc.rfind(title + "\n", 0) == 0);
    }
    size_t last = 0;
    const char* headings[] = {"## What it finds", "## Why it matters", "## Example", "## Fixed",
                              "## Fix safety"};
    for (const char* h : headings) {
      auto pos = doc.find(std::string("\n") + h + "\n");
      INFO("the page needs the headings ## What it finds, ## Why it matters, ## Example, ## "
           "Fixed, ## Fix safety, each on a line of its own, in this order; "
           << h << (pos == std::string::npos ? " is missing" : " is out of order"));
      CHECK(pos != std::string::npos);
      CHECK(pos >= last);
      if (pos != std::string::npos) last = pos;
    }
    auto settings = doc_settings(doc, m.code);
    checks::Engine engine(settings);
    std::string example = code_block_after(doc, "## Example");
    std::string fixed = code_block_after(doc, "## Fixed");
    {
      INFO("## Example and ## Fixed each need a ```python block");
      REQUIRE_FALSE(example.empty());
      REQUIRE_FALSE(fixed.empty());
    }
    {
      INFO("the ## Example block must make " << m.code
                                             << " report (settings it needs go in a "
                                                "`<!-- oomlint-test: key=value -->` comment)");
      CHECK_FALSE(engine.check(example).empty());
    }
    {
      INFO("the ## Fixed block must not make " << m.code << " report");
      CHECK(engine.check(fixed).empty());
    }
  }
}

TEST_CASE("each doc page's header line matches the rule's declaration", "[registry][docs]") {
  for (const auto* rule : checks::all_rules()) {
    const auto& m = rule->meta();
    std::string page = doc_path(m.code), file = rule_file(m.slug);
    INFO(page << " (the rule: " << file << ")");
    std::string doc(checks::rule_doc(m.code));
    if (doc.empty()) continue; // the test above names it
    auto h = parse_header(doc);
    if (!h.found) {
      FAIL_CHECK("the page's third line (after the title and a blank line) must be\n  "
                 << kHeaderFormat << "\nwith those labels and ` · ` between the fields");
      continue;
    }
    auto sections = parse_section_links(h.section);
    {
      INFO("**Guide section:** " << h.section << ": " << sections.problem
                                 << "; write the section as a link to its guide page, "
                                    "[M7](../guide/M7.md), or [M9](../guide/M9.md)/"
                                    "[M10](../guide/M10.md) for two");
      CHECK(sections.problem.empty());
    }
    {
      INFO("**Guide section:** says " << sections.text << " but kMeta.section is " << m.section
                                      << ": make them the same");
      CHECK(sections.text == m.section);
    }
    for (const auto& [section, target] : sections.links) {
      INFO("**Guide section:** links " << section << " to " << target << ": write ../guide/"
                                       << section << ".md, the page of that section");
      CHECK(target == "../guide/" + section + ".md");
      fs::path guide_page = test::source_dir() / "docs" / "rules" / target;
      INFO(guide_page.lexically_normal().string() << " does not exist");
      CHECK(fs::is_regular_file(guide_page));
    }
    std::string severity = h.severity.substr(0, h.severity.find(' '));
    {
      INFO("**Severity:** says " << severity << " but kMeta.severity is "
                                 << checks::to_string(m.severity)
                                 << ": make them the same (a note may follow in parentheses)");
      CHECK(severity == checks::to_string(m.severity));
    }
    auto w = parse_fix(h.fix);
    if (!w.valid) {
      FAIL_CHECK("**Fix:** " << h.fix << "\n" << w.problem);
      continue;
    }
    INFO("**Fix:** " << h.fix);
    switch (m.fix) {
    case checks::FixAvailability::None: {
      INFO("the rule declares FixAvailability::None: write `none`, or declare Always or "
           "Sometimes in kMeta.fix if it has a fix");
      CHECK(w.kind == "none");
      break;
    }
    case checks::FixAvailability::Always: {
      INFO("the rule declares FixAvailability::Always: write `safe (…)` or `unsafe (…)` saying "
           "what the fix does, without "
           << kConditionList
           << " (those words mean the fix is not always there: then declare Sometimes)");
      CHECK(w.kind != "none");
      CHECK_FALSE(w.conditional);
      break;
    }
    case checks::FixAvailability::Sometimes: {
      INFO("the rule declares FixAvailability::Sometimes: write `safe (…)` or `unsafe (…)` "
           "saying what the fix does and when there is one, with "
           << kConditionList
           << " (outside backquotes): `unsafe (adds `truncation=True`, unless …)`");
      CHECK(w.kind != "none");
      CHECK(w.conditional);
      break;
    }
    }
  }
}

TEST_CASE("each rule's fixes in its fixtures are what it declares and its page names",
          "[registry][fixtures]") {
  auto evidence = fix_evidence();
  for (const auto* rule : checks::all_rules()) {
    const auto& m = rule->meta();
    std::string code(m.code);
    const FixEvidence& e = evidence[code];
    INFO(code << " declares " << availability_name(m.fix) << " (" << rule_file(m.slug)
              << "); its fixtures (" << joined(e.fixtures) << ") give " << e.with
              << " diagnostics with a fix and " << e.without << " without");
    switch (m.fix) {
    case checks::FixAvailability::None: {
      INFO(e.first_with << " has a fix: declare Sometimes or Always in kMeta.fix (and say so on "
                        << doc_path(code) << "'s **Fix:** line)");
      CHECK(e.with == 0);
      break;
    }
    case checks::FixAvailability::Always: {
      {
        INFO(e.first_without << " has no fix: declare FixAvailability::Sometimes (and say when "
                                "there is a fix on the **Fix:** line), or make the fix "
                                "unconditional");
        CHECK(e.without == 0);
      }
      INFO("no diagnostic at all: add positive cases (`# expect: " << code << "`)");
      CHECK(e.with > 0);
      break;
    }
    case checks::FixAvailability::Sometimes: {
      INFO("Sometimes needs a positive case with a fix and one without in the fixtures: add the "
           "missing kind, or declare Always (every report has a fix) or None (none has)");
      CHECK(e.with > 0);
      CHECK(e.without > 0);
      break;
    }
    }
    // The applicability the page names: the fixes must carry exactly those.
    auto h = parse_header(std::string(checks::rule_doc(code)));
    if (!h.found || e.with == 0) continue;
    auto w = parse_fix(h.fix);
    if (!w.valid || w.kind == "none") continue; // the header test names it
    std::set<std::string> seen;
    for (const auto& [kind, where] : e.first_of_kind)
      seen.insert(kind);
    for (const auto& [kind, where] : e.first_of_kind) {
      INFO(doc_path(code) << "'s **Fix:** " << h.fix << " names " << joined(w.named) << ", but "
                          << where << " has " << (kind == "unsafe" ? "an " : "a ") << kind
                          << " fix: name it (`safe (…; unsafe for …)` when both occur), or "
                             "change the applicability the rule gives the fix");
      CHECK(w.named.count(kind) == 1);
    }
    for (const auto& kind : w.named) {
      INFO(doc_path(code) << "'s **Fix:** " << h.fix << " names " << kind
                          << " fixes, but the fixtures have none: drop it from the wording, or "
                             "add a positive case with such a fix");
      CHECK(seen.count(kind) == 1);
    }
  }
}

TEST_CASE("no rule file, page or fixture keeps a TODO", "[registry]") {
  // tools/new-rule.sh marks with TODO what a contributor writes in its skeletons.
  const std::pair<const char*, const char*> places[] = {
      {"checks/rules", ".cpp"}, {"docs/rules", ".md"}, {"tests/fixtures", ".py"}};
  for (auto [dir, ext] : places) {
    for (const auto& e : fs::directory_iterator(test::source_dir() / dir)) {
      if (e.path().extension() != ext) continue;
      std::istringstream in(test::read_file(e.path()));
      std::string line;
      for (int no = 1; std::getline(in, line); ++no) {
        if (line.find("TODO") == std::string::npos) continue;
        FAIL_CHECK(dir << "/" << e.path().filename().string() << ":" << no << " still has a TODO "
                       << "of tools/new-rule.sh's skeleton: write what it asks for\n  " << line);
      }
    }
  }
}

TEST_CASE("every doc page belongs to a rule", "[registry][docs]") {
  for (const auto& e : fs::directory_iterator(test::source_dir() / "docs" / "rules")) {
    auto name = e.path().stem().string();
    INFO("docs/rules/" << e.path().filename().string() << " names no registered rule "
                       << "(a page is named after its rule's code): rename or remove it");
    CHECK(checks::find_rule(name) != nullptr);
  }
}

TEST_CASE("every rule has fixtures with at least 6 positive and 6 negative cases",
          "[registry][fixtures]") {
  auto files = test::fixture_files();
  for (const auto* rule : checks::all_rules()) {
    std::string code(rule->meta().code);
    size_t positives = 0, negatives = 0;
    std::set<std::string> names;
    for (const auto& f : files) {
      if (f.filename().string().rfind(code, 0) != 0) continue;
      names.insert(f.filename().string());
      auto fx = test::load_fixture(f);
      for (const auto& [line, codes] : fx.expected)
        positives += codes.size();
      negatives += count_negative_cases(fx.text);
    }
    INFO(code << "'s fixtures (tests/fixtures/" << code << "*.py: " << joined(names) << ") have "
              << positives << " positive and " << negatives
              << " negative cases; each rule needs at least 6 of each. A positive case is a code "
                 "after `# expect:` on the line where the diagnostic starts; "
              << kNegativesRule);
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
