// checks/model/analysis.h: constant() and is_dead(). Values are written as Const::repr() gives
// them (True, 3, 'x', None), "unknown" when the analysis cannot fix one.
#include <catch2/catch.hpp>

#include "model/model_support.h"

using oomlint::test::Analysed;

TEST_CASE("constants: literals and operators on them", "[model][constants]") {
  Analysed a("v = [\n"
             "    42, 0x10, 1_000, -3, +4,\n"
             "    2.5, 1e-4, -0.5,\n"
             "    'ab', \"cd\" 'ef', True, False, None,\n"
             "    not 0, not 'x',\n"
             "    1 < 2, 2 <= 1, 'a' == 'a', 3 != 3, None is None, True is not False,\n"
             "    'b' in ('a', 'b'), 'c' not in ['a', 'b'], 'xy' in 'axyz',\n"
             "    0 or 'd', 'e' and 0, unknown_name or True, unknown_name and False,\n"
             "    'f' if True else 'g', 'h' if 0 else 'i', 7 if unknown_name else 7,\n"
             "    {'a': 1, 'b': 2}['b'],\n"
             "    (((5))),\n"
             "]\n");
  CHECK(a.value("42") == "42");
  CHECK(a.value("0x10") == "16");
  CHECK(a.value("1_000") == "1000");
  CHECK(a.value("-3") == "-3");
  CHECK(a.value("+4") == "4");
  CHECK(a.value("2.5") == oomlint::checks::Const::real(2.5).repr());
  CHECK(a.analysis().constant(a.at("1e-4"))->f == Approx(1e-4));
  CHECK(a.value("-0.5") == oomlint::checks::Const::real(-0.5).repr());
  CHECK(a.value("'ab'") == "'ab'");
  CHECK(a.value("\"cd\" 'ef'") == "'cdef'");
  CHECK(a.value("True") == "True");
  CHECK(a.value("False") == "False");
  CHECK(a.value("None") == "None");
  CHECK(a.value("not 0") == "True");
  CHECK(a.value("not 'x'") == "False");
  CHECK(a.value("1 < 2") == "True");
  CHECK(a.value("2 <= 1") == "False");
  CHECK(a.value("'a' == 'a'") == "True");
  CHECK(a.value("3 != 3") == "False");
  CHECK(a.value("None is None") == "True");
  CHECK(a.value("True is not False") == "True");
  CHECK(a.value("'b' in ('a', 'b')") == "True");
  CHECK(a.value("'c' not in ['a', 'b']") == "True");
  CHECK(a.value("'xy' in 'axyz'") == "True");
  CHECK(a.value("0 or 'd'") == "'d'");
  CHECK(a.value("'e' and 0") == "0");
  // Whatever the unknown operand is, the condition's truth is fixed.
  CHECK(a.value("unknown_name or True") == "True");
  CHECK(a.value("unknown_name and False") == "False");
  CHECK(a.value("'f' if True else 'g'") == "'f'");
  CHECK(a.value("'h' if 0 else 'i'") == "'i'");
  CHECK(a.value("7 if unknown_name else 7") == "7");
  CHECK(a.value("{'a': 1, 'b': 2}['b']") == "2");
  CHECK(a.value("(((5)))") == "5");
  CHECK(a.value("unknown_name", 0) == "unknown");
}

TEST_CASE("constants: builtins convert, unless the file shadows them", "[model][constants]") {
  Analysed a("x = [bool(1), int(2.7), float(3), str('s'), len('abc')]\n");
  CHECK(a.value("bool(1)") == "True");
  CHECK(a.value("int(2.7)") == "2");
  CHECK(a.value("float(3)") == oomlint::checks::Const::real(3).repr());
  CHECK(a.value("str('s')") == "'s'");
  CHECK(a.value("len('abc')") == "unknown");
  Analysed b("def bool(x):\n"
             "    return x\n"
             "y = bool(0)\n");
  CHECK(b.value("bool(0)") == "unknown");
}

TEST_CASE("constants: names through the bindings that reach them", "[model][constants]") {
  Analysed a("LR = 1e-3\n"
             "FP16 = True\n"
             "if fast:\n"
             "    FP16 = True\n"
             "MODE = 'a'\n"
             "if fast:\n"
             "    MODE = 'b'\n"
             "STEPS = 1\n"
             "STEPS += 1\n"
             "ONE, (TWO, THREE) = 1, (2, 3)\n"
             "COPY = FP16\n"
             "FLAG = 1\n"
             "if fast:\n"
             "    FLAG = True\n"
             "def train():\n"
             "    use(LR, FP16, MODE, STEPS, THREE, COPY, FLAG, LATE)\n"
             "LATE = 'set after the def'\n");
  auto arg = [&](const char* name) {
    return a.value(a.in("use(LR, FP16, MODE, STEPS, THREE, COPY, FLAG, LATE)", name));
  };
  CHECK(arg("LR") == oomlint::checks::Const::real(1e-3).repr());
  CHECK(arg("FP16") == "True"); // both bindings agree
  CHECK(arg("MODE") == "unknown");
  CHECK(arg("STEPS") == "unknown"); // an augmented assignment
  CHECK(arg("THREE") == "3");
  CHECK(arg("COPY") == "True");
  // 1 and True compare equal, but they are not the same constant.
  CHECK(arg("FLAG") == "unknown");
  CHECK(arg("LATE") == "'set after the def'");
}

TEST_CASE("constants: torch.cuda.is_available() is true and TYPE_CHECKING false",
          "[model][constants]") {
  Analysed a("import torch\n"
             "import typing\n"
             "from torch import cuda\n"
             "a = torch.cuda.is_available()\n"
             "b = cuda.is_available()\n"
             "c = typing.TYPE_CHECKING\n"
             "d = is_available()\n");
  CHECK(a.value("torch.cuda.is_available()") == "True");
  CHECK(a.value("cuda.is_available()", 1) == "True");
  CHECK(a.value("typing.TYPE_CHECKING") == "False");
  CHECK(a.value("is_available()", 2) == "unknown");
}

TEST_CASE("constants: a parameter has the value every caller in the file agrees on",
          "[model][constants]") {
  SECTION("every call leaves the default or passes the same value") {
    Analysed a("def train(model, fp16=False, steps=10):\n"
               "    return fp16, steps\n"
               "train(m)\n"
               "train(m, False)\n"
               "train(m, fp16=False, steps=10)\n");
    CHECK(a.value(a.in("return fp16", "fp16")) == "False");
    CHECK(a.value(a.in("return fp16, steps", "steps")) == "10");
  }
  SECTION("one call passes something else") {
    Analysed a("def train(model, fp16=False):\n"
               "    return fp16\n"
               "train(m)\n"
               "train(m, fp16=True)\n");
    CHECK(a.value(a.in("return fp16", "fp16")) == "unknown");
  }
  SECTION("every call passes the same other value") {
    Analysed a("def train(model, fp16=False):\n"
               "    return fp16\n"
               "train(m, True)\n"
               "train(model=m, fp16=True)\n");
    CHECK(a.value(a.in("return fp16", "fp16")) == "True");
  }
  SECTION("no call in the file: another module may pass anything") {
    Analysed a("def train(model, fp16=False):\n"
               "    return fp16\n");
    CHECK(a.value(a.in("return fp16", "fp16")) == "unknown");
  }
  SECTION("a call that spreads its arguments") {
    Analysed a("def train(model, fp16=False):\n"
               "    return fp16\n"
               "train(**kwargs)\n");
    CHECK(a.value(a.in("return fp16", "fp16")) == "unknown");
  }
  SECTION("a default the analysis cannot read") {
    Analysed a("def train(model, fp16=os.environ.get('FP16')):\n"
               "    return fp16\n"
               "train(m)\n");
    CHECK(a.value(a.in("return fp16", "fp16")) == "unknown");
  }
  SECTION("keyword-only parameters are matched by name only") {
    Analysed a("def train(model, *, fp16=False):\n"
               "    return fp16\n"
               "train(m)\n"
               "train(m, fp16=False)\n");
    CHECK(a.value(a.in("return fp16", "fp16")) == "False");
  }
  SECTION("without a default, only when the file holds every call") {
    // A module-level function of a script: its callers are all here.
    Analysed script("def train(fp16):\n"
                    "    return fp16\n"
                    "if __name__ == '__main__':\n"
                    "    train(True)\n");
    CHECK(script.value(script.in("return fp16", "fp16")) == "True");
    // A public function of an importable module: other modules may call it.
    Analysed module("def train(fp16):\n"
                    "    return fp16\n"
                    "train(True)\n");
    CHECK(module.value(module.in("return fp16", "fp16")) == "unknown");
    // A private one is the module's business.
    Analysed priv("def _train(fp16):\n"
                  "    return fp16\n"
                  "_train(True)\n");
    CHECK(priv.value(priv.in("return fp16", "fp16")) == "True");
  }
  SECTION("methods: self is the first parameter") {
    Analysed a("class Runner:\n"
               "    def __init__(self, fp16=False):\n"
               "        self.use = fp16\n"
               "    def go(self, bf16=True):\n"
               "        return bf16\n"
               "r = Runner(True)\n"
               "r.go(False)\n");
    CHECK(a.value(a.in("self.use = fp16", "fp16")) == "True");
    CHECK(a.value(a.in("return bf16", "bf16")) == "False");
  }
  SECTION("callers() and callers_complete()") {
    Analysed a("def helper(x=1):\n"
               "    return x\n"
               "def _private():\n"
               "    def nested():\n"
               "        pass\n"
               "    nested()\n"
               "class K:\n"
               "    def m(self):\n"
               "        pass\n"
               "helper()\n"
               "helper(2)\n"
               "other.helper()\n");
    const auto& an = a.analysis();
    auto calls = an.callers(a.flow().definition("helper"));
    REQUIRE(calls.size() == 2);
    CHECK(a.text(calls[0]) == "helper()");
    CHECK(a.text(calls[1]) == "helper(2)");
    CHECK_FALSE(an.callers_complete(a.flow().definition("helper")));
    CHECK(an.callers_complete(a.flow().definition("_private")));
    CHECK(an.callers_complete(a.at("def nested():\n        pass")));
    CHECK_FALSE(an.callers_complete(a.flow().definition("K.m")));
  }
}

TEST_CASE("constants: argparse options", "[model][constants][argparse]") {
  Analysed a("import argparse\n"
             "parser = argparse.ArgumentParser()\n"
             "parser.add_argument('--fp16', action='store_true')\n"
             "parser.add_argument('--no-bf16', dest='bf16', action='store_false')\n"
             "parser.add_argument('--lr', type=float, default=3e-4)\n"
             "parser.add_argument('-b', '--batch-size', type=int, default=8)\n"
             "parser.add_argument('--name')\n"
             "parser.add_argument('--steps', default=100)\n"
             "parser.add_argument('--required-thing', required=True)\n"
             "parser.add_argument('--warmup', default=10)\n"
             "parser.set_defaults(warmup=0)\n"
             "args = parser.parse_args()\n"
             "use(args.fp16, args.bf16, args.lr, args.batch_size, args.name, args.steps,\n"
             "    args.required_thing, args.warmup, args.undeclared)\n");
  CHECK(a.value("args.fp16") == "False");
  CHECK(a.value("args.bf16") == "True");
  CHECK(a.value("args.lr") == oomlint::checks::Const::real(3e-4).repr());
  CHECK(a.value("args.batch_size") == "8");
  CHECK(a.value("args.name") == "None");
  CHECK(a.value("args.steps") == "100");
  CHECK(a.value("args.required_thing") == "unknown");
  CHECK(a.value("args.warmup") == "0");
  CHECK(a.value("args.undeclared") == "unknown");
}

TEST_CASE("constants: argparse namespaces reached in other ways", "[model][constants][argparse]") {
  SECTION("an option declared twice with different defaults") {
    Analysed a("parser.add_argument('--fp16', action='store_true')\n"
               "other.add_argument('--fp16', default=True)\n"
               "args = parser.parse_args()\n"
               "x = args.fp16\n");
    CHECK(a.value("args.fp16") == "unknown");
  }
  SECTION("parse_known_args") {
    Analysed a("parser.add_argument('--fp16', action='store_true')\n"
               "args, rest = parser.parse_known_args()\n"
               "opts = parser.parse_known_args()[0]\n"
               "x = args.fp16\n"
               "y = opts.fp16\n");
    CHECK(a.value("args.fp16") == "False");
    CHECK(a.value("opts.fp16") == "False");
  }
  SECTION("a function that returns the parsed namespace, and an `args` parameter") {
    Analysed a("def get_args():\n"
               "    p = argparse.ArgumentParser()\n"
               "    p.add_argument('--fp16', action='store_true')\n"
               "    return p.parse_args()\n"
               "def train(args):\n"
               "    return args.fp16\n"
               "cfg = get_args()\n"
               "x = cfg.fp16\n");
    CHECK(a.value("cfg.fp16") == "False");
    CHECK(a.value("args.fp16") == "False");
  }
  SECTION("an option in dead code is not declared") {
    Analysed a("if False:\n"
               "    parser.add_argument('--fp16', default=True)\n"
               "parser.add_argument('--fp16', action='store_true')\n"
               "args = parser.parse_args()\n"
               "x = args.fp16\n");
    CHECK(a.value("args.fp16") == "False");
  }
  SECTION("Lightning's self.hparams, saved from the namespace") {
    Analysed a("parser.add_argument('--use_gc', action='store_true')\n"
               "class Module(pl.LightningModule):\n"
               "    def __init__(self, hparams):\n"
               "        self.save_hyperparameters(hparams)\n"
               "    def setup(self):\n"
               "        return self.hparams.use_gc\n"
               "class Other(pl.LightningModule):\n"
               "    def setup(self):\n"
               "        return self.hparams.use_gc\n");
    CHECK(a.value("self.hparams.use_gc", 0) == "False");
    // No save_hyperparameters in this class: its hparams may hold anything.
    CHECK(a.value("self.hparams.use_gc", 1) == "unknown");
  }
  SECTION("an `args` parameter annotated with a class is that class, not a namespace") {
    Analysed a("from dataclasses import dataclass\n"
               "parser.add_argument('--budget', default=0.5)\n"
               "@dataclass\n"
               "class Config:\n"
               "    budget: float = 1.0\n"
               "def train(args: Config, opts: argparse.Namespace):\n"
               "    return args.budget, opts.budget\n");
    CHECK(a.value("args.budget") == "1.000000");
    CHECK(a.value("opts.budget") == "0.500000");
  }
  SECTION("string methods on an option: case and blanks") {
    Analysed a("parser.add_argument('--optimizer', default=' Adam ')\n"
               "args = parser.parse_args()\n"
               "x = args.optimizer.strip().lower() == 'adam'\n"
               "y = args.optimizer.upper()\n"
               "z = args.optimizer.lower(1)\n");
    CHECK(a.value("args.optimizer.strip().lower() == 'adam'") == "True");
    CHECK(a.value("args.optimizer.upper()") == "' ADAM '");
    CHECK(a.value("args.optimizer.lower(1)") == "unknown");
  }
  SECTION("not a namespace: an object that is not parsed arguments") {
    Analysed a("parser.add_argument('--fp16', action='store_true')\n"
               "args = load_config()\n"
               "x = args.fp16\n");
    CHECK(a.value("args.fp16") == "unknown");
  }
}

TEST_CASE("constants: dataclass and config class fields", "[model][constants]") {
  Analysed a("from dataclasses import dataclass, field\n"
             "@dataclass\n"
             "class Cfg:\n"
             "    fp16: bool = True\n"
             "    lr: float = field(default=0.5)\n"
             "    tags: list = field(default_factory=list)\n"
             "plain = Cfg()\n"
             "given = Cfg(fp16=False)\n"
             "spread = Cfg(**overrides)\n"
             "changed = Cfg()\n"
             "changed.fp16 = False\n"
             "use(plain.fp16, plain.lr, plain.tags, given.fp16, given.lr, spread.fp16,\n"
             "    changed.fp16)\n");
  CHECK(a.value("plain.fp16") == "True");
  CHECK(a.value("plain.lr") == oomlint::checks::Const::real(0.5).repr());
  CHECK(a.value("plain.tags") == "unknown");
  CHECK(a.value("given.fp16") == "False");
  CHECK(a.value("given.lr") == oomlint::checks::Const::real(0.5).repr());
  CHECK(a.value("spread.fp16") == "unknown");
  CHECK(a.value("changed.fp16", 1) == "unknown");
}

TEST_CASE("constants: HfArgumentParser dataclasses and TrainingArguments subclasses",
          "[model][constants]") {
  Analysed a(
      "from dataclasses import dataclass\n"
      "from transformers import HfArgumentParser, TrainingArguments\n"
      "@dataclass\n"
      "class ModelArguments:\n"
      "    name: str = 'gpt2'\n"
      "    use_lora: bool = False\n"
      "@dataclass\n"
      "class MyTrainingArguments(TrainingArguments):\n"
      "    fp16: bool = True\n"
      "    gradient_checkpointing: bool = False\n"
      "parser = HfArgumentParser((ModelArguments, MyTrainingArguments))\n"
      "model_args, training_args = parser.parse_args_into_dataclasses()\n"
      "use(model_args.name, model_args.use_lora, training_args.fp16,\n"
      "    training_args.gradient_checkpointing, training_args.bf16, training_args.optim)\n");
  CHECK(a.value("model_args.name") == "'gpt2'");
  CHECK(a.value("model_args.use_lora") == "False");
  CHECK(a.value("training_args.fp16") == "True");
  CHECK(a.value("training_args.gradient_checkpointing") == "False");
  // Not declared by the subclass: transformers' own default where it has never changed (bf16 is
  // off unless asked for), unknown where it has changed across versions (the default `optim`).
  CHECK(a.value("training_args.bf16") == "False");
  CHECK(a.value("training_args.optim") == "unknown");
  auto cls = a.analysis().class_of(a.at("training_args", 1));
  REQUIRE(cls.kind == oomlint::checks::Ref::Kind::Class);
  CHECK(a.text(cls.node.field("name")) == "MyTrainingArguments");
}

TEST_CASE("constants: HfArgumentParser of one dataclass, indexed or unpacked",
          "[model][constants]") {
  Analysed a("from dataclasses import dataclass, field\n"
             "from transformers import HfArgumentParser\n"
             "@dataclass\n"
             "class ScriptArguments:\n"
             "    adafactor: bool = field(default=False, metadata={'help': 'x'})\n"
             "    steps: int = 3\n"
             "parser = HfArgumentParser(ScriptArguments)\n"
             "indexed = parser.parse_args_into_dataclasses()[0]\n"
             "unpacked, = parser.parse_args_into_dataclasses()\n"
             "past = parser.parse_args_into_dataclasses()[1]\n"
             "use(indexed.adafactor, indexed.steps, unpacked.adafactor, past.adafactor)\n");
  CHECK(a.value("indexed.adafactor") == "False");
  CHECK(a.value("indexed.steps") == "3");
  CHECK(a.value("unpacked.adafactor") == "False");
  CHECK(a.value("past.adafactor") == "unknown");
}

TEST_CASE("constants: attributes on self", "[model][constants]") {
  SECTION("every assignment in the class agrees") {
    Analysed a("class T:\n"
               "    def __init__(self):\n"
               "        self.fp16 = False\n"
               "    def reset(self):\n"
               "        self.fp16 = False\n"
               "    def run(self):\n"
               "        return self.fp16\n");
    CHECK(a.value("self.fp16", 2) == "False");
  }
  SECTION("two assignments disagree") {
    Analysed a("class T:\n"
               "    def __init__(self):\n"
               "        self.fp16 = False\n"
               "    def enable(self):\n"
               "        self.fp16 = True\n"
               "    def run(self):\n"
               "        return self.fp16\n");
    CHECK(a.value("self.fp16", 2) == "unknown");
  }
  SECTION("assigned from outside the class too") {
    Analysed a("class T:\n"
               "    def __init__(self):\n"
               "        self.fp16 = False\n"
               "    def run(self):\n"
               "        return self.fp16\n"
               "t = T()\n"
               "t.fp16 = True\n");
    CHECK(a.value("self.fp16", 1) == "unknown");
  }
  SECTION("a class-level default that no method assigns") {
    Analysed a("class T:\n"
               "    fp16 = True\n"
               "    def run(self):\n"
               "        return self.fp16\n");
    CHECK(a.value("self.fp16") == "True");
  }
  SECTION("an augmented assignment") {
    Analysed a("class T:\n"
               "    def __init__(self):\n"
               "        self.steps = 0\n"
               "    def step(self):\n"
               "        self.steps += 1\n"
               "        return self.steps\n");
    CHECK(a.value("self.steps", 2) == "unknown");
  }
}

TEST_CASE("dead code: branches a constant rules out", "[model][dead]") {
  Analysed a("import torch\n"
             "DEBUG = False\n"
             "VERBOSE = True\n"
             "if DEBUG:\n"
             "    a1()\n"
             "elif VERBOSE:\n"
             "    a2()\n"
             "elif unknown:\n"
             "    a3()\n"
             "else:\n"
             "    a4()\n"
             "if False:\n"
             "    b1()\n"
             "else:\n"
             "    b2()\n"
             "if unknown:\n"
             "    c1()\n"
             "elif DEBUG:\n"
             "    c2()\n"
             "else:\n"
             "    c3()\n"
             "if torch.cuda.is_available():\n"
             "    d1()\n"
             "else:\n"
             "    d2()\n"
             "if not torch.cuda.is_available():\n"
             "    e1()\n"
             "while False:\n"
             "    f1()\n"
             "g = g1() if DEBUG else g2()\n"
             "h = DEBUG and h1()\n"
             "i = VERBOSE or i1()\n"
             "j = unknown and j1()\n"
             "def later():\n"
             "    if LATE:\n"
             "        k1()\n"
             "LATE = 0\n");
  const auto& an = a.analysis();
  auto dead = [&](const char* call) { return an.is_dead(a.at(call)); };
  CHECK(dead("a1()"));
  CHECK_FALSE(dead("a2()"));
  CHECK(dead("a3()")); // VERBOSE always takes the branch before
  CHECK(dead("a4()"));
  CHECK(dead("b1()"));
  CHECK_FALSE(dead("b2()"));
  CHECK_FALSE(dead("c1()"));
  CHECK(dead("c2()"));
  CHECK_FALSE(dead("c3()"));
  CHECK_FALSE(dead("d1()"));
  CHECK(dead("d2()"));
  CHECK(dead("e1()"));
  CHECK(dead("f1()"));
  CHECK(dead("g1()"));
  CHECK_FALSE(dead("g2()"));
  CHECK(dead("h1()"));
  CHECK(dead("i1()"));
  CHECK_FALSE(dead("j1()"));
  // A function runs after the module: it sees LATE as the module leaves it.
  CHECK(dead("k1()"));
  // Conditions themselves always run.
  CHECK_FALSE(an.is_dead(a.at("DEBUG", 1)));
}

TEST_CASE("dead code: an argparse flag that defaults to off", "[model][dead][argparse]") {
  Analysed a("parser.add_argument('--profile', action='store_true')\n"
             "parser.add_argument('--amp', type=int, default=1)\n"
             "args = parser.parse_args()\n"
             "if args.profile:\n"
             "    start()\n"
             "if args.amp:\n"
             "    autocast()\n");
  CHECK(a.analysis().is_dead(a.at("start()")));
  CHECK_FALSE(a.analysis().is_dead(a.at("autocast()")));
}

TEST_CASE("constants: a positional-only separator is no parameter", "[model][constants]") {
  Analysed a("def f(a, /, fp16=False, *, bf16=True):\n"
             "    return fp16, bf16\n"
             "if __name__ == '__main__':\n"
             "    f(1, True)\n");
  CHECK(a.value(a.in("return fp16", "fp16")) == "True");
  CHECK(a.value(a.in("return fp16, bf16", "bf16")) == "True");
}

TEST_CASE("constants: dataclass fields through subclasses", "[model][constants]") {
  Analysed a("from dataclasses import dataclass\n"
             "@dataclass\n"
             "class Base:\n"
             "    fp16: bool = False\n"
             "    steps: int = 10\n"
             "@dataclass\n"
             "class Child(Base):\n"
             "    fp16: bool = True\n"
             "base = Base()\n"
             "child = Child()\n"
             "use(base.fp16, child.fp16, child.steps, base.steps)\n");
  CHECK(a.value("base.fp16") == "False");
  CHECK(a.value("child.fp16") == "True");
  CHECK(a.value("child.steps") == "10");
  CHECK(a.value("base.steps") == "10");
}

TEST_CASE("constants: a field inherited from a library class is the library's stable default",
          "[model][constants]") {
  Analysed a("from dataclasses import dataclass\n"
             "from transformers import TrainingArguments\n"
             "@dataclass\n"
             "class Mine(TrainingArguments):\n"
             "    fp16: bool = True\n"
             "@dataclass\n"
             "class Child(Mine):\n"
             "    pass\n"
             "child = Child(output_dir='x')\n"
             "use(child.fp16, child.bf16, child.gradient_checkpointing, child.warmup_ratio)\n");
  CHECK(a.value("child.fp16") == "True");
  CHECK(a.value("child.bf16") == "False");
  CHECK(a.value("child.gradient_checkpointing") == "False");
  CHECK(a.value("child.warmup_ratio") == "unknown"); // not in oomlint's table
}

TEST_CASE("constants: TRL configs' defaults are not known (they changed across versions)",
          "[model][constants]") {
  Analysed a("from trl import SFTConfig, TrlParser\n"
             "from transformers import HfArgumentParser\n"
             "parser = HfArgumentParser(SFTConfig)\n"
             "(cfg,) = parser.parse_args_into_dataclasses()\n"
             "use(cfg.gradient_checkpointing)\n");
  CHECK(a.value("cfg.gradient_checkpointing") == "unknown");
}
