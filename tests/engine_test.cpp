// The engine and the source model, through small rules defined here.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/engine.h"
#include "engine/fixes.h"
#include "facts/grad_mode.h"
#include "facts/loops.h"
#include "fix_helpers.h"
#include "test_rule.h"
#include "ts.h"

using namespace oomlint::checks;
using oomlint::ts::Node;

namespace {

// Reports every call whose callee resolves to a qualified name, with what the model knows of it.
const oomlint::test::TestRule kProbe("OOM999", {"call"}, Prefilter{}, [](Node call, Context& cx) {
  auto q = cx.sema().callee_name(call);
  if (!q) return;
  std::string msg(*q);
  if (!cx.enclosing_loop(call).null()) msg += " loop";
  if (facts::is_step_loop(cx, cx.enclosing_loop(call))) msg += " step";
  if (facts::in_no_grad(cx)) msg += " nograd";
  cx.report(call, msg);
});

// Reports `bad(...)` calls with a fix replacing them by the text given as the first argument.
const oomlint::test::TestRule kReplace(
    "OOM998", {"call"}, requires_all(anywhere("bad")),
    [](Node call, Context& cx) {
      if (cx.text(Semantics::callee(call)) != "bad") return;
      auto replacement = cx.sema().string_value(Semantics::positional(call, 0));
      if (!replacement) return;
      cx.report(call, "bad")
          .fix("replace", Applicability::Safe,
               {Edit{call.start(), call.end(), std::string(*replacement)}});
    },
    FixAvailability::Always, Severity::Warning);

std::vector<std::string> probe(const std::string& text) {
  Engine engine(Settings{}, {&kProbe});
  std::vector<std::string> out;
  for (const auto& d : engine.check(text))
    out.push_back(d.message);
  return out;
}

} // namespace

TEST_CASE("names resolve through imports and aliases", "[model]") {
  auto msgs = probe("import torch as T\n"
                    "import torch.nn.functional as F\n"
                    "from torch.cuda import empty_cache as ec\n"
                    "from transformers import TrainingArguments as TA\n"
                    "import os.path\n"
                    "T.cuda.empty_cache()\n"
                    "ec()\n"
                    "TA(output_dir='x')\n"
                    "F.cross_entropy(a, b)\n"
                    "os.path.join('a')\n"
                    "local_fn()\n");
  CHECK(msgs == std::vector<std::string>{"torch.cuda.empty_cache", "torch.cuda.empty_cache",
                                         "transformers.TrainingArguments",
                                         "torch.nn.functional.cross_entropy", "os.path.join"});
}

TEST_CASE("a module-level definition or assignment shadows an import", "[model]") {
  auto msgs = probe("from torch.cuda import empty_cache\n"
                    "empty_cache()\n"
                    "def empty_cache():\n"
                    "    pass\n"
                    "empty_cache()\n");
  CHECK(msgs.size() == 1);
  auto aliased = probe("import torch\nec = torch.cuda.empty_cache\nec()\n");
  CHECK(aliased == std::vector<std::string>{"torch.cuda.empty_cache"});
}

TEST_CASE("a method named like an import does not shadow it", "[model]") {
  auto msgs = probe("from torch.cuda import empty_cache\n"
                    "class Trainer:\n"
                    "    def empty_cache(self):\n"
                    "        pass\n"
                    "empty_cache()\n");
  CHECK(msgs == std::vector<std::string>{"torch.cuda.empty_cache"});
  auto nested = probe("from torch.cuda import empty_cache\n"
                      "def f():\n"
                      "    def empty_cache():\n"
                      "        pass\n"
                      "    alias = empty_cache\n"
                      "    alias()\n");
  CHECK(nested.empty());
}

TEST_CASE("a remembered name is dropped when the bindings change", "[model]") {
  // The model remembers qualified names per node; asking again about the same node after an
  // assignment rebinds (or unbinds) its root name must give the new answer, not the old one.
  std::string text = "import torch\n"
                     "torch.cuda.empty_cache()\n"
                     "torch = make()\n"
                     "import numpy as torch\n";
  oomlint::ts::Parser parser;
  oomlint::ts::Tree tree = parser.parse(text);
  Node root = tree.root();
  Semantics m(text);
  m.enter(root.named_child(0), Node(), false);
  Node call = root.named_child(1).named_child(0);
  REQUIRE(call.is("call"));
  Node attr = Semantics::callee(call).child(0); // torch.cuda
  CHECK(m.callee_name(call) == std::optional<std::string_view>("torch.cuda.empty_cache"));
  CHECK(m.qualified_name(attr) == std::optional<std::string_view>("torch.cuda"));
  auto view = m.callee_name(call); // stays valid after the bindings change
  m.enter(root.named_child(2).named_child(0), Node(), false); // torch = make()
  CHECK_FALSE(m.callee_name(call));
  CHECK_FALSE(m.qualified_name(attr));
  m.enter(root.named_child(3), Node(), false); // import numpy as torch
  CHECK(m.callee_name(call) == std::optional<std::string_view>("numpy.cuda.empty_cache"));
  CHECK(m.qualified_name(attr) == std::optional<std::string_view>("numpy.cuda"));
  CHECK(view == std::optional<std::string_view>("torch.cuda.empty_cache"));
  // Other expressions answer nothing without a lookup.
  CHECK_FALSE(m.qualified_name(call));
  CHECK_FALSE(m.qualified_name(Node()));
}

TEST_CASE("functions above their imports still resolve", "[model]") {
  auto msgs = probe("def f():\n    torch.cuda.synchronize()\n\nimport torch\n");
  CHECK(msgs == std::vector<std::string>{"torch.cuda.synchronize"});
}

TEST_CASE("loops, step loops and no_grad scopes are known", "[model]") {
  auto msgs = probe("import torch\n"
                    "for x in torch.arange(3):\n" // the iterable is not inside the loop
                    "    torch.relu(x)\n"
                    "for batch in loader:\n"
                    "    torch.relu(batch)\n"
                    "for epoch in range(3):\n"
                    "    loss.backward()\n"
                    "    torch.sigmoid(epoch)\n"
                    "with torch.no_grad():\n"
                    "    torch.tanh(a)\n"
                    "@torch.inference_mode()\n"
                    "def ev():\n"
                    "    torch.exp(a)\n"
                    "with torch.set_grad_enabled(False):\n"
                    "    torch.log(a)\n"
                    "with torch.inference_mode(False):\n"
                    "    torch.abs(a)\n"
                    "[torch.sin(v) for v in vs]\n");
  CHECK(msgs == std::vector<std::string>{
                    "torch.arange", "torch.relu loop", "torch.relu loop step",
                    "torch.sigmoid loop step", "torch.no_grad", "torch.tanh nograd",
                    "torch.inference_mode", "torch.exp nograd", "torch.set_grad_enabled",
                    "torch.log nograd", "torch.inference_mode", "torch.abs", "torch.sin loop"});
}

TEST_CASE("a set_grad_enabled(False) statement between two statements of a block", "[model]") {
  // Asked of the loops themselves, whose innermost ancestor is the same block: the answer for
  // the second one must not be the first one's.
  const oomlint::test::TestRule probe_loops(
      "OOM996", {"for_statement"}, Prefilter{}, [](Node n, Context& cx) {
        cx.report(n,
                  std::string(cx.text(n.field("left"))) + (facts::in_no_grad(cx) ? " nograd" : ""));
      });
  Engine engine(Settings{}, {&probe_loops});
  std::vector<std::string> msgs;
  for (const auto& d : engine.check("import torch\n"
                                    "def f(a, b, c):\n"
                                    "    for x in a:\n"
                                    "        pass\n"
                                    "    torch.set_grad_enabled(False)\n"
                                    "    for y in b:\n"
                                    "        pass\n"
                                    "    torch.set_grad_enabled(True)\n"
                                    "    for z in c:\n"
                                    "        pass\n")) {
    msgs.push_back(d.message);
  }
  CHECK(msgs == std::vector<std::string>{"x", "y nograd", "z"});
}

TEST_CASE("loss dataflow follows assignments", "[model]") {
  const oomlint::test::TestRule rule(
      "OOM997", {"expression_statement"}, Prefilter{}, [](Node n, Context& cx) {
        Node e = n.named_child(0);
        if (e.is("identifier") || e.is("call") || e.is("attribute") || e.is("subscript")) {
          if (cx.sema().is_loss_expr(e)) {
            cx.report(e, std::string(cx.text(e)));
          }
        }
      });
  Engine engine(Settings{}, {&rule});
  auto diags = engine.check("import torch.nn as nn\n"
                            "import torch.nn.functional as F\n"
                            "criterion = nn.CrossEntropyLoss()\n"
                            "loss = criterion(out, y)\n"
                            "loss\n"
                            "l2 = F.mse_loss(a, b)\n"
                            "l2\n"
                            "value = loss.item()\n"
                            "value\n"
                            "outputs.loss\n"
                            "outputs['loss']\n"
                            "args.loss\n"
                            "loss.detach()\n"
                            "float(loss)\n"
                            "loss.mean()\n"
                            "loss = loss.item()\n"
                            "loss\n");
  std::vector<std::string> got;
  for (const auto& d : diags)
    got.push_back(d.message);
  CHECK(got ==
        std::vector<std::string>{"loss", "l2", "outputs.loss", "outputs['loss']", "loss.mean()"});
}

TEST_CASE("fixes apply, overlap waits for the next round, and breaking fixes are dropped",
          "[engine][fix]") {
  Engine engine(Settings{}, {&kReplace});
  auto out = apply_fixes(engine, "x = bad('good()')\ny = bad(\"bad('ok()')\")\n", false);
  CHECK(out.text == "x = good()\ny = ok()\n");
  CHECK(out.applied == 3);
  CHECK(out.remaining.empty());

  auto broken = apply_fixes(engine, "x = bad('(((')\nz = bad('fine')\n", false);
  CHECK(broken.text == "x = bad('(((')\nz = fine\n");
  CHECK(broken.rejected == 1);
  CHECK(broken.remaining.size() == 1);
}

TEST_CASE("the prefilter skips files no rule can match", "[engine]") {
  Engine engine(Settings{}, {&kReplace});
  CHECK_FALSE(engine.may_match("print('hello')\n"));
  CHECK(engine.may_match("bad('x')\n"));
  Settings none;
  none.select = {"OOM1"};
  Engine disabled(none, {&kReplace});
  CHECK(disabled.rules().empty());
  CHECK(disabled.check("bad('x')\n").empty());
}

TEST_CASE("selection uses the most specific prefix", "[settings]") {
  Settings s;
  s.select = {"OOM"};
  s.ignore = {"OOM2"};
  CHECK_FALSE(s.is_enabled("OOM203"));
  CHECK(s.is_enabled("OOM151"));
  s.select = {"OOM", "OOM203"};
  CHECK(s.is_enabled("OOM203"));
  CHECK_FALSE(s.is_enabled("OOM201"));
  s.ignore = {"OOM203"};
  CHECK_FALSE(s.is_enabled("OOM203"));
}

TEST_CASE("a cancelled check stops early", "[engine]") {
  Engine engine(Settings{}, {&kProbe});
  std::string text;
  for (int i = 0; i < 2000; ++i)
    text += "import torch\ntorch.relu(x)\n";
  oomlint::ts::Parser parser;
  auto tree = parser.parse(text);
  std::atomic<bool> cancel{true};
  CHECK(engine.check(text, tree, &cancel).size() < 2000);
  CHECK(engine.check(text, tree).size() == 2000);
}

TEST_CASE("fix helpers keep the layout valid", "[fix]") {
  oomlint::ts::Parser parser;
  auto kw = [&](std::string text) {
    auto tree = parser.parse(text);
    Node call = tree.root().named_child(0).named_child(0);
    REQUIRE(call.is("call"));
    auto edits = add_keyword_argument(text, call, "k", "1");
    REQUIRE(edits);
    std::sort(edits->begin(), edits->end(), [](auto& a, auto& b) { return a.start > b.start; });
    for (auto& e : *edits)
      text.replace(e.start, e.end - e.start, e.text);
    return text;
  };
  CHECK(kw("f()\n") == "f(k=1)\n");
  CHECK(kw("f(a)\n") == "f(a, k=1)\n");
  CHECK(kw("f(a,)\n") == "f(a, k=1,)\n");
  CHECK(kw("f(\n    a=1,\n    b=2,\n)\n") == "f(\n    a=1,\n    b=2,\n    k=1,\n)\n");
  CHECK(kw("f(\n    a=1,\n    b=2  # why\n)\n") == "f(\n    a=1,\n    b=2,  # why\n    k=1\n)\n");
  CHECK(kw("f(a=1,\n  b=2)\n") == "f(a=1,\n  b=2, k=1)\n");
}

TEST_CASE("null nodes answer nothing instead of crashing", "[ts]") {
  Node n;
  CHECK(n.null());
  CHECK(n.kind().empty());
  CHECK(n.text("abc").empty());
  CHECK(n.field("function").null());
  CHECK(n.named_child_count() == 0);
  CHECK(n.parent().null());
  CHECK(n == Node());
}

TEST_CASE("the whole catalogue survives bare calls in loops (real-code crash)", "[engine]") {
  // From a real script: `val_loss = evaluate(val_data)` inside an epoch loop, with a local
  // `evaluate` function, used to crash a rule that asked for the call's receiver.
  Engine engine{Settings{}};
  std::string text = "def evaluate(data):\n"
                     "    return data\n"
                     "\n"
                     "for epoch in range(3):\n"
                     "    val_loss = evaluate(epoch)\n"
                     "    print(val_loss)\n";
  CHECK_NOTHROW(engine.check(text, true));
}

TEST_CASE("append_named_children gives named_child(i) for every i", "[ts]") {
  // Few children (indexed walk) and many (cursor walk), with comments (named extras),
  // anonymous punctuation and keyword children in between.
  std::string src = "import torch\n";
  for (int i = 0; i < 40; ++i) {
    src += "x" + std::to_string(i) + " = f(a, b, *c, d=1, **e)  # note " + std::to_string(i) + "\n";
  }
  src += "def g(p, q=2, *r, s, **t):\n    return [v for v in p if v], {k: 1 for k in q}, (1, 2)\n";
  oomlint::ts::Parser parser;
  oomlint::ts::Tree tree = parser.parse(src);
  std::vector<oomlint::ts::Node> stack{tree.root()};
  size_t compared = 0, big = 0;
  while (!stack.empty()) {
    oomlint::ts::Node n = stack.back();
    stack.pop_back();
    std::vector<oomlint::ts::Node> kids = n.named_children();
    REQUIRE(kids.size() == n.named_child_count());
    for (uint32_t i = 0; i < kids.size(); ++i) {
      CHECK(kids[i] == n.named_child(i));
      stack.push_back(kids[i]);
    }
    compared += kids.size();
    if (kids.size() > 8) ++big;
  }
  CHECK(compared > 400);
  CHECK(big >= 1); // the module: the cursor path ran
  // for_each_named_child: the same children in the same order, and it stops when asked.
  std::vector<oomlint::ts::Node> seen;
  tree.root().for_each_named_child([&](oomlint::ts::Node c) {
    seen.push_back(c);
    return true;
  });
  CHECK(seen == tree.root().named_children());
  size_t visits = 0;
  tree.root().for_each_named_child([&](oomlint::ts::Node c) {
    ++visits;
    return !c.is("comment");
  });
  CHECK(visits == 3); // import, x0 = ..., the comment after it
  oomlint::ts::Node().for_each_named_child([&](oomlint::ts::Node) { return ++visits > 0; });
  CHECK(visits == 3);
}

TEST_CASE("a comment inside a call's parentheses is no argument", "[model][engine]") {
  oomlint::ts::Parser parser;
  auto tree = parser.parse("f(  # nothing\n)\ng(a,  # one\n  b=2)\n");
  Node root = tree.root();
  Node f = root.named_child(0).named_child(0), g = root.named_child(1).named_child(0);
  REQUIRE(f.is("call"));
  REQUIRE(g.is("call"));
  CHECK(Semantics::argument_count(f) == 0);
  CHECK(Semantics::argument_count(g) == 2);
  CHECK(Semantics::argument_count(root) == 0);
  // OOM153 reads `model.eval()` as the switch to evaluation only when it has no argument.
  auto script = [](std::string_view eval_call) {
    return "import torch\n\n"
           "device = torch.device(\"cuda\")\n\n"
           "def score(model, batches):\n"
           "    " +
           std::string(eval_call) +
           "\n"
           "    for b in batches:\n"
           "        print(model(b))\n";
  };
  Engine engine{Settings{}};
  auto codes = [&](const std::string& text) {
    std::vector<std::string> out;
    for (const auto& d : engine.check(text))
      out.push_back(d.code);
    return out;
  };
  auto plain = codes(script("model.eval()"));
  REQUIRE(std::count(plain.begin(), plain.end(), "OOM153") == 1);
  CHECK(codes(script("model.eval(  # no dropout from here on\n    )")) == plain);
  CHECK(codes(script("model.eval(True)")).empty());
}
