// checks/model/flow.h: scopes, bindings, reaching definitions and attribute bindings.
// Each reaching() answer is written "LINE:kind" per binding (the line of the bound name).
#include <catch2/catch.hpp>

#include <string>

#include "model/model_support.h"

using oomlint::checks::Binding;
using oomlint::checks::Flow;
using oomlint::test::Analysed;

TEST_CASE("flow: the last assignment on a straight path kills the earlier ones", "[model][flow]") {
  Analysed a("x = 1\n"
             "x = 2\n"
             "print(x)\n"
             "y = x\n"
             "x = 3\n");
  CHECK(a.reaching("print(x)", "x") == "2:assign");
  CHECK(a.reaching("y = x", "x") == "2:assign");
  // A name nothing binds (a builtin) reaches nothing.
  CHECK(a.reaching("print(x)", "print").empty());
}

TEST_CASE("flow: if / elif / else merge their bindings", "[model][flow]") {
  SECTION("every branch binds: the earlier binding is dead") {
    Analysed a("x = 1\n"
               "if c:\n"
               "    x = 2\n"
               "elif d:\n"
               "    x = 3\n"
               "else:\n"
               "    x = 4\n"
               "print(x)\n");
    CHECK(a.reaching("print(x)", "x") == "3:assign 5:assign 7:assign");
  }
  SECTION("no else: the binding before the if may reach too") {
    Analysed a("x = 1\n"
               "if c:\n"
               "    x = 2\n"
               "elif d:\n"
               "    x = 3\n"
               "print(x)\n");
    CHECK(a.reaching("print(x)", "x") == "1:assign 3:assign 5:assign");
  }
  SECTION("one branch does not bind: the earlier binding may reach") {
    Analysed a("x = 1\n"
               "if c:\n"
               "    x = 2\n"
               "else:\n"
               "    pass\n"
               "print(x)\n");
    CHECK(a.reaching("print(x)", "x") == "1:assign 3:assign");
  }
  SECTION("a use inside a branch sees that branch's binding only") {
    Analysed a("x = 1\n"
               "if c:\n"
               "    x = 2\n"
               "    print(x)\n"
               "else:\n"
               "    print(x)\n");
    CHECK(a.reaching("print(x)\n", "x", 0) == "3:assign");
    CHECK(a.reaching("print(x)\n", "x", 1) == "1:assign");
  }
  SECTION("nested ifs") {
    Analysed a("x = 0\n"
               "if a:\n"
               "    if b:\n"
               "        x = 1\n"
               "    else:\n"
               "        x = 2\n"
               "else:\n"
               "    x = 3\n"
               "print(x)\n");
    CHECK(a.reaching("print(x)", "x") == "4:assign 6:assign 8:assign");
  }
}

TEST_CASE("flow: loops carry their bindings and may not run", "[model][flow]") {
  SECTION("for: a binding later in the body reaches the next iteration") {
    Analysed a("x = 0\n"
               "for i in range(3):\n"
               "    print(x)\n"
               "    x = i\n"
               "print(x)\n");
    CHECK(a.reaching("    print(x)", "x") == "1:assign 4:assign");
    CHECK(a.reaching("\nprint(x)", "x") == "1:assign 4:assign");
  }
  SECTION("for: its target is rebound on every iteration") {
    Analysed a("i = -1\n"
               "for i in range(3):\n"
               "    print(i)\n"
               "    i = 10\n"
               "print(i)\n");
    CHECK(a.reaching("    print(i)", "i") == "2:for");
    // After the loop: the loop may not have run, or ran and rebound i.
    CHECK(a.reaching("\nprint(i)", "i") == "1:assign 2:for 4:assign");
  }
  SECTION("while: the body may not run") {
    Analysed a("n = 0\n"
               "while cond():\n"
               "    n = n + 1\n"
               "print(n)\n");
    CHECK(a.reaching("print(n)", "n") == "1:assign 3:assign");
    CHECK(a.reaching("= n + 1", "n") == "1:assign 3:assign");
  }
  SECTION("a with statement's body always runs") {
    Analysed a("x = 1\n"
               "with ctx():\n"
               "    x = 2\n"
               "print(x)\n");
    CHECK(a.reaching("print(x)", "x") == "3:assign");
  }
  SECTION("try: any binding of the body may have run in a handler") {
    Analysed a("x = 1\n"
               "try:\n"
               "    x = 2\n"
               "    x = 3\n"
               "except ValueError:\n"
               "    print(x)\n");
    CHECK(a.reaching("print(x)", "x") == "1:assign 3:assign 4:assign");
  }
}

TEST_CASE("flow: tuple unpacking records the place of each target", "[model][flow]") {
  Analysed a("a, (b, c) = 1, (2, 3)\n"
             "first, *rest = items\n"
             "print(a, b, c, rest)\n");
  const Binding* c = nullptr;
  const Binding* rest = nullptr;
  const Binding* first = nullptr;
  for (const Binding& b : a.flow().all_bindings()) {
    if (a.text(b.target) == "c") c = &b;
    if (a.text(b.target) == "rest") rest = &b;
    if (a.text(b.target) == "first") first = &b;
  }
  REQUIRE(c != nullptr);
  REQUIRE(rest != nullptr);
  REQUIRE(first != nullptr);
  CHECK(c->kind == Binding::Kind::Assign);
  CHECK(c->depth == 2);
  CHECK(c->path[0] == 1);
  CHECK(c->path[1] == 1);
  CHECK_FALSE(c->starred);
  CHECK(rest->starred);
  CHECK(rest->depth == 1);
  CHECK(rest->path[0] == 1);
  CHECK_FALSE(first->starred);
  CHECK(first->path[0] == 0);
  CHECK(a.reaching("print(a, b, c, rest)", "c") == "1:assign");
  // The element each name takes from a value written out as a tuple.
  CHECK(a.value(a.in("print(a, b, c, rest)", "a")) == "1");
  CHECK(a.value(a.in("print(a, b, c, rest)", "b")) == "2");
  CHECK(a.value(a.in("print(a, b, c, rest)", "c")) == "3");
  CHECK(a.value(a.in("print(a, b, c, rest)", "rest")) == "unknown");
}

TEST_CASE("flow: walrus bindings", "[model][flow]") {
  SECTION("in a while condition, seen by the body") {
    Analysed a("while (chunk := read()):\n"
               "    use(chunk)\n");
    CHECK(a.reaching("use(chunk)", "chunk") == "1:walrus");
  }
  SECTION("earlier in the same condition") {
    Analysed a("if (n := 5) and n > 2:\n"
               "    pass\n");
    CHECK(a.reaching("n > 2", "n") == "1:walrus");
  }
  SECTION("in a comprehension, it binds in the function around it") {
    Analysed a("def f(xs):\n"
               "    ys = [y for x in xs if (y := x)]\n"
               "    return y\n");
    CHECK(a.reaching("return y", "y") == "2:walrus");
    const Binding* y = nullptr;
    for (const Binding& b : a.flow().all_bindings()) {
      if (b.kind == Binding::Kind::Walrus) y = &b;
    }
    REQUIRE(y != nullptr);
    CHECK(a.flow().scope(y->scope).kind == Flow::Scope::Kind::Function);
  }
}

TEST_CASE("flow: each statement kind binds its names", "[model][flow]") {
  Analysed a("import torch.nn as nn\n"
             "import os.path\n"
             "from a import b as c, d\n"
             "with open(p) as fh, lock:\n"
             "    pass\n"
             "try:\n"
             "    pass\n"
             "except ValueError as err:\n"
             "    print(err)\n"
             "def f(p, q=1, *args, k: int = 2, **kw):\n"
             "    pass\n"
             "class C:\n"
             "    pass\n"
             "total += 1\n"
             "del fh\n"
             "print(fh)\n");
  std::string all;
  for (const Binding& b : a.flow().all_bindings()) {
    all += std::string(a.text(b.target)) + "=" + Analysed::kind_name(b.kind) + " ";
  }
  CHECK(all == "nn=import os=import c=import d=import fh=with err=except p=param q=param "
               "args=param k=param kw=param f=def C=class total=augassign fh=del ");
  CHECK(a.reaching("print(err)", "err") == "8:except");
  CHECK(a.reaching("print(fh)", "fh") == "15:del");
}

TEST_CASE("flow: comprehensions have their own scope", "[model][flow]") {
  Analysed a("x = 'outer'\n"
             "ys = [x * 2 for x in range(3) if x]\n"
             "print(x)\n");
  // The comprehension's variable does not leak into the module.
  CHECK(a.reaching("print(x)", "x") == "1:assign");
  // Its condition sees the comprehension's own variable.
  oomlint::ts::Node cond = a.in("if x]", "x");
  CHECK(a.reaching(cond) == "2:for");
  CHECK(a.flow().scope(a.flow().scope_of(cond)).kind == Flow::Scope::Kind::Comprehension);
  CHECK(a.value(a.in("print(x)", "x")) == "'outer'");
}

TEST_CASE("flow: a parameter's default is evaluated in the scope around the function",
          "[model][flow]") {
  Analysed a("lr = 0.1\n"
             "def train(lr=lr, *, wd: float = lr):\n"
             "    return lr\n"
             "lr = 0.5\n");
  oomlint::ts::Node def = a.at("lr=lr");
  oomlint::ts::Node value = def.field("value");
  REQUIRE(a.text(value) == "lr");
  CHECK(a.flow().scope_of(value) == 0);
  CHECK(a.reaching(value) == "1:assign");
  CHECK(a.reaching(a.at("wd: float = lr").field("value")) == "1:assign");
  // The body sees the parameter.
  CHECK(a.reaching("return lr", "lr") == "2:param");
  oomlint::ts::Node body_use = a.in("return lr", "lr");
  CHECK(a.flow().scope(a.flow().scope_of(body_use)).kind == Flow::Scope::Kind::Function);
  CHECK(a.text(a.flow().function_of(body_use).field("name")) == "train");
  CHECK(a.flow().function_of(value).null());
}

TEST_CASE("flow: a function sees the module's names as they are at the end of the module",
          "[model][flow]") {
  Analysed a("def train():\n"
             "    return BATCH\n"
             "BATCH = 8\n"
             "if fast:\n"
             "    BATCH = 16\n"
             "print(BATCH)\n");
  CHECK(a.reaching("return BATCH", "BATCH") == "3:assign 5:assign");
  CHECK(a.reaching("print(BATCH)", "BATCH") == "3:assign 5:assign");
  // At module level, a use before any binding reaches nothing.
  Analysed b("print(Y)\n"
             "Y = 1\n");
  CHECK(b.reaching("print(Y)", "Y").empty());
}

TEST_CASE("flow: nested functions see their enclosing function's names at its end",
          "[model][flow]") {
  Analysed a("v = 0\n"
             "def outer():\n"
             "    def inner():\n"
             "        return v\n"
             "    v = 1\n"
             "    v = 2\n"
             "    return inner\n");
  CHECK(a.reaching("return v", "v") == "6:assign");
}

TEST_CASE("flow: methods do not see their class's names", "[model][flow]") {
  Analysed a("size = 1\n"
             "class K:\n"
             "    size = 2\n"
             "    double = size * 2\n"
             "    def m(self):\n"
             "        return size\n");
  CHECK(a.reaching("return size", "size") == "1:assign");
  // The class body itself does.
  CHECK(a.reaching("double = size", "size") == "3:assign");
}

TEST_CASE("flow: a name declared global in a function binds in the module", "[model][flow]") {
  Analysed a("def setup():\n"
             "    global DEVICE\n"
             "    DEVICE = 'cuda'\n"
             "    print(DEVICE)\n");
  auto bs = a.flow().bindings(0, "DEVICE");
  REQUIRE(bs.size() == 1);
  CHECK(bs[0]->kind == Binding::Kind::Assign);
  oomlint::ts::Node setup = a.flow().definition("setup");
  REQUIRE_FALSE(setup.null());
  CHECK(a.flow().bindings(a.flow().scope_opened_by(setup), "DEVICE").empty());
  CHECK(a.flow().scope(0).kind == Flow::Scope::Kind::Module);
}

TEST_CASE("flow: attributes that methods set on self", "[model][flow]") {
  Analysed a("class Trainer:\n"
             "    def __init__(self, cfg):\n"
             "        self.fp16 = True\n"
             "        self.steps = 0\n"
             "        self.cfg = cfg\n"
             "    def step(this):\n"
             "        this.steps += 1\n"
             "        other.steps = 5\n"
             "def outside(t):\n"
             "    t.fp16 = False\n"
             "    t.model.config.use_cache = False\n");
  const Flow& f = a.flow();
  oomlint::ts::Node cls = f.definition("Trainer");
  REQUIRE_FALSE(cls.null());
  CHECK(cls.is("class_definition"));
  auto fp16 = f.attribute_bindings(cls, "fp16");
  REQUIRE(fp16.size() == 1);
  CHECK(a.text(fp16[0].value) == "True");
  CHECK(a.text(fp16[0].method.field("name")) == "__init__");
  CHECK_FALSE(fp16[0].augmented);
  // Through whatever the method's first parameter is called; augmented assignments count.
  auto steps = f.attribute_bindings(cls, "steps");
  REQUIRE(steps.size() == 2);
  CHECK_FALSE(steps[0].augmented);
  CHECK(steps[1].augmented);
  CHECK(a.text(steps[1].method.field("name")) == "step");
  CHECK(f.attribute_bindings(cls, "missing").empty());
  // Writes on any object, for the analyses that must know nothing else assigns it.
  CHECK(f.attribute_writes("fp16").size() == 2);
  CHECK(f.attribute_writes("steps").size() == 3);
  CHECK(f.attribute_writes("use_cache").size() == 1);
  // Methods, their class and definitions by name.
  oomlint::ts::Node step = f.definition("Trainer.step");
  REQUIRE_FALSE(step.null());
  CHECK(f.class_of_method(step) == cls);
  CHECK(f.class_of_method(f.definition("outside")).null());
  CHECK(f.definition("step").null());
  CHECK(f.definition("Trainer.outside").null());
  CHECK(f.functions().size() == 3);
  CHECK(f.classes().size() == 1);
}

TEST_CASE("flow: calls by name and scopes of definitions", "[model][flow]") {
  Analysed a("import torch\n"
             "def evaluate(model):\n"
             "    torch.cuda.empty_cache()\n"
             "    return model(x)\n"
             "class K:\n"
             "    def evaluate(self):\n"
             "        pass\n"
             "evaluate(m)\n"
             "k.evaluate()\n"
             "lambda: evaluate(n)\n");
  const Flow& f = a.flow();
  auto calls = f.calls_named("evaluate");
  REQUIRE(calls.size() == 3);
  CHECK(a.text(calls[0]) == "evaluate(m)");
  CHECK(a.text(calls[1]) == "k.evaluate()");
  CHECK(a.text(calls[2]) == "evaluate(n)");
  CHECK(f.calls_named("empty_cache").size() == 1);
  CHECK(f.calls_named("cuda").empty());
  // A function's name is bound in the scope around it; its body in its own.
  oomlint::ts::Node method = f.definition("K.evaluate");
  REQUIRE_FALSE(method.null());
  CHECK(f.scope(f.scope_of(method)).kind == Flow::Scope::Kind::Class);
  CHECK(f.scope(f.scope_opened_by(method)).kind == Flow::Scope::Kind::Function);
  oomlint::ts::Node lam = a.at("lambda: evaluate(n)");
  CHECK(f.scope(f.scope_opened_by(lam)).kind == Flow::Scope::Kind::Lambda);
  CHECK(f.function_of(a.at("evaluate(n)")) == lam);
  CHECK(f.scope_opened_by(a.at("evaluate(m)")) == -1);
}

TEST_CASE("flow: a loop's condition and else clause run after the body", "[model][flow]") {
  Analysed a("n = 0\n"
             "while n < 10:\n"
             "    n = n + 1\n"
             "else:\n"
             "    print(n)\n"
             "x = 0\n"
             "for i in r:\n"
             "    x = 1\n"
             "else:\n"
             "    print(x, i)\n");
  CHECK(a.reaching("while n < 10", "n") == "1:assign 3:assign");
  CHECK(a.reaching("print(n)", "n") == "1:assign 3:assign");
  CHECK(a.reaching("print(x, i)", "x") == "6:assign 8:assign");
  CHECK(a.reaching("print(x, i)", "i") == "7:for");
}

TEST_CASE("flow: a walrus in an if's condition binds past the if", "[model][flow]") {
  Analysed a("if (n := 5) > 3:\n"
             "    pass\n"
             "print(n)\n"
             "if c:\n"
             "    pass\n"
             "elif (m := 1):\n"
             "    pass\n"
             "print(m)\n");
  CHECK(a.reaching("print(n)", "n") == "1:walrus");
  CHECK(a.value(a.in("print(n)", "n")) == "5");
  // An elif's condition may not run: m may be unbound, never anything else.
  CHECK(a.reaching("print(m)", "m") == "6:walrus");
}

TEST_CASE("flow: a comprehension's element sees its for clauses", "[model][flow]") {
  Analysed a("x = 'outer'\n"
             "ys = [x for x in range(3)]\n"
             "zs = {k: v for k, v in items}\n"
             "ws = [y for xs in rows for y in xs]\n");
  CHECK(a.reaching("[x for", "x") == "2:for");
  CHECK(a.value(a.in("[x for", "x")) == "unknown");
  CHECK(a.reaching("{k: v", "v") == "3:for");
  CHECK(a.reaching("[y for", "y") == "4:for");
  // A later clause's iterable sees the earlier clause, not the other way round.
  CHECK(a.reaching("in xs]", "xs") == "4:for");
}

TEST_CASE("flow: a global that a function assigns may reach any use", "[model][flow]") {
  Analysed a("DEBUG = False\n"
             "def enable():\n"
             "    global DEBUG\n"
             "    DEBUG = True\n"
             "def run():\n"
             "    if DEBUG:\n"
             "        pass\n"
             "enable()\n"
             "if DEBUG:\n"
             "    top()\n");
  CHECK(a.reaching("if DEBUG:\n        pass", "DEBUG") == "1:assign 4:assign");
  CHECK(a.value(a.in("if DEBUG:\n        pass", "DEBUG")) == "unknown");
  CHECK_FALSE(a.analysis().is_dead(a.at("pass")));
  CHECK(a.reaching("if DEBUG:\n    top()", "DEBUG") == "1:assign 4:assign");
  CHECK_FALSE(a.analysis().is_dead(a.at("top()")));
  // Bound only through `global`.
  Analysed b("def setup():\n"
             "    global DEVICE\n"
             "    DEVICE = 'cuda'\n"
             "def run():\n"
             "    return DEVICE\n");
  CHECK(b.reaching("return DEVICE", "DEVICE") == "3:assign");
}

TEST_CASE("flow: aliases of modules and functions resolve to what they name", "[model][flow]") {
  Analysed a("import torch\n"
             "import torch.nn.functional as F\n"
             "from torch import cuda as c\n"
             "acc = torch.cuda\n"
             "free = acc.empty_cache\n"
             "dev = getattr(torch, 'cuda')\n"
             "if fast:\n"
             "    other = torch.cuda\n"
             "else:\n"
             "    other = torch.mps\n"
             "use(acc.empty_cache(), free(), c.empty_cache(), F.cross_entropy, dev.synchronize,\n"
             "    other.empty_cache)\n");
  const auto& an = a.analysis();
  CHECK(an.callee(a.at("acc.empty_cache()")).is_library("torch.cuda.empty_cache"));
  CHECK(an.callee(a.at("free()")).is_library("torch.cuda.empty_cache"));
  CHECK(an.callee(a.at("c.empty_cache()")).is_library("torch.cuda.empty_cache"));
  CHECK(an.resolve(a.at("F.cross_entropy")).is_library("torch.nn.functional.cross_entropy"));
  CHECK(an.resolve(a.at("dev.synchronize")).is_library("torch.cuda.synchronize"));
  // Two bindings that disagree: nothing.
  CHECK_FALSE(an.resolve(a.at("other.empty_cache")));
}
