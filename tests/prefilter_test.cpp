// The prefilter: the semantics of typed terms and clauses (engine/prefilter.h) in
// Engine::active_rules, and, per rule, that
// the rule's needs never hide a diagnostic of the fixtures or the examples.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "engine/engine.h"
#include "engine/rule.h"
#include "facts/words.h"
#include "fixture_support.h"
#include "registry.h"
#include "test_rule.h"
#include "ts.h"

using namespace oomlint;
using checks::Node;

namespace {

using checks::anywhere;
using checks::code;
using checks::code_identifier;
using checks::code_or_string;
using checks::Prefilter;
using checks::requires_all;

// A rule that reports every call; only its prefilter differs between instances.
test::TestRule needs_rule(std::string_view code, Prefilter prefilter) {
  return test::TestRule(code, {"call"}, std::move(prefilter),
                        [](Node call, checks::Context& cx) { cx.report(call, "call"); });
}

const Prefilter kAlternatives = requires_all(anywhere("eval") | anywhere("train"));
const Prefilter kTwoEntries = requires_all(anywhere("torch"), anywhere("eval") | anywhere("train"));
const Prefilter kWholeWord = requires_all(anywhere("val").word().ignoring_case());
const Prefilter kCaseWord = requires_all(anywhere("val").word());
const Prefilter kWordStart = requires_all(anywhere("test").starts_word().ignoring_case());
const Prefilter kWordEnd = requires_all(anywhere("net").ends_word().ignoring_case());
const Prefilter kNoCase = requires_all(code_or_string("loader").ignoring_case());
const Prefilter kCodeWord = requires_all(code("backward").word().ignoring_case());
const Prefilter kCodeByte = requires_all(code("%"));
const Prefilter kExpressionWord = requires_all(code_or_string("val").word().ignoring_case());
const Prefilter kIdentifier = requires_all(anywhere("autocast").whole_identifier());
const Prefilter kCodeIdentifier = requires_all(code_identifier("autocast"));
const Prefilter kWordAutocast = requires_all(anywhere("autocast").word().ignoring_case());

// What a test says when the rule it is about is not in the registry (rather than crashing on it).
std::string unregistered(std::string_view code) {
  return "no rule " + std::string(code) +
         " is registered: its file in checks/rules/ must declare kMeta.code = \"" +
         std::string(code) + "\" and end with OOMLINT_REGISTER_RULE(Type) at file scope";
}

// The registered rule `code`; the test stops, saying so, when there is none.
const checks::Rule& require_rule(std::string_view code) {
  const checks::Rule* rule = checks::find_rule(code);
  INFO(unregistered(code));
  REQUIRE(rule != nullptr);
  return *rule;
}

bool active(const checks::Rule& rule, std::string_view text) {
  checks::Engine engine(checks::Settings{}, {&rule});
  return engine.active_rules(text).at(0) != 0;
}

// What to do when a rule reports where its prefilter does not hold.
constexpr const char* kUnsound =
    "the rule reports in a file where its needs() do not hold: add the spelling its report "
    "depends on to needs() (or require the fact's fragment), or read the words through "
    "Context::code_text (docs/contributing/prefilter.md)";

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
    INFO(where << " rule " << rule->meta().code << ": " << kUnsound);
    CHECK(keys(engine.check(text)) == keys(all));
    if (!all.empty()) CHECK(engine.active_rules(text).at(0) != 0);
    seen += all.size();
  }
  return seen;
}

} // namespace

TEST_CASE("a clause with alternatives needs one of them", "[prefilter]") {
  auto rule = needs_rule("OOM997", kAlternatives);
  CHECK(active(rule, "model.eval()\n"));
  CHECK(active(rule, "model.train()\n"));
  CHECK(active(rule, "model.evaluate\n"));     // "eval" is a byte substring
  CHECK_FALSE(active(rule, "model.Eval()\n")); // case-sensitive
  CHECK_FALSE(active(rule, "model.fit()\n"));
}

TEST_CASE("every clause must hold", "[prefilter]") {
  auto rule = needs_rule("OOM997", kTwoEntries);
  CHECK(active(rule, "import torch\nmodel.eval()\n"));
  CHECK(active(rule, "import torch\nmodel.train()\n"));
  CHECK_FALSE(active(rule, "import torch\nmodel.fit()\n"));
  CHECK_FALSE(active(rule, "import jax\nmodel.eval()\n"));
  checks::Engine engine(checks::Settings{}, {&rule});
  CHECK(engine.check("import jax\nmodel.eval()\n").empty());
  CHECK(engine.check("import jax\nmodel.eval()\n", /*no_prefilter=*/true).size() == 1);
  CHECK(engine.check("import torch\nmodel.eval()\n").size() == 1);
}

TEST_CASE("no clause always checks, an empty clause is refused", "[prefilter]") {
  auto always = needs_rule("OOM997", Prefilter{});
  CHECK(active(always, ""));
  CHECK(active(always, "x = 1\n"));
  CHECK_THROWS_AS(Prefilter().require(checks::Clause{}), std::invalid_argument);
}

TEST_CASE("malformed terms are refused", "[prefilter]") {
  // Built in a constant expression these are compile errors; at run time they throw, and the
  // registry builds every rule's prefilter at start-up.
  static_assert(code_identifier("autocast").identifier);
  static_assert(code_or_string("loader").ignoring_case().nocase);
  std::string_view runtime[] = {"", "1x", "a-b", "x"};
  CHECK_THROWS_AS(code(runtime[0]), std::invalid_argument);
  CHECK_THROWS_AS(code_identifier(runtime[1]), std::invalid_argument);
  CHECK_THROWS_AS(code_identifier(runtime[2]), std::invalid_argument);
  CHECK_THROWS_AS(anywhere(runtime[3]).word(), std::invalid_argument); // words need two bytes
  CHECK_THROWS_AS(anywhere(runtime[3]).ignoring_case(), std::invalid_argument);
  CHECK_THROWS_AS(code_identifier("autocast").ignoring_case(), std::invalid_argument);
  CHECK_THROWS_AS(anywhere("val").word().whole_identifier(), std::invalid_argument);
  CHECK_NOTHROW(code_identifier("t")); // one byte is a fine identifier
  CHECK_NOTHROW(code("==0"));          // any bytes, as written
}

TEST_CASE("word terms must start or end a word", "[prefilter]") {
  auto whole = needs_rule("OOM997", kWholeWord);
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
  auto start = needs_rule("OOM996", kWordStart);
  CHECK(active(start, "testing"));
  CHECK(active(start, "run_tests"));
  CHECK(active(start, "unitTest")); // ignoring case, as words_of() does
  CHECK_FALSE(active(start, "contest"));
  auto end = needs_rule("OOM995", kWordEnd);
  CHECK(active(end, "resnet"));
  CHECK(active(end, "my_net = 1"));
  CHECK(active(end, "netG"));
  CHECK_FALSE(active(end, "network"));
  CHECK_FALSE(active(end, "net2"));
}

TEST_CASE("case is ignored only when asked", "[prefilter]") {
  auto exact = needs_rule("OOM997", kCaseWord);
  CHECK(active(exact, "val_loader"));
  CHECK_FALSE(active(exact, "for b in myVal:")); // the word is `Val`: case differs
  CHECK_FALSE(active(exact, "VAL_LOADER"));
  auto nocase = needs_rule("OOM996", kNoCase);
  for (std::string_view yes : {"train_loader", "trainLoader", "TRAIN_LOADER", "dl['LoAdEr']"}) {
    INFO(yes);
    CHECK(active(nocase, yes));
  }
  CHECK_FALSE(active(nocase, "# train loader\n"));
  CHECK_FALSE(active(nocase, "load_er"));
}

TEST_CASE("word terms agree with facts::words_of", "[prefilter]") {
  // For each text, word("val") ignoring case is active exactly when words_of(text) contains it.
  auto whole = needs_rule("OOM997", kWholeWord);
  for (std::string_view text :
       {"val_loader", "valLoader", "VALLoader", "evalVal", "value", "a.val", "x_val2", "__val__",
        "\xffval", "val\xff", "intervalVal", "VAL_x", "VALLoader", "ValLOADER"}) {
    auto words = checks::facts::words_of(text);
    bool has_val = false;
    for (const auto& w : words)
      has_val = has_val || w == "val";
    INFO(text);
    CHECK(active(whole, text) == has_val);
  }
  // Ignoring case can only add matches: words_of splits `vAl` into `v`, `al`.
  CHECK(active(whole, "vAl"));
}

TEST_CASE("code terms skip comments and strings", "[prefilter]") {
  auto word = needs_rule("OOM997", kCodeWord);
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
  auto byte = needs_rule("OOM996", kCodeByte);
  CHECK(active(byte, "if step % 4 == 0: pass\n"));
  CHECK_FALSE(active(byte, "print('%d', x)\n"));
  CHECK(active(byte, "print('%d' % x)\n"));
}

TEST_CASE("code-or-string terms occur in code and one-line strings, not in prose", "[prefilter]") {
  auto word = needs_rule("OOM997", kExpressionWord);
  CHECK(active(word, "for b in val_loader:\n"));
  CHECK(active(word, "for b in loaders[\"val\"]:\n"));
  CHECK(active(word, "for b in loaders['val']:\n"));
  CHECK(active(word, "x = f\"{loaders['val']}\"\n"));
  CHECK_FALSE(active(word, "\"\"\"Runs over the val split.\"\"\"\n"));
  CHECK_FALSE(active(word, "'''val'''\n"));
  CHECK_FALSE(active(word, "# the val loader\n"));
}

TEST_CASE("code_text reads a node as the prefilter's places do", "[prefilter]") {
  // Reports the iterable of each `for` as Context::code_text() reads it, with one-line strings
  // and without, separated by a byte that the tests' sources do not hold.
  test::TestRule rule("OOM995", {"for_statement"}, Prefilter{}, [](Node loop, checks::Context& cx) {
    Node right = loop.field("right");
    cx.report(loop, cx.code_text(right, true) + "\x01" + cx.code_text(right, false));
  });
  checks::Engine engine(checks::Settings{}, {&rule});
  REQUIRE(engine.rules().size() == 1);
  using Words = std::vector<std::string>;
  const std::tuple<std::string_view, Words, Words> cases[] = {
      // iterable, its words with one-line strings (code_or_string), in code alone (code)
      {"val_loader", {"val", "loader"}, {"val", "loader"}},
      {"(xs  # val loader\n)", {"xs"}, {"xs"}},
      {"loaders[\"val\"]", {"loaders", "val"}, {"loaders"}},
      {"loaders['val']", {"loaders", "val"}, {"loaders"}},
      {"rb\"val\"", {"rb", "val"}, {"rb"}},
      {"(xs, \"\"\"val\"\"\")[0]", {"xs", "0"}, {"xs", "0"}},
      {"(xs, '''val\nloader''')[0]", {"xs", "0"}, {"xs", "0"}},
      {"f\"{val}\"", {"f", "val"}, {"f", "val"}}, // f-strings are code
      {"d[\"a # b\"]", {"d", "a", "b"}, {"d"}},   // no comment in a string
      {"(xs  # it's\n)", {"xs"}, {"xs"}},         // no string in a comment
      {"d[\"\\\"val\"]", {"d", "val"}, {"d"}},    // an escaped quote keeps the string open
  };
  for (const auto& [iterable, with_strings, code] : cases) {
    std::string text = "for b in " + std::string(iterable) + ":\n    pass\n";
    INFO(text);
    auto ds = engine.check(text, /*no_prefilter=*/true);
    REQUIRE(ds.size() == 1);
    const std::string& m = ds[0].message;
    size_t sep = m.find('\x01');
    REQUIRE(sep != std::string::npos);
    std::string strings = m.substr(0, sep), alone = m.substr(sep + 1);
    CHECK(strings.size() == iterable.size()); // blanked in place
    CHECK(alone.size() == iterable.size());
    CHECK(checks::facts::words_of(strings) == with_strings);
    CHECK(checks::facts::words_of(alone) == code);
  }
}

TEST_CASE("identifier terms must be a whole identifier", "[prefilter]") {
  auto whole = needs_rule("OOM997", kIdentifier);
  for (std::string_view yes : {
           "with torch.autocast(\"cuda\"):\n", "from torch import autocast as ac\n",
           "autocast",                // the whole text
           "autocast()\n",            // at the start
           "ac = torch.amp.autocast", // at the end
           "with T.cuda.amp.autocast(dtype=T.half):\n",
           "from torch.amp.autocast_mode import (\n    autocast,\n)\n", "x = [autocast]",
           "torch .\tautocast",
           "# autocast\n", // anywhere: comments count
       }) {
    INFO(yes);
    CHECK(active(whole, yes));
  }
  for (std::string_view no : {
           "if torch.is_autocast_enabled():\n",
           "_autocast_to_full_precision(x)\n",
           "autocast2 = 1\n",
           "import torch.amp.autocast_mode\n",
           "my_autocast()\n",
           "xautocast",
           "x1autocast",
           "def autocasting(): pass\n",
           "Autocast()\n", // case-sensitive
           "AUTOCAST = 1\n",
           "torch.autocast_mode",
       }) {
    INFO(no);
    CHECK_FALSE(active(whole, no));
  }
  // Bytes >= 0x80 count as a boundary: `é` would continue the identifier, but U+200B (white
  // space to tree-sitter) or `×` (an error it skips) would not, and the scan cannot tell them
  // apart without Unicode's tables. So a non-ASCII neighbour never hides the identifier.
  for (std::string_view text : {"\xC3\xA9"
                                "autocast",
                                "autocast\xC3\xA9",
                                "torch.\xE2\x80\x8B"
                                "autocast",
                                "from torch import\xC3\x97"
                                "autocast as ac"}) {
    INFO(text);
    CHECK(active(whole, text));
  }
  // A run of letters and digits that starts as another token can end early in broken code, and
  // leave an identifier after it: a number (`1autocast` is `1`, `autocast` to tree-sitter), an
  // f-string conversion (`!r`), an escape sequence (`\a`) or a float (`1.j`, `1_.e5`).
  for (std::string_view text :
       {"from torch import 1autocast as ac\n", "x = 1Lautocast\n", "x = 0b1autocast\n",
        "x = 1.jautocast\n", "x = 1_.e5autocast\n", "f'{x!rautocast}'\n", "\\aautocast\n"}) {
    INFO(text);
    CHECK(active(whole, text));
  }
  // ... but a run that begins an identifier is one token, however long.
  std::string run = "x";
  for (int i = 0; i < 1000; ++i)
    run += "autocast";
  CHECK_FALSE(active(whole, run));
  CHECK_FALSE(active(whole, run + "\n" + run)); // the second run is not the first one's end
  CHECK(active(whole, run + "\n1" + run.substr(1)));
  CHECK(active(whole, run + " autocast"));
}

TEST_CASE("identifier terms work on one byte", "[prefilter]") {
  auto t = needs_rule("OOM997", requires_all(code_identifier("t")));
  for (std::string_view yes : {"scores = q @ k.t()\n", "t", "for t in ts:\n", "f(t)"}) {
    INFO(yes);
    CHECK(active(t, yes));
  }
  for (std::string_view no : {"import torch\nx = k.to(q)\n", "# k.t()\n", "s = 't'\n", "tt = t2\n",
                              "T = 1\n", "x = k.transpose(-2, -1)\n"}) {
    INFO(no);
    CHECK_FALSE(active(t, no));
  }
}

TEST_CASE("identifier terms combine with the places", "[prefilter]") {
  auto code_rule = needs_rule("OOM997", kCodeIdentifier);
  CHECK(active(code_rule, "with torch.autocast(\"cuda\"):\n"));
  CHECK(active(code_rule, "x = f\"{torch.autocast}\"\n")); // f-string braces are code
  CHECK_FALSE(active(code_rule, "# torch.autocast\n"));
  CHECK_FALSE(active(code_rule, "\"\"\"Runs under autocast.\"\"\"\n"));
  CHECK_FALSE(active(code_rule, "s = 'autocast'\n"));
  CHECK_FALSE(active(code_rule, "torch.is_autocast_enabled()  # autocast\n"));
  // Word terms split at `_`; identifier terms do not. Both in one engine are two tokens.
  auto word = needs_rule("OOM996", kWordAutocast);
  checks::Engine engine(checks::Settings{}, {&code_rule, &word});
  REQUIRE(engine.rules().size() == 2);
  auto on = engine.active_rules("torch.is_autocast_enabled()\n");
  for (size_t i = 0; i < 2; ++i) {
    INFO(engine.rules()[i]->meta().code);
    CHECK(on.at(i) == (engine.rules()[i]->meta().code == "OOM996" ? 1 : 0));
  }
}

TEST_CASE("bytes are found as written", "[prefilter]") {
  auto equals = needs_rule("OOM997", requires_all(anywhere("==0"))); // as OOM051 spells `==0`
  CHECK(active(equals, "if step % 4 ==0:\n"));
  CHECK_FALSE(active(equals, "if step % 4 == 0:\n"));
  CHECK_FALSE(active(equals, "x = 0\n"));
}

namespace {
// Does tree-sitter's parse of `text` have an identifier or a True/False keyword spelled `name`
// (in an ERROR node or not)?
bool has_token(std::string_view text, std::string_view name) {
  ts::Parser parser;
  ts::Tree tree = parser.parse(text);
  std::vector<Node> stack{tree.root()};
  while (!stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    if ((n.is("identifier") || n.is("false") || n.is("true")) && n.text(text) == name) return true;
    for (uint32_t i = 0, c = n.child_count(); i < c; ++i)
      stack.push_back(n.child(i));
  }
  return false;
}
} // namespace

TEST_CASE("identifier terms find every identifier that tree-sitter lexes", "[prefilter]") {
  // A name between every ASCII byte and a set of longer neighbours, in a few places of a
  // statement: wherever tree-sitter still finds the identifier (or the keyword), so must the
  // prefilter. Names of one byte go through the scanner's one-byte table.
  std::vector<std::string> sides{""};
  for (int c = 1; c < 128; ++c)
    sides.emplace_back(1, static_cast<char>(c));
  constexpr std::string_view kLonger[] = {
      "1L",       "1j",           "1.j",          "1_.J",     "0b1",          "0o7",  "0x1",
      "1e5",      "1e+5",         "1_",           ".5",       "1.",           "!r",   "x!s",
      "\\b",      "\\x4",         "x1",           "x_",       "_1",           "1x",   "\xC3\xA9",
      "\xC3\x97", "\xE2\x80\x8B", "\xEF\xBB\xBF", "\xC2\xA0", "\xE2\x81\xA0", "\x80", "\xFF"};
  for (std::string_view s : kLonger)
    sides.emplace_back(s);
  sides.push_back("\xC3\xA9"
                  "1");
  const std::pair<std::string_view, std::string_view> places[] = {
      {"", "\n"},
      {"from torch import ", " as ac\n"},
      {"import torch\nwith torch.", "(\"cuda\"):\n    pass\n"},
      {"x = f\"{y", "}\"\n"}};
  const std::pair<std::string_view, Prefilter> names[] = {
      {"autocast", kIdentifier},
      {"t", requires_all(anywhere("t").whole_identifier())},
      {"False", requires_all(anywhere("False").whole_identifier())}};
  for (const auto& [name, prefilter] : names) {
    auto whole = needs_rule("OOM997", prefilter);
    checks::Engine engine(checks::Settings{}, {&whole});
    size_t lexed = 0, missed = 0;
    for (auto [before, after] : places) {
      for (const std::string& side : sides) {
        for (bool left : {true, false}) {
          std::string text = std::string(before) + (left ? side : "") + std::string(name) +
                             (left ? "" : side) + std::string(after);
          if (!has_token(text, name)) continue;
          ++lexed;
          if (engine.active_rules(text).at(0)) continue;
          ++missed;
          UNSCOPED_INFO("missed in: " << text);
        }
      }
    }
    INFO(name);
    CHECK(missed == 0);
    CHECK(lexed > 300); // not vacuous
  }
}

// OOM061 reaches torch's autocast only through a name whose import (or assignment) spells
// `autocast` whole, so its identifier term finds every file where that path reports; the same holds
// for TRL's configs.
TEST_CASE("OOM061 through aliases of autocast and of TRL's configs", "[prefilter]") {
  const checks::Rule& rule = require_rule("OOM061");
  checks::Engine engine(checks::Settings{}, {&rule});
  for (std::string_view text : {
           "from torch import autocast as ac\nwith ac(\"cuda\"):\n    y = f(x)\n",
           "import torch as T\nwith T.autocast(\"cuda\"):\n    y = f(x)\n",
           "import torch.amp.autocast_mode as am\nwith am.autocast(\"cuda\"):\n    y = f(x)\n",
           "import torch\nac = torch.autocast\nwith ac(\"cuda\"):\n    y = f(x)\n",
           "from torch.cuda.amp import autocast as amp_autocast\nwith amp_autocast():\n    y = "
           "f(x)\n",
           "from torch import (\n    autocast as ac,  # mixed precision\n)\nwith ac(\"cuda\"):\n"
           "    y = f(x)\n",
       }) {
    INFO(text);
    auto all = engine.check(text, /*no_prefilter=*/true);
    CHECK(all.size() == 1);
    CHECK(keys(engine.check(text)) == keys(all));
  }
  // TRL's configs are whole identifiers too: each of the twelve, imported under an alias.
  for (std::string_view config :
       {"SFTConfig", "DPOConfig", "ORPOConfig", "KTOConfig", "CPOConfig", "RewardConfig",
        "GRPOConfig", "GKDConfig", "BCOConfig", "PRMConfig", "OnlineDPOConfig", "RLOOConfig"}) {
    std::string text =
        "from trl import " + std::string(config) + " as Cfg\n\nargs = Cfg(fp16=True)\n";
    INFO(text);
    auto all = engine.check(text, /*no_prefilter=*/true);
    CHECK(all.size() == 1);
    CHECK(keys(engine.check(text)) == keys(all));
  }
  // The identifier is not there: the rule is off (and had nothing to report).
  for (std::string_view text : {
           "import torch\nif torch.is_autocast_enabled():\n    y = f(x)\n",
           "from torch.amp.autocast_mode import _autocast_to_full_precision\n",
           "from torch.ao.quantization import BackendConfig\n\ncfg = BackendConfig(\"fp16\")\n",
       }) {
    INFO(text);
    CHECK(engine.check(text, /*no_prefilter=*/true).empty());
    CHECK_FALSE(engine.active_rules(text).at(0));
  }
}

// OOM112's scores are an einsum or a product with the key transposed, in one of six spellings.
TEST_CASE("OOM112 with each spelling of a transposed key", "[prefilter]") {
  const checks::Rule& rule = require_rule("OOM112");
  checks::Engine engine(checks::Settings{}, {&rule});
  for (std::string_view scores : {
           "q @ k.t()",
           "q @ k.T",
           "q @ k.mT",
           "q @ k.permute(0, 1, 3, 2)",
           "torch.matmul(q, k.transpose(-2, -1))",
           "q @ torch.transpose(k, -1, -2)",
           "torch.einsum(\"bhid,bhjd->bhij\", q, k)",
       }) {
    std::string text = "import torch\n\n\ndef attend(q, k, v):\n    w = torch.softmax(" +
                       std::string(scores) + ", dim=-1)\n    return w @ v\n";
    INFO(text);
    auto all = engine.check(text, /*no_prefilter=*/true);
    CHECK(all.size() == 1);
    CHECK(keys(engine.check(text)) == keys(all));
  }
  // A softmax and a decorator, but no transposed key: nothing to report, and not parsed for it.
  std::string_view text = "import torch\n\n\nclass Head:\n    @property\n    def probs(self):\n"
                          "        return torch.softmax(self.logits, dim=-1)\n";
  CHECK(engine.check(text, /*no_prefilter=*/true).empty());
  CHECK_FALSE(engine.active_rules(text).at(0));
}

// facts::model_call_terms(): each way OOM153 recognises a model, in an
// evaluation loop, reports the same with and without the prefilter.
TEST_CASE("OOM153 with each kind of model", "[prefilter]") {
  const checks::Rule& rule = require_rule("OOM153");
  checks::Engine engine(checks::Settings{}, {&rule});
  const std::pair<std::string_view, std::string_view> models[] = {
      {"", "model"},
      {"", "encoder_model"},
      {"", "netG"},
      {"", "my_net"},
      {"", "network"},
      {"import torch.nn as nn\n\nclass Net(nn.Module):\n    pass\n\nm = Net()\n", "m"},
      {"from torch import nn as tnn\n\nclass Base(tnn.Module):\n    pass\n\nclass Net(Base):\n"
       "    pass\n\nm = Net()\n",
       "m"},
      {"import lightning as L\n\nclass Lit(L.LightningModule):\n    pass\n\nm = Lit()\n", "m"},
      {"from transformers import AutoModel\n\nm = AutoModel.from_pretrained(\"x\")\n", "m"},
      {"from torchvision import models as tvm\n\nm = tvm.resnet18()\n", "m"},
      {"import timm\n\nm = timm.create_model(\"resnet18\")\n", "m"},
  };
  for (auto [setup, callee] : models) {
    std::string text =
        "import torch\n" + std::string(setup) +
        "\n\ndef evaluate():\n    for batch in val_loader:\n        out = " + std::string(callee) +
        "(batch.cuda())\n        print(out)\n";
    INFO(text);
    auto all = engine.check(text, /*no_prefilter=*/true);
    CHECK(all.size() == 1);
    CHECK(keys(engine.check(text)) == keys(all));
  }
  // `model_report` is no model: nothing to report, and not parsed for it.
  std::string_view text = "import torch\n\n\ndef evaluate():\n    for batch in val_loader:\n"
                          "        out = model_report(batch.cuda())\n        print(out)\n";
  CHECK(engine.check(text, /*no_prefilter=*/true).empty());
  CHECK_FALSE(engine.active_rules(text).at(0));
}

// OOM153's eval mode comes from ModeTracker: a method `eval`, or `train` with a literal False.
TEST_CASE("OOM153 in eval mode", "[prefilter]") {
  const checks::Rule& rule = require_rule("OOM153");
  checks::Engine engine(checks::Settings{}, {&rule});
  for (std::string_view mode : {"model.eval()", "model.train(False)", "model.train(mode=False)"}) {
    std::string text = "import torch\n\n\ndef predict(model, xs):\n    " + std::string(mode) +
                       "\n    preds = model(xs.cuda())\n    return preds\n";
    INFO(text);
    auto all = engine.check(text, /*no_prefilter=*/true);
    CHECK(all.size() == (mode.find("mode=") == std::string_view::npos ? 1u : 0u));
    CHECK(keys(engine.check(text)) == keys(all));
  }
  // `train_mode=False` is neither: nothing to report, and not parsed for it.
  std::string_view text = "import torch\n\n\ndef fit(model, loader):\n    for batch in loader:\n"
                          "        preds = model(batch, train_mode=False)\n";
  CHECK(engine.check(text, /*no_prefilter=*/true).empty());
  CHECK_FALSE(engine.active_rules(text).at(0));
}

// OOM202's training loop runs autograd or an optimizer step, each spelled by a whole identifier.
TEST_CASE("OOM202 with each kind of training step", "[prefilter]") {
  const checks::Rule& rule = require_rule("OOM202");
  checks::Engine engine(checks::Settings{}, {&rule});
  for (std::string_view step : {
           "out.sum().backward()",
           "self.manual_backward(out.sum())",
           "g = torch.autograd.grad(out.sum(), batch)",
           "batch.requires_grad_()",
           "batch.requires_grad = True",
           "opt.step()",
       }) {
    std::string text = "import torch\n\n\ndef fit(model, loader, opt):\n    outs = []\n"
                       "    for batch in loader:\n        out = model(batch)\n"
                       "        outs.append(out)\n        " +
                       std::string(step) + "\n";
    INFO(text);
    auto all = engine.check(text, /*no_prefilter=*/true);
    CHECK(all.size() == 1);
    CHECK(keys(engine.check(text)) == keys(all));
  }
  // `step_size` is no step: nothing to report, and not parsed for it.
  std::string_view text = "import torch\n\n\ndef fit(model, loader, sched, opt_level):\n"
                          "    outs = []\n    for batch in loader:\n        out = model(batch)\n"
                          "        outs.append(out)\n        sched.step_size = opt_level\n";
  CHECK(engine.check(text, /*no_prefilter=*/true).empty());
  CHECK_FALSE(engine.active_rules(text).at(0));
}

// OOM201 accumulates in a step loop (a backward, an optimizer step, a loader) or in Lightning's
// training_step.
TEST_CASE("OOM201 in each kind of step", "[prefilter]") {
  const checks::Rule& rule = require_rule("OOM201");
  checks::Engine engine(checks::Settings{}, {&rule});
  const std::pair<std::string_view, std::string_view> loops[] = {
      {"xs", "loss.backward()"}, {"xs", "opt.step()"}, {"loader", "pass"}};
  for (auto [iterable, step] : loops) {
    std::string text = "import torch\n\n\ndef fit(model, " + std::string(iterable) +
                       ", opt):\n    total = 0\n    for x in " + std::string(iterable) +
                       ":\n        loss = model(x).loss\n        total += loss\n        " +
                       std::string(step) + "\n";
    INFO(text);
    auto all = engine.check(text, /*no_prefilter=*/true);
    CHECK(all.size() == 1);
    CHECK(keys(engine.check(text)) == keys(all));
  }
  std::string_view lightning = "import lightning as L\n\n\nclass Lit(L.LightningModule):\n"
                               "    def training_step(self, batch, idx):\n"
                               "        loss = self.criterion(batch)\n        self.total += loss\n"
                               "        return loss\n";
  auto all = engine.check(lightning, /*no_prefilter=*/true);
  CHECK(all.size() == 1);
  CHECK(keys(engine.check(lightning)) == keys(all));
  // No step loop (`step_size` is no step): nothing to report, and not parsed for it.
  std::string_view text = "import torch\n\n\ndef fit(model, xs, sched):\n    total = 0\n"
                          "    for x in xs:\n        loss = model(x).loss\n        total += loss\n"
                          "    sched.step_size = 2\n";
  CHECK(engine.check(text, /*no_prefilter=*/true).empty());
  CHECK_FALSE(engine.active_rules(text).at(0));
}

// OOM204's loop is a training loop: an optimizer step, or data words in its iterable.
TEST_CASE("OOM204 in each kind of training loop", "[prefilter]") {
  const checks::Rule& rule = require_rule("OOM204");
  checks::Engine engine(checks::Settings{}, {&rule});
  const std::pair<std::string_view, std::string_view> loops[] = {
      {"xs", "opt.step()"},    {"loader", "pass"},
      {"trainLOADER", "pass"}, {"batches", "pass"},
      {"train_dl", "pass"},    {"data", "pass"},
      {"dataset", "pass"},     {"dls[\"train_loader\"]", "pass"}};
  for (auto [iterable, extra] : loops) {
    std::string text = "import torch\n\n\ndef fit(model, xs, opt):\n    for x in " +
                       std::string(iterable) +
                       ":\n        loss = model(x)\n        loss.backward(retain_graph=True)\n"
                       "        " +
                       std::string(extra) + "\n";
    INFO(text);
    auto all = engine.check(text, /*no_prefilter=*/true);
    CHECK(all.size() == 1);
    CHECK(keys(engine.check(text)) == keys(all));
  }
  // A loop over anything else is no training loop, whatever a comment or a docstring in its
  // iterable says: nothing to report, and not parsed for it.
  for (std::string_view iterable : {"xs", "(xs  # data\n)", "(xs, \"\"\"data\"\"\")[0]"}) {
    std::string text = "import torch\n\n\ndef fit(model, xs):\n    for x in " +
                       std::string(iterable) +
                       ":\n        loss = model(x)\n        loss.backward(retain_graph=True)\n";
    INFO(text);
    CHECK(engine.check(text, /*no_prefilter=*/true).empty());
    CHECK_FALSE(engine.active_rules(text).at(0));
  }
}

// Rules that read a loop's iterable or a call's receiver as words read them as their prefilter
// terms count them (Context::code_text): a word in a one-line string counts, one in a comment or
// a triple-quoted string does not, with the prefilter or without it. Each case is a positive of
// the rule's fixture with its words moved there.
TEST_CASE("words of an iterable or a receiver count in strings and not in comments",
          "[prefilter]") {
  struct Case {
    std::string_view code, before, after;
    std::vector<std::pair<std::string_view, size_t>> middles; // and how many reports each makes
  };
  const Case cases[] = {
      {"OOM153",
       "import torch\nimport torch.nn as nn\n\n\ndef score(net, xs):\n    total = 0.0\n"
       "    for images, labels in ",
       ":\n        total += nn.functional.cross_entropy(net(images.cuda()), labels).item()\n"
       "    return total\n",
       {{"loaders[\"test\"]", 1},
        {"(xs  # test loader\n    )", 0},
        {"(xs, \"\"\"test loader\"\"\")[0]", 0}}},
      {"OOM154",
       "import torch\n\n\ndef validate(net, xs):\n    net.eval()\n    probs = list()\n"
       "    for images, _ in ",
       ":\n        out = net(images.cuda())\n        probs.extend(torch.softmax(out, dim=1))\n"
       "    return probs\n",
       {{"dls[\"val_loader\"]", 1},
        {"dls[\"loader\"]", 1}, // a step loop in eval mode
        {"(xs  # val loader\n    )", 0},
        {"(xs  # loader\n    )", 0},
        {"(xs, '''val loader''')[0]", 0}}},
      {"OOM202",
       "import torch\n\n\ndef train_epoch(model, xs, trainer):\n    all_logits = []\n"
       "    model.train()\n    for x, y in xs:\n        logits = model(x)\n        ",
       ".step()\n        all_logits.append(logits)\n    return torch.cat(all_logits)\n",
       {{"getattr(trainer, \"optim\")", 1},
        {"optimizers[\"adam\"]", 1},
        {"(trainer  # optim\n        )", 0},
        {"getattr(trainer, \"\"\"optim\"\"\")", 0}}},
      {"OOM201",
       "import torch\n\n\ndef fit(model, xs, criterion):\n    total_loss = 0.0\n"
       "    for inputs, targets in ",
       ":\n        loss = criterion(model(inputs), targets)\n        total_loss += loss\n"
       "    print(total_loss)\n",
       {{"dls[\"train_loader\"]", 1},
        {"(xs  # loader\n    )", 0},
        {"(xs, \"\"\"batches\"\"\")[0]", 0}}},
      {"OOM051",
       "import torch\n\n\ndef fit(model, loader, trainer, n):\n"
       "    for i, batch in enumerate(loader):\n        loss = model(**batch).loss\n"
       "        loss.backward()\n        if (i + 1) % n == 0:\n            ",
       ".step()\n",
       {{"getattr(trainer, \"optim\")", 1},
        {"scalers[\"amp\"]", 1},
        {"(trainer  # optim\n            )", 0}}},
  };
  for (const Case& c : cases) {
    const checks::Rule& rule = require_rule(c.code);
    checks::Engine engine(checks::Settings{}, {&rule});
    for (auto [middle, reports] : c.middles) {
      std::string text = std::string(c.before) + std::string(middle) + std::string(c.after);
      INFO(c.code << " in\n" << text);
      auto all = engine.check(text, /*no_prefilter=*/true);
      CHECK(all.size() == reports);
      CHECK(keys(engine.check(text)) == keys(all));
    }
  }
}

TEST_CASE("exclusions: any one of them in the file rules the rule out", "[prefilter]") {
  Prefilter excluding = kAlternatives;
  excluding.excluding(anywhere("flash_attn"), code("sdpa"));
  auto rule = needs_rule("OOM996", excluding);
  CHECK(active(rule, "model.eval()\n"));
  CHECK_FALSE(active(rule, "from flash_attn import f\nmodel.eval()\n"));
  CHECK_FALSE(active(rule, "model.eval()  # flash_attn would be faster\n")); // prose counts
  CHECK_FALSE(active(rule, "model.eval()\n\"\"\"doc: flash_attn\"\"\"\n"));
  CHECK(active(rule, "model.eval()  # FLASH_ATTN\n")); // bytes as written, case and all
  // An exclusion has its place too: code("sdpa") in a comment rules nothing out.
  CHECK_FALSE(active(rule, "sdpa(q, k, v)\nmodel.eval()\n"));
  CHECK(active(rule, "# sdpa would be faster\nmodel.eval()\n"));
  // A rule whose needs are missing stays off whatever its exclusions.
  CHECK_FALSE(active(rule, "x = 1\n"));
  // Another rule in the same engine that needs the excluded word is not affected.
  auto other = needs_rule("OOM995", requires_all(anywhere("flash_attn")));
  checks::Engine engine(checks::Settings{}, {&rule, &other});
  REQUIRE(engine.rules().size() == 2);
  auto on = engine.active_rules("from flash_attn import f\nmodel.eval()\n");
  for (size_t i = 0; i < 2; ++i) {
    INFO(engine.rules()[i]->meta().code);
    CHECK(on.at(i) == (engine.rules()[i]->meta().code == "OOM995" ? 1 : 0));
  }
}

TEST_CASE("rules combine per rule: one rule's tokens do not activate another", "[prefilter]") {
  auto torch_rule = needs_rule("OOM997", kTwoEntries);
  auto any_rule = needs_rule("OOM996", kAlternatives);
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
      INFO("fixture " << path.filename().string());
      const checks::Rule* rule = checks::find_rule(f.code);
      if (rule == nullptr) {
        FAIL_CHECK(unregistered(f.code));
        continue;
      }
      checks::Engine own(f.settings, {rule});
      if (!own.rules().empty()) CHECK(own.active_rules(f.text).at(0) != 0);
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

// ---- variants of the fixtures ----
//
// A rule that reads a node's text as words or substrings (a loop's iterable, a call's receiver)
// must read what its prefilter counts there: a word in a comment or a triple-quoted string inside
// that text, which code_or_string() and code() terms do not count (nor, for code(), a one-line
// string), must not make the rule fire, or it fires only without the prefilter.
//
// The variants take the words that a rule looks for out of the code and put them where only
// prose or strings hold them. They start from each fixture and example, whole and with one
// top-level definition alone (the prefilter looks at the whole file, and a word left in another
// function would keep the rule on), each as written and with its one-line strings made
// triple-quoted. For each rule that reports there, the names that spell a word of its prefilter are
// hidden one after another (see Form), for as long as the rule still reports without the
// prefilter; and every rule's words go into comments after every bracket. With and without the
// prefilter, every variant must give the same diagnostics. Before Context::code_text, 558 of the
// 14,220 variants differed, in OOM051, OOM153, OOM154, OOM201 and OOM202.
namespace {

// The words of a rule's prefilter terms, lower-cased (two bytes or more; letters, digits and `_`
// only). A name that contains one may be what the rule looks for.
std::vector<std::string> needs_words(std::span<const checks::Rule* const> rules) {
  std::vector<std::string> out;
  for (const checks::Rule* rule : rules) {
    for (const checks::Clause& clause : rule->prefilter().needs()) {
      for (const checks::Term& term : clause.any) {
        std::string w;
        bool word = term.bytes.size() >= 2;
        for (char c : term.bytes) {
          word = word && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
          w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
        if (word && std::find(out.begin(), out.end(), w) == out.end()) out.push_back(w);
      }
    }
  }
  return out;
}

// How the occurrences of a hidden name are written: `name` stands for the name, `zq1` for the
// fresh name that replaces it in the code.
enum class Form {
  Comment,  // `(zq1  # name\n)`, and `(obj.zq1  # name\n)` for an attribute
  String,   // `zq1["name"]`, and `getattr(obj, "name")` for an attribute
  Triple,   // `zq1["""name"""]`, and `getattr(obj, """name""")`
  Brackets, // `zq1` and `obj.zq1`, and `  # name\n` after every `(`, `[` and `,` in brackets
};
constexpr Form kForms[] = {Form::Comment, Form::String, Form::Triple, Form::Brackets};
constexpr std::string_view kFormNames[] = {"in a comment", "in a string",
                                           "in a triple-quoted string", "after brackets"};

using Hidden = std::map<std::string, std::string, std::less<>>; // name -> fresh name

// Rewrites a parsed file: the identifiers in `hidden` written in `form`, a comment holding
// `note` after every `(`, `[` and `,` between brackets (when not empty), and one-line strings
// made triple-quoted (when `triple_strings`). Identifiers that cannot become an expression
// (parameters, imports, keywords of arguments) and assigned attributes are only renamed.
class Rewriter {
public:
  Rewriter(std::string_view src, const Hidden& hidden, Form form, std::string note,
           bool triple_strings)
      : src_(src), hidden_(hidden), form_(form), note_(std::move(note)),
        triple_strings_(triple_strings) {}

  std::string run(Node root) {
    out_.clear();
    depth_ = 0;
    copy(0, root.start());
    emit(root, false);
    copy(root.end(), static_cast<uint32_t>(src_.size()));
    return std::move(out_);
  }

private:
  std::string_view src_;
  const Hidden& hidden_;
  Form form_;
  std::string note_;
  bool triple_strings_;
  std::string out_;
  int depth_ = 0; // brackets open around the current token

  void copy(uint32_t from, uint32_t to) {
    if (from < to && to <= src_.size()) out_.append(src_.substr(from, to - from));
  }
  static std::string quoted(std::string_view name, Form form) {
    std::string q = form == Form::String ? "\"" : "\"\"\"";
    return q + std::string(name) + q;
  }
  static std::string comment(std::string_view name) { return "  # " + std::string(name) + "\n"; }

  static bool plain_only(Node id) {
    Node p = id.parent();
    std::string_view k = p.kind();
    if (k == "parameters" || k == "lambda_parameters" || k == "typed_parameter" ||
        k == "list_splat_pattern" || k == "dictionary_splat_pattern" || k == "dotted_name" ||
        k == "aliased_import" || k == "import_from_statement" || k == "import_statement" ||
        k == "global_statement" || k == "nonlocal_statement" || k == "as_pattern_target" ||
        k == "keyword_pattern" || k == "type_parameter" || k == "case_pattern" || k == "ERROR") {
      return true;
    }
    if (k == "keyword_argument" || k == "default_parameter" || k == "typed_default_parameter" ||
        k == "named_expression" || k == "function_definition" || k == "class_definition") {
      return p.field("name") == id;
    }
    return false;
  }
  static bool is_target(Node a) {
    Node p = a.parent();
    std::string_view k = p.kind();
    if (k == "pattern_list" || k == "tuple_pattern" || k == "list_pattern" ||
        k == "as_pattern_target" || k == "delete_statement" || k == "ERROR") {
      return true;
    }
    if (k == "assignment" || k == "augmented_assignment" || k == "for_statement" ||
        k == "for_in_clause") {
      return p.field("left") == a;
    }
    return false;
  }
  const std::string* fresh(Node id) const {
    auto it = hidden_.find(id.text(src_));
    return it == hidden_.end() ? nullptr : &it->second;
  }

  void emit(Node n, bool in_string) {
    if (n.is("identifier")) {
      if (const std::string* f = fresh(n)) {
        std::string_view name = n.text(src_);
        if (in_string || form_ == Form::Brackets || plain_only(n)) {
          out_ += *f;
        } else if (form_ == Form::Comment) {
          out_ += "(" + *f + comment(name) + ")";
        } else {
          out_ += *f + "[" + quoted(name, form_) + "]";
        }
        return;
      }
    }
    if (n.is("attribute")) {
      if (const std::string* f = fresh(n.field("attribute"))) {
        std::string_view name = n.field("attribute").text(src_);
        std::string saved = std::move(out_);
        out_.clear();
        emit(n.field("object"), in_string);
        std::string obj = std::move(out_);
        out_ = std::move(saved);
        if (in_string || form_ == Form::Brackets || (form_ != Form::Comment && is_target(n))) {
          out_ += obj + "." + *f;
        } else if (form_ == Form::Comment) {
          out_ += "(" + obj + "." + *f + comment(name) + ")";
        } else {
          out_ += "getattr(" + obj + ", " + quoted(name, form_) + ")";
        }
        return;
      }
    }
    if (triple_strings_ && !in_string && n.is("string")) {
      // "x" -> """x""": not f-strings, nor strings whose text would end the triple quote early.
      std::string_view t = n.text(src_);
      size_t open = t.find_first_of("\"'");
      if (open != std::string_view::npos && t.size() >= open + 2) {
        std::string_view prefix = t.substr(0, open);
        char q = t[open];
        std::string_view body = t.substr(open + 1, t.size() - open - 2);
        bool one_line = t.back() == q && (t.size() == open + 2 || t[open + 1] != q);
        bool f = prefix.find_first_of("fFtT") != std::string_view::npos;
        if (one_line && !f && body.find(q) == std::string_view::npos && !body.ends_with('\\')) {
          std::string q3(3, q);
          out_ += std::string(prefix) + q3 + std::string(body) + q3;
          return;
        }
      }
    }
    if (n.child_count() == 0) {
      copy(n.start(), n.end());
      if (in_string) return;
      std::string_view k = n.kind();
      if (k == "(" || k == "[" || k == "{") ++depth_;
      if ((k == ")" || k == "]" || k == "}") && depth_ > 0) --depth_;
      if (!note_.empty() && (k == "(" || k == "[" || (k == "," && depth_ > 0))) {
        out_ += comment(note_);
      }
      return;
    }
    bool str = in_string || n.is("string");
    uint32_t at = n.start();
    for (Node c = n.first_child(); !c.null(); c = c.next_sibling()) {
      copy(at, c.start());
      emit(c, str);
      at = std::max(at, c.end());
    }
    copy(at, n.end());
  }
};

// The file, and the file with one of its top-level definitions alone (the others left out): the
// prefilter looks at the whole file, so a rule's words must leave the code of every definition
// before a rule that reads them from elsewhere shows.
std::vector<std::string> pieces_of(const std::string& text, Node root) {
  std::vector<std::string> out{text};
  auto is_definition = [](Node n) {
    return n.is("function_definition") || n.is("class_definition") || n.is("decorated_definition");
  };
  for (Node def : root.named_children()) {
    if (!is_definition(def)) continue;
    std::string piece;
    for (Node c : root.named_children()) {
      if (is_definition(c) && !(c == def)) continue;
      piece += std::string(c.text(text)) + "\n";
    }
    out.push_back(std::move(piece));
  }
  return out;
}

// The distinct identifiers of a parsed text whose lower-case spelling contains one of `words`.
std::vector<std::string> names_with(std::string_view text, Node root,
                                    const std::vector<std::string>& words) {
  std::vector<std::string> out;
  std::vector<Node> stack{root};
  while (!stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    if (n.is("identifier")) {
      std::string name(n.text(text)), lower;
      for (char c : name)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      bool relevant = std::any_of(words.begin(), words.end(), [&](const std::string& w) {
        return lower.find(w) != std::string::npos;
      });
      if (relevant && std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
    }
    for (uint32_t i = 0, c = n.child_count(); i < c; ++i)
      stack.push_back(n.child(i));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Variants checked, those whose diagnostics differ with and without the prefilter, and per rule
// that differs how often and the first such variant.
struct Tally {
  size_t variants = 0, mismatches = 0, seen = 0;
  std::map<std::string, std::pair<size_t, std::string>> by_rule;

  // The diagnostics without the prefilter (after comparing them with those with it).
  std::vector<checks::Diagnostic> compare(const checks::Engine& engine, const std::string& text,
                                          const std::string& what) {
    ++variants;
    // OOMLINT_DUMP_VARIANTS=OOM153.py prints the variants of that file, to see what is tried.
    if (const char* dump = std::getenv("OOMLINT_DUMP_VARIANTS"); dump && what.starts_with(dump)) {
      std::printf("==== %s\n%s\n", what.c_str(), text.c_str());
    }
    auto all = engine.check(text, /*no_prefilter=*/true);
    auto off = keys(all), on = keys(engine.check(text));
    seen += off.size();
    if (on == off) return all;
    ++mismatches;
    std::sort(on.begin(), on.end());
    std::sort(off.begin(), off.end());
    std::vector<Key> differ;
    std::set_symmetric_difference(on.begin(), on.end(), off.begin(), off.end(),
                                  std::back_inserter(differ));
    std::set<std::string> codes;
    for (const Key& k : differ)
      codes.insert(std::get<0>(k));
    for (const std::string& code : codes) {
      auto& [count, example] = by_rule[code];
      if (count++ == 0) example = what + ":\n" + text;
    }
    return all;
  }
};

// Every variant of one file under `settings`.
void check_variants(const std::string& file, const std::string& text,
                    const checks::Settings& settings, Tally& tally) {
  checks::Engine engine(settings);
  const std::vector<std::string> all_words = needs_words(engine.rules());
  std::string all_note;
  for (const std::string& w : all_words)
    all_note += (all_note.empty() ? "" : " ") + w;
  ts::Parser parser;
  ts::Tree tree = parser.parse(text);
  std::vector<std::string> bases;
  for (std::string& piece : pieces_of(text, tree.root())) {
    // The piece's one-line strings triple-quoted (`loaders["val"]` -> `loaders["""val"""]`).
    ts::Tree t = parser.parse(piece);
    bases.push_back(Rewriter(piece, {}, Form::Comment, "", true).run(t.root()));
    bases.push_back(std::move(piece));
  }
  for (size_t b = 0; b < bases.size(); ++b) {
    const std::string& base = bases[b];
    std::string where = file + (b < 2 ? "" : " (piece " + std::to_string(b / 2) + ")") +
                        (b % 2 ? "" : ", strings triple-quoted");
    ts::Tree t = parser.parse(base);
    Node root = t.root();
    tally.compare(engine, base, where);
    // Every rule's words in comments after brackets: a rule must not pick them up from there.
    tally.compare(engine, Rewriter(base, {}, Form::Brackets, all_note, false).run(root),
                  where + ", every rule's words after brackets");
    for (const checks::Rule* rule : engine.rules()) {
      checks::Engine alone(settings, {rule});
      if (alone.check(base, /*no_prefilter=*/true).empty()) continue;
      const std::array<const checks::Rule*, 1> one{rule};
      std::vector<std::string> names = names_with(base, root, needs_words(one));
      for (Form form : kForms) {
        // Hide one name after another for as long as the rule still reports without the
        // prefilter: what remains of its words is then where the form put them.
        Hidden hidden;
        std::string list;
        for (const std::string& name : names) {
          Hidden trial = hidden;
          trial.emplace(name, "zq" + std::to_string(trial.size() + 1));
          std::string note;
          for (const auto& [n, f] : trial)
            note += (note.empty() ? "" : " ") + n;
          std::string text2 =
              Rewriter(base, trial, form, form == Form::Brackets ? note : "", false).run(root);
          std::string what = where + ", " + std::string(rule->meta().code) + "'s names " + note +
                             " " + std::string(kFormNames[static_cast<int>(form)]);
          if (!tally.compare(alone, text2, what).empty()) hidden = std::move(trial);
        }
      }
    }
  }
}

} // namespace

TEST_CASE("each rule's needs hide nothing in variants of the fixtures",
          "[prefilter][fixtures][variants]") {
  namespace fs = std::filesystem;
  std::vector<std::pair<fs::path, checks::Settings>> files;
  for (const auto& path : test::fixture_files()) {
    checks::Settings settings = test::load_fixture(path).settings;
    settings.select = {"OOM"}; // every rule, under the fixture's options
    files.emplace_back(path, settings);
  }
  fs::path examples = test::source_dir() / "examples";
  if (fs::is_directory(examples)) {
    for (const auto& entry : fs::recursive_directory_iterator(examples)) {
      if (entry.is_regular_file() && entry.path().extension() == ".py")
        files.emplace_back(entry.path(), checks::Settings{});
    }
  }
  REQUIRE_FALSE(files.empty());
  Tally tally;
  for (const auto& [path, settings] : files)
    check_variants(path.filename().string(), test::read_file(path), settings, tally);
  std::string summary = std::to_string(tally.mismatches) + " of " + std::to_string(tally.variants) +
                        " variants differ with and without the prefilter";
  for (const auto& [code, entry] : tally.by_rule) {
    summary += "\n" + code + ": " + std::to_string(entry.first) + " variants, the first in " +
               entry.second;
  }
  {
    INFO(summary << "\n" << kUnsound);
    CHECK(tally.mismatches == 0);
  }
  CHECK(tally.variants > 1000); // not vacuous
  CHECK(tally.seen > 0);
}
