// The prefilter: the CNF semantics of Rule::needs() in Engine::active_rules, and, per rule, that
// the rule's needs never hide a diagnostic of the fixtures or the examples.
#include <catch2/catch.hpp>

#include <array>
#include <filesystem>
#include <string>
#include <tuple>
#include <vector>

#include "engine.h"
#include "fixture_support.h"
#include "registry.h"
#include "rule.h"
#include "rules/model_outputs.h"

using namespace oomlint;
using checks::Node;

namespace {

constexpr std::array<std::string_view, 1> kCall{"call"};

// A rule that reports every call; only its needs() differ between instances.
class NeedsRule final : public checks::Rule {
public:
  NeedsRule(std::string_view code, std::span<const std::string_view> needs)
      : meta_{code,  "needs-rule", "M20", checks::Severity::Info, checks::FixAvailability::None,
              "test"},
        needs_(needs) {}
  const checks::RuleMeta& meta() const override { return meta_; }
  std::span<const std::string_view> node_kinds() const override { return kCall; }
  std::span<const std::string_view> needs() const override { return needs_; }
  void check(Node call, checks::Context& cx) const override { cx.report(call, "call"); }

private:
  checks::RuleMeta meta_;
  std::span<const std::string_view> needs_;
};

// A NeedsRule with excludes().
class ExcludesRule final : public checks::Rule {
public:
  ExcludesRule(std::span<const std::string_view> needs, std::span<const std::string_view> excludes)
      : inner_("OOM996", needs), excludes_(excludes) {}
  const checks::RuleMeta& meta() const override { return inner_.meta(); }
  std::span<const std::string_view> node_kinds() const override { return kCall; }
  std::span<const std::string_view> needs() const override { return inner_.needs(); }
  std::span<const std::string_view> excludes() const override { return excludes_; }
  void check(Node call, checks::Context& cx) const override { inner_.check(call, cx); }

private:
  NeedsRule inner_;
  std::span<const std::string_view> excludes_;
};

constexpr std::array<std::string_view, 1> kAlternatives{"eval|train"};
constexpr std::array<std::string_view, 2> kTwoEntries{"torch", "eval|train"};
constexpr std::array<std::string_view, 0> kEmpty{};
constexpr std::array<std::string_view, 1> kWholeWord{"<val>"};
constexpr std::array<std::string_view, 1> kWordStart{"<test"};
constexpr std::array<std::string_view, 1> kWordEnd{"net>"};
constexpr std::array<std::string_view, 1> kCodeWord{"`<backward>"};
constexpr std::array<std::string_view, 1> kCodeByte{"`%"};
constexpr std::array<std::string_view, 1> kExpressionWord{"~<val>"};
// Empty alternatives ("a||b", a leading or trailing bar) are ignored, not "always true".
constexpr std::array<std::string_view, 1> kStrayBars{"|zeta||omega|"};
constexpr std::array<std::string_view, 2> kFused{"flash_attn", "`sdpa"};

bool active(const checks::Rule& rule, std::string_view text) {
  checks::Engine engine(checks::Settings{}, {&rule});
  return engine.active_rules(text).at(0) != 0;
}

using Key = std::tuple<std::string, uint32_t, uint32_t, std::string>;

std::vector<Key> keys(const std::vector<checks::Diagnostic>& ds) {
  std::vector<Key> out;
  for (const auto& d : ds)
    out.emplace_back(d.code, d.start, d.end, d.message);
  return out;
}

// Every rule alone, with and without the prefilter, on `text`: identical diagnostics. Returns
// the number of diagnostics seen, so that callers can check the comparison was not vacuous.
size_t compare_per_rule(const std::string& text, const checks::Settings& settings,
                        const std::string& where) {
  size_t seen = 0;
  for (const checks::Rule* rule : checks::all_rules()) {
    checks::Engine engine(settings, {rule});
    if (engine.rules().empty()) continue;
    auto all = engine.check(text, /*no_prefilter=*/true);
    INFO(where << " rule " << rule->meta().code);
    CHECK(keys(engine.check(text)) == keys(all));
    if (!all.empty()) CHECK(engine.active_rules(text).at(0) != 0);
    seen += all.size();
  }
  return seen;
}

} // namespace

TEST_CASE("an entry with alternatives needs one of them", "[prefilter]") {
  NeedsRule rule("OOM997", kAlternatives);
  CHECK(active(rule, "model.eval()\n"));
  CHECK(active(rule, "model.train()\n"));
  CHECK(active(rule, "model.evaluate\n"));     // "eval" is a byte substring
  CHECK_FALSE(active(rule, "model.Eval()\n")); // case-sensitive
  CHECK_FALSE(active(rule, "model.fit()\n"));
}

TEST_CASE("every entry must occur", "[prefilter]") {
  NeedsRule rule("OOM997", kTwoEntries);
  CHECK(active(rule, "import torch\nmodel.eval()\n"));
  CHECK(active(rule, "import torch\nmodel.train()\n"));
  CHECK_FALSE(active(rule, "import torch\nmodel.fit()\n"));
  CHECK_FALSE(active(rule, "import jax\nmodel.eval()\n"));
  checks::Engine engine(checks::Settings{}, {&rule});
  CHECK(engine.check("import jax\nmodel.eval()\n").empty());
  CHECK(engine.check("import jax\nmodel.eval()\n", /*no_prefilter=*/true).size() == 1);
  CHECK(engine.check("import torch\nmodel.eval()\n").size() == 1);
}

TEST_CASE("empty needs always check; empty alternatives are ignored", "[prefilter]") {
  NeedsRule always("OOM997", kEmpty);
  CHECK(active(always, ""));
  CHECK(active(always, "x = 1\n"));
  NeedsRule bars("OOM996", kStrayBars);
  CHECK(active(bars, "zeta\n"));
  CHECK(active(bars, "omega\n"));
  CHECK_FALSE(active(bars, "x = 1\n"));
}

TEST_CASE("marked alternatives must start or end a word", "[prefilter]") {
  NeedsRule whole("OOM997", kWholeWord);
  for (std::string_view yes : {"val_loader", "valLoader", "for b in val:", "d[\"val\"]", "x.val",
                               "ValLoader", "myVal", "Val", "val", "VAL_LOADER", "VAl"}) {
    INFO(yes);
    CHECK(active(whole, yes));
  }
  for (std::string_view no :
       {"value", "interval", "eval", "Valid", "val2", "VALUE", "x2val", "VALLoader"}) {
    INFO(no);
    CHECK_FALSE(active(whole, no));
  }
  NeedsRule start("OOM996", kWordStart);
  CHECK(active(start, "testing"));
  CHECK(active(start, "run_tests"));
  CHECK(active(start, "unitTest")); // marked tokens ignore case, as words_of() does
  CHECK_FALSE(active(start, "contest"));
  NeedsRule end("OOM995", kWordEnd);
  CHECK(active(end, "resnet"));
  CHECK(active(end, "my_net = 1"));
  CHECK(active(end, "netG"));
  CHECK_FALSE(active(end, "network"));
  CHECK_FALSE(active(end, "net2"));
}

TEST_CASE("word marks agree with outputs::words_of", "[prefilter]") {
  // For each text, `<w>` is active exactly when words_of(text) contains w.
  NeedsRule whole("OOM997", kWholeWord);
  for (std::string_view text :
       {"val_loader", "valLoader", "VALLoader", "evalVal", "value", "a.val", "x_val2", "__val__",
        "\xffval", "val\xff", "intervalVal", "VAL_x", "VALLoader", "ValLOADER"}) {
    auto words = checks::outputs::words_of(text);
    bool has_val = false;
    for (const auto& w : words)
      has_val = has_val || w == "val";
    INFO(text);
    CHECK(active(whole, text) == has_val);
  }
  // Ignoring case can only add matches: words_of splits `vAl` into `v`, `al`.
  CHECK(active(whole, "vAl"));
}

TEST_CASE("code-only alternatives skip comments and strings", "[prefilter]") {
  NeedsRule word("OOM997", kCodeWord);
  for (std::string_view yes : {
           "loss.backward()\n", "x = 'a'\nloss.backward()\n",
           "s = \"it's\"\nloss.backward()\n",        // the apostrophe is inside a string
           "s = '\\''\nloss.backward()\n",           // an escaped quote does not close it
           "s = r'\\\\'\nloss.backward()\n",         // a raw string ends after its two backslashes
           "d = \"\"\"doc\"\"\"\nloss.backward()\n", // a triple-quoted docstring, then code
           "f\"{loss.backward()}\"\n",               // f-string braces hold code
           "F'''{loss.backward()}'''\n",
           "s = 'unterminated\nloss.backward()\n", // a one-line string ends at the line
           "# comment\nloss.backward()\n",
           "if\"x\"in y: loss.backward()\n",        // `if` reads as an f prefix: errs towards code
           "\"\"\"never closed\nloss.backward()\n", // tree-sitter recovers: code
       }) {
    INFO(yes);
    CHECK(active(word, yes));
  }
  for (std::string_view no : {
           "# call loss.backward() here\n",
           "\"\"\"Calls loss.backward().\"\"\"\n",
           "'''It's loss.backward()'''\n",
           "s = 'backward'\n",
           "s = b\"backward\"\n",
           "s = rb'backward'\n",
           "s = \"a \\\" backward\"\n", // the escaped quote keeps the string open
           "x = 1  # backward\n",
       }) {
    INFO(no);
    CHECK_FALSE(active(word, no));
  }
  NeedsRule byte("OOM996", kCodeByte);
  CHECK(active(byte, "if step % 4 == 0: pass\n"));
  CHECK_FALSE(active(byte, "print('%d', x)\n"));
  CHECK(active(byte, "print('%d' % x)\n"));
}

// (Not named after the mark: a test name starting with `~` is a negated filter for Catch.)
TEST_CASE("tilde-marked alternatives occur in code and one-line strings, not in prose",
          "[prefilter]") {
  NeedsRule word("OOM997", kExpressionWord);
  CHECK(active(word, "for b in val_loader:\n"));
  CHECK(active(word, "for b in loaders[\"val\"]:\n"));
  CHECK(active(word, "for b in loaders['val']:\n"));
  CHECK(active(word, "x = f\"{loaders['val']}\"\n"));
  CHECK_FALSE(active(word, "\"\"\"Runs over the val split.\"\"\"\n"));
  CHECK_FALSE(active(word, "'''val'''\n"));
  CHECK_FALSE(active(word, "# the val loader\n"));
}

TEST_CASE("excludes: any one of them, anywhere in the file, rules the rule out", "[prefilter]") {
  ExcludesRule rule(kAlternatives, kFused);
  CHECK(active(rule, "model.eval()\n"));
  CHECK_FALSE(active(rule, "from flash_attn import f\nmodel.eval()\n"));
  CHECK_FALSE(active(rule, "model.eval()  # flash_attn would be faster\n")); // prose counts
  CHECK_FALSE(active(rule, "model.eval()\n\"\"\"doc: flash_attn\"\"\"\n"));
  CHECK(active(rule, "model.eval()  # FLASH_ATTN\n")); // bytes as written, case and all
  // Excludes are plain bytes: a mark is just a character there.
  CHECK(active(rule, "sdpa(q, k, v)\nmodel.eval()\n"));
  CHECK_FALSE(active(rule, "`sdpa`\nmodel.eval()\n"));
  // A rule whose needs are missing stays off whatever its excludes.
  CHECK_FALSE(active(rule, "x = 1\n"));
  // Another rule in the same engine that needs the excluded word is not affected.
  constexpr std::array<std::string_view, 1> needs_it{"flash_attn"};
  NeedsRule other("OOM995", needs_it);
  checks::Engine engine(checks::Settings{}, {&rule, &other});
  REQUIRE(engine.rules().size() == 2);
  auto on = engine.active_rules("from flash_attn import f\nmodel.eval()\n");
  for (size_t i = 0; i < 2; ++i) {
    INFO(engine.rules()[i]->meta().code);
    CHECK(on.at(i) == (engine.rules()[i]->meta().code == "OOM995" ? 1 : 0));
  }
}

TEST_CASE("rules combine per rule: one rule's tokens do not activate another", "[prefilter]") {
  NeedsRule torch_rule("OOM997", kTwoEntries);
  NeedsRule any_rule("OOM996", kAlternatives);
  checks::Engine engine(checks::Settings{}, {&torch_rule, &any_rule});
  REQUIRE(engine.rules().size() == 2);
  auto on = engine.active_rules("model.eval()\n");
  size_t torch_index = engine.rules()[0] == &torch_rule ? 0 : 1;
  CHECK(on.at(torch_index) == 0);
  CHECK(on.at(1 - torch_index) == 1);
  CHECK(engine.may_match("model.eval()\n"));
  CHECK_FALSE(engine.may_match("model.fit()\n"));
}

TEST_CASE("each rule's needs hide nothing in the fixtures", "[prefilter][fixtures]") {
  auto files = test::fixture_files();
  REQUIRE_FALSE(files.empty());
  size_t seen = 0;
  for (const auto& path : files) {
    auto f = test::load_fixture(path);
    seen += compare_per_rule(f.text, f.settings, path.filename().string());
    // The fixture's own rule is active wherever it expects a diagnostic.
    if (!f.expected.empty()) {
      checks::Engine own(f.settings, {checks::find_rule(f.code)});
      if (!own.rules().empty()) {
        INFO("fixture " << path.filename().string());
        CHECK(own.active_rules(f.text).at(0) != 0);
      }
    }
  }
  CHECK(seen > 0);
}

TEST_CASE("each rule's needs hide nothing in the examples", "[prefilter]") {
  namespace fs = std::filesystem;
  fs::path dir = test::source_dir() / "examples";
  if (!fs::is_directory(dir)) return;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file() || entry.path().extension() != ".py") continue;
    compare_per_rule(test::read_file(entry.path()), checks::Settings{},
                     entry.path().filename().string());
  }
}
