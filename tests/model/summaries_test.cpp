// checks/model/analysis.h: what a function does (Analysis::facts, call_facts, no_grad_at),
// composed through the calls of the file and of the project's modules, recursion included.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "cli/cli_test_support.h"
#include "model/model_support.h"
#include "model/project.h"

using oomlint::checks::FileContext;
using oomlint::checks::FunctionFacts;
using oomlint::checks::ProjectIndex;
using oomlint::test::Analysed;
using oomlint::test::TempDir;

namespace {

FunctionFacts facts_of(const Analysed& a, const char* qualified) {
  oomlint::ts::Node fn = a.flow().definition(qualified);
  if (fn.null()) throw std::runtime_error(std::string("no definition ") + qualified);
  return a.analysis().facts(fn);
}

} // namespace

TEST_CASE("summaries: a function's own effects", "[model][summaries]") {
  Analysed a("import argparse\n"
             "import torch\n"
             "def free():\n"
             "    torch.cuda.empty_cache()\n"
             "def start():\n"
             "    torch.cuda.memory._record_memory_history(max_entries=1000)\n"
             "def stop():\n"
             "    torch.cuda.memory._record_memory_history(enabled=None)\n"
             "def evaluate(model, x):\n"
             "    model.eval()\n"
             "    return model(x)\n"
             "def train_step(model, optimizer, x):\n"
             "    model(x).sum().backward()\n"
             "    optimizer.step()\n"
             "def get_args():\n"
             "    p = argparse.ArgumentParser()\n"
             "    return p.parse_args()\n"
             "def answer(flag):\n"
             "    if flag:\n"
             "        return 42\n"
             "    return 42\n"
             "def dead():\n"
             "    if False:\n"
             "        torch.cuda.empty_cache()\n"
             "def recovers():\n"
             "    try:\n"
             "        pass\n"
             "    except RuntimeError:\n"
             "        torch.cuda.empty_cache()\n"
             "def nothing():\n"
             "    return None\n");
  CHECK(facts_of(a, "free").flags == FunctionFacts::FreesCache);
  CHECK(facts_of(a, "start").flags == FunctionFacts::StartsMemoryHistory);
  CHECK(facts_of(a, "stop").flags == FunctionFacts::StopsMemoryHistory);
  FunctionFacts ev = facts_of(a, "evaluate");
  CHECK(ev.has(FunctionFacts::SetsEvalMode));
  CHECK(ev.has(FunctionFacts::RunsForward));
  CHECK(ev.has(FunctionFacts::ReturnsOutput));
  CHECK(ev.output_index == -1);
  CHECK_FALSE(ev.has(FunctionFacts::Trains));
  FunctionFacts step = facts_of(a, "train_step");
  CHECK(step.has(FunctionFacts::Trains));
  CHECK(step.has(FunctionFacts::RunsForward));
  CHECK(facts_of(a, "get_args").has(FunctionFacts::ReturnsParser));
  REQUIRE(facts_of(a, "answer").returns_const);
  CHECK(*facts_of(a, "answer").returns_const == oomlint::checks::Const::integer(42));
  // Dead branches and except handlers are not what the function does every time.
  CHECK(facts_of(a, "dead").flags == 0);
  CHECK(facts_of(a, "recovers").flags == 0);
  CHECK(facts_of(a, "nothing").flags == 0);
}

TEST_CASE("summaries: a function that runs without autograd", "[model][summaries][no_grad]") {
  Analysed a("import torch\n"
             "from torch import no_grad as ng\n"
             "@torch.no_grad()\n"
             "def deco(model, x):\n"
             "    return model(x)\n"
             "@ng()\n"
             "def aliased(model, x):\n"
             "    return model(x)\n"
             "@torch.inference_mode()\n"
             "def inference(model, x):\n"
             "    return model(x)\n"
             "@torch.inference_mode(False)\n"
             "def inference_off(model, x):\n"
             "    return model(x)\n"
             "def whole_body(model, x):\n"
             "    \"\"\"Docstring.\"\"\"\n"
             "    with torch.no_grad():\n"
             "        return model(x)\n"
             "def part_of_body(model, x):\n"
             "    with torch.no_grad():\n"
             "        y = model(x)\n"
             "    return model(y)\n"
             "def switched_off(model, x):\n"
             "    torch.set_grad_enabled(False)\n"
             "    return model(x)\n"
             "def switched_back(model, x):\n"
             "    torch.set_grad_enabled(False)\n"
             "    y = model(x)\n"
             "    torch.set_grad_enabled(True)\n"
             "    return model(y)\n"
             "def caller(model, x):\n"
             "    return deco(model, x)\n");
  for (const char* fn : {"deco", "aliased", "inference", "whole_body", "switched_off"}) {
    INFO(fn);
    FunctionFacts f = facts_of(a, fn);
    CHECK(f.has(FunctionFacts::NoGrad));
    // Without autograd, what it returns holds no graph.
    CHECK_FALSE(f.has(FunctionFacts::ReturnsOutput));
    CHECK(a.analysis().no_grad_at(a.after(std::string("def ") + fn, "model(x)")));
  }
  for (const char* fn : {"inference_off", "part_of_body", "switched_back"}) {
    INFO(fn);
    CHECK_FALSE(facts_of(a, fn).has(FunctionFacts::NoGrad));
  }
  // A forward pass under no_grad is no forward pass with a graph, for the callers too.
  CHECK_FALSE(facts_of(a, "deco").inherited() & FunctionFacts::RunsForward);
  CHECK_FALSE(facts_of(a, "caller").has(FunctionFacts::RunsForward));
  CHECK_FALSE(a.analysis().no_grad_at(a.after("def part_of_body", "model(y)")));
  CHECK(a.analysis().no_grad_at(a.after("def part_of_body", "model(x)")));
}

TEST_CASE("summaries: decorators of the file that wrap no_grad", "[model][summaries][no_grad]") {
  Analysed a("import functools\n"
             "import torch\n"
             "def no_grad_eval(fn):\n"
             "    @functools.wraps(fn)\n"
             "    def wrapper(*args, **kwargs):\n"
             "        with torch.no_grad():\n"
             "            return fn(*args, **kwargs)\n"
             "    return wrapper\n"
             "def evaluation(enabled=True):\n"
             "    def decorate(fn):\n"
             "        return torch.inference_mode()(fn)\n"
             "    return decorate\n"
             "def timed(fn):\n"
             "    def wrapper(*args, **kwargs):\n"
             "        return fn(*args, **kwargs)\n"
             "    return wrapper\n"
             "@no_grad_eval\n"
             "def one(model, x):\n"
             "    return model(x)\n"
             "@evaluation()\n"
             "def two(model, x):\n"
             "    return model(x)\n"
             "@timed\n"
             "def three(model, x):\n"
             "    return model(x)\n");
  CHECK(facts_of(a, "no_grad_eval").has(FunctionFacts::NoGradDecorator));
  CHECK(facts_of(a, "evaluation").has(FunctionFacts::NoGradDecorator));
  CHECK_FALSE(facts_of(a, "timed").has(FunctionFacts::NoGradDecorator));
  CHECK(facts_of(a, "one").has(FunctionFacts::NoGrad));
  CHECK(facts_of(a, "two").has(FunctionFacts::NoGrad));
  CHECK_FALSE(facts_of(a, "three").has(FunctionFacts::NoGrad));
  CHECK(a.analysis().no_grad_at(a.after("def one", "model(x)")));
  CHECK(a.analysis().no_grad_at(a.after("def two", "model(x)")));
  CHECK_FALSE(a.analysis().no_grad_at(a.after("def three", "model(x)")));
}

TEST_CASE("summaries: a helper called only under no_grad runs without autograd",
          "[model][summaries][no_grad]") {
  Analysed a("import torch\n"
             "def _forward(model, x):\n"
             "    return model(x)\n"
             "def _shared(model, x):\n"
             "    return model(x)\n"
             "def evaluate(model, x):\n"
             "    with torch.no_grad():\n"
             "        _forward(model, x)\n"
             "        _shared(model, x)\n"
             "def train(model, x):\n"
             "    _shared(model, x).sum().backward()\n");
  CHECK(a.analysis().no_grad_at(a.after("def _forward", "model(x)")));
  CHECK_FALSE(a.analysis().no_grad_at(a.after("def _shared", "model(x)")));
}

TEST_CASE("summaries: a loss returned alone, in a tuple, or off the graph", "[model][summaries]") {
  Analysed a("import torch.nn.functional as F\n"
             "def plain(logits, y):\n"
             "    return F.cross_entropy(logits, y)\n"
             "def pair(model, x, y):\n"
             "    out = model(x)\n"
             "    loss = F.cross_entropy(out, y)\n"
             "    return out.argmax(-1), loss\n"
             "def logged(logits, y):\n"
             "    loss = F.cross_entropy(logits, y)\n"
             "    return loss, {'ce': loss.item()}\n"
             "def value(logits, y):\n"
             "    return F.cross_entropy(logits, y).item()\n"
             "def detached(logits, y):\n"
             "    return F.cross_entropy(logits, y).detach(), 0\n"
             "def through(logits, y):\n"
             "    return plain(logits, y)\n"
             "for x, y in loader:\n"
             "    a = plain(x, y)\n"
             "    _, b = pair(m, x, y)\n"
             "    c = logged(x, y)[0]\n"
             "    d = value(x, y)\n"
             "    e, _ = detached(x, y)\n"
             "    f = through(x, y)\n");
  FunctionFacts plain = facts_of(a, "plain");
  CHECK(plain.has(FunctionFacts::ReturnsLoss));
  CHECK(plain.loss_index == -1);
  FunctionFacts pair = facts_of(a, "pair");
  CHECK(pair.has(FunctionFacts::ReturnsLoss));
  CHECK(pair.loss_index == 1);
  CHECK(facts_of(a, "logged").loss_index == 0);
  CHECK_FALSE(facts_of(a, "value").has(FunctionFacts::ReturnsLoss));
  CHECK_FALSE(facts_of(a, "detached").has(FunctionFacts::ReturnsLoss));
  CHECK(facts_of(a, "through").has(FunctionFacts::ReturnsLoss));
  // At the call sites: the element that holds the loss.
  using A = oomlint::checks::Analysis;
  CHECK(a.analysis().tensor(a.at("plain(x, y)")) == (A::kLoss | A::kGraph));
  CHECK(a.analysis().tensor(a.in("_, b = pair", "b")) & A::kLoss);
  CHECK(a.analysis().tensor(a.at("logged(x, y)[0]")) & A::kLoss);
  CHECK_FALSE(a.analysis().tensor(a.at("value(x, y)")) & A::kLoss);
  CHECK_FALSE(a.analysis().tensor(a.in("e, _ = detached", "e")) & A::kGraph);
  CHECK(a.analysis().tensor(a.at("through(x, y)")) & A::kLoss);
}

TEST_CASE("summaries: the cache is freed on every call only outside a condition of its own",
          "[model][summaries]") {
  Analysed a("import torch\n"
             "def periodic(step):\n"
             "    if step % 100 == 0:\n"
             "        torch.cuda.empty_cache()\n"
             "def on_gpu():\n"
             "    if torch.cuda.is_available():\n"
             "        torch.cuda.empty_cache()\n"
             "def otherwise(flag):\n"
             "    if torch.cuda.is_available():\n"
             "        pass\n"
             "    else:\n"
             "        torch.cuda.empty_cache()\n"
             "def through(step):\n"
             "    periodic(step)\n"
             "def always():\n"
             "    on_gpu()\n");
  CHECK_FALSE(facts_of(a, "periodic").has(FunctionFacts::FreesCache));
  CHECK(facts_of(a, "on_gpu").has(FunctionFacts::FreesCache));
  CHECK_FALSE(facts_of(a, "otherwise").has(FunctionFacts::FreesCache));
  CHECK_FALSE(facts_of(a, "through").has(FunctionFacts::FreesCache));
  CHECK(facts_of(a, "always").has(FunctionFacts::FreesCache));
}

TEST_CASE("summaries: a helper that keeps an argument in a container it outlives",
          "[model][summaries]") {
  Analysed a("import torch\n"
             "def record(totals, loss):\n"
             "    totals.append(loss)\n"
             "def add(stats, key, value):\n"
             "    stats[key] += value\n"
             "def number(totals, loss):\n"
             "    totals.append(loss.item())\n"
             "def rebinds(total, loss):\n"
             "    total += loss\n"
             "    return total\n"
             "class Tracker:\n"
             "    def update(self, loss):\n"
             "        self.losses.append(loss)\n"
             "    @staticmethod\n"
             "    def put(box, x):\n"
             "        box.append(x)\n");
  FunctionFacts r = facts_of(a, "record");
  CHECK(r.has(FunctionFacts::Accumulates));
  CHECK(r.accum_value == 1);
  CHECK(r.accum_into == 0);
  FunctionFacts d = facts_of(a, "add");
  CHECK(d.has(FunctionFacts::Accumulates));
  CHECK(d.accum_value == 2);
  CHECK(d.accum_into == 0);
  CHECK_FALSE(facts_of(a, "number").has(FunctionFacts::Accumulates));
  CHECK_FALSE(facts_of(a, "rebinds").has(FunctionFacts::Accumulates));
  FunctionFacts u = facts_of(a, "Tracker.update");
  CHECK(u.has(FunctionFacts::Accumulates));
  CHECK(u.accum_value == 0);
  CHECK(u.accum_into == -1);
  FunctionFacts p = facts_of(a, "Tracker.put");
  CHECK(p.accum_value == 1);
  CHECK(p.accum_into == 0);
}

TEST_CASE("summaries: recursion terminates and facts compose along a call chain",
          "[model][summaries][recursion]") {
  std::string text = "import torch\n"
                     "def countdown(n):\n"
                     "    if n:\n"
                     "        return countdown(n - 1)\n"
                     "    torch.cuda.empty_cache()\n"
                     "def ping(n):\n"
                     "    pong(n)\n"
                     "    torch.cuda.empty_cache()\n"
                     "def pong(n):\n"
                     "    ping(n)\n"
                     "def a():\n"
                     "    b()\n"
                     "def b():\n"
                     "    c()\n"
                     "def c():\n"
                     "    d()\n"
                     "def d():\n"
                     "    torch.cuda.memory._record_memory_history()\n";
  Analysed a(text);
  CHECK(facts_of(a, "countdown").has(FunctionFacts::FreesCache));
  CHECK(facts_of(a, "a").has(FunctionFacts::StartsMemoryHistory));
  CHECK(facts_of(a, "b").has(FunctionFacts::StartsMemoryHistory));
  // Mutual recursion: each of ping and pong runs empty_cache(), whichever is asked first.
  SECTION("ping first") {
    CHECK(facts_of(a, "ping").has(FunctionFacts::FreesCache));
    CHECK(facts_of(a, "pong").has(FunctionFacts::FreesCache));
  }
  SECTION("pong first") {
    CHECK(facts_of(a, "pong").has(FunctionFacts::FreesCache));
    CHECK(facts_of(a, "ping").has(FunctionFacts::FreesCache));
  }
  // Methods through self.
  Analysed m("import torch\n"
             "class Runner:\n"
             "    def run(self):\n"
             "        self.cleanup()\n"
             "    def cleanup(self):\n"
             "        torch.cuda.empty_cache()\n");
  CHECK(facts_of(m, "Runner.run").has(FunctionFacts::FreesCache));
}

TEST_CASE("summaries: a decorator factory and helpers of other modules",
          "[model][summaries][project]") {
  TempDir dir;
  dir.write("pyproject.toml", "");
  dir.write("utils/__init__.py", "");
  dir.write("utils/decorators.py", "import torch\n"
                                   "def evaluation(enabled=True):\n"
                                   "    def decorate(fn):\n"
                                   "        return torch.inference_mode(enabled)(fn)\n"
                                   "    return decorate\n"
                                   "def passthrough(fn):\n"
                                   "    return fn\n");
  dir.write("utils/memory.py", "import torch\n"
                               "from .low import really_free\n"
                               "def free():\n"
                               "    really_free()\n");
  dir.write("utils/low.py", "import torch\n"
                            "def really_free():\n"
                            "    torch.cuda.empty_cache()\n");
  // Modules that import each other: summaries must not wait on each other.
  dir.write("cyc_a.py", "from cyc_b import g\n"
                        "def f():\n"
                        "    g()\n");
  dir.write("cyc_b.py", "import torch\n"
                        "from cyc_a import f\n"
                        "def g():\n"
                        "    f()\n"
                        "    torch.cuda.empty_cache()\n");
  std::string text = "from utils.decorators import evaluation, passthrough\n"
                     "from utils import memory\n"
                     "import cyc_a\n"
                     "@evaluation()\n"
                     "def ev(model, x):\n"
                     "    return model(x)\n"
                     "@passthrough\n"
                     "def plain(model, x):\n"
                     "    return model(x)\n"
                     "def cleanup():\n"
                     "    memory.free()\n"
                     "def loop():\n"
                     "    cyc_a.f()\n";
  ProjectIndex index(dir.path());
  Analysed a(text, FileContext{dir.path() / "main.py", &index});
  CHECK(facts_of(a, "ev").has(FunctionFacts::NoGrad));
  CHECK(a.analysis().no_grad_at(a.after("def ev", "model(x)")));
  CHECK_FALSE(facts_of(a, "plain").has(FunctionFacts::NoGrad));
  CHECK(facts_of(a, "cleanup").has(FunctionFacts::FreesCache));
  CHECK(facts_of(a, "loop").has(FunctionFacts::FreesCache));
  // Alone, the file knows none of it.
  Analysed alone(text);
  CHECK_FALSE(facts_of(alone, "ev").has(FunctionFacts::NoGrad));
  CHECK_FALSE(facts_of(alone, "cleanup").has(FunctionFacts::FreesCache));
}
