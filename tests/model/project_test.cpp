// checks/model/project.h: the project index (roots, module names, import resolution, summaries,
// the import scan, dependencies and imported facts), and Analysis::resolve() across the modules
// of a project written to a temporary folder.
#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include "cli/cli_test_support.h"
#include "model/model_support.h"
#include "model/project.h"

using oomlint::checks::Const;
using oomlint::checks::FileContext;
using oomlint::checks::FunctionFacts;
using oomlint::checks::ModuleSummary;
using oomlint::checks::ProjectIndex;
using oomlint::checks::Ref;
using oomlint::test::Analysed;
using oomlint::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A file of the project, analysed with the project's index, as the engine does it.
struct ProjectFile {
  ProjectFile(const ProjectIndex& index, const fs::path& path)
      : analysed(read(path), FileContext{path, &index}) {}
  Analysed analysed;
};

// A project with a package, a src/ layout, a scripts folder and a library-named import.
struct SampleProject {
  TempDir dir;
  fs::path root = dir.path();
  SampleProject() {
    dir.write("pyproject.toml", "[project]\nname = 'sample'\n");
    dir.write("pkg/__init__.py", "from .impl import helper\n"
                                 "from . import config\n");
    dir.write("pkg/impl.py", "import torch\n"
                             "def helper():\n"
                             "    torch.cuda.empty_cache()\n");
    dir.write("pkg/utils.py", "import torch\n"
                              "from .low import really_free\n"
                              "def free():\n"
                              "    really_free()\n"
                              "def quiet():\n"
                              "    return 1\n");
    dir.write("pkg/low.py", "import torch\n"
                            "def really_free():\n"
                            "    torch.cuda.empty_cache()\n");
    dir.write("pkg/config.py", "FP16 = True\n"
                               "BATCH = 4\n"
                               "NAME = 'run'\n"
                               "class Defaults:\n"
                               "    lr = 0.5\n");
    dir.write("pkg/models.py", "import torch.nn as nn\n"
                               "class Net(nn.Module):\n"
                               "    def forward(self, x):\n"
                               "        return x\n");
    dir.write("pkg/trainer.py", "from .utils import free\n"
                                "from . import utils\n"
                                "from ..outside import thing\n"
                                "def step():\n"
                                "    free()\n"
                                "    utils.quiet()\n"
                                "probe = thing\n");
    dir.write("src/mylib/__init__.py", "");
    dir.write("src/mylib/ops.py", "def fuse():\n"
                                  "    return 2\n");
    dir.write("scripts/run.py", "from common import setting\n"
                                "import torch\n"
                                "x = setting\n"
                                "y = torch.cuda\n");
    dir.write("scripts/common.py", "setting = 'neighbour'\n");
    dir.write("torchlike.py", "");
  }
};

} // namespace

TEST_CASE("project: find_root takes the nearest folder with a marker", "[model][project]") {
  TempDir dir;
  dir.write("a/b/c/train.py", "");
  // No marker anywhere below the temporary folder: the file's own folder.
  CHECK(ProjectIndex::find_root(dir.path() / "a/b/c/train.py") == dir.path() / "a/b/c");
  for (const char* marker : {"pyproject.toml", "oomlint.toml", "setup.py"}) {
    TempDir d;
    d.write("x/y/train.py", "");
    d.write(std::string("x/") + marker, "");
    INFO(marker);
    CHECK(ProjectIndex::find_root(d.path() / "x/y/train.py") == d.path() / "x");
  }
  {
    TempDir d;
    d.write("x/y/train.py", "");
    fs::create_directories(d.path() / ".git");
    CHECK(ProjectIndex::find_root(d.path() / "x/y/train.py") == d.path());
  }
  // The nearest marker wins over one further up.
  dir.write("pyproject.toml", "");
  dir.write("a/b/setup.py", "");
  CHECK(ProjectIndex::find_root(dir.path() / "a/b/c/train.py") == dir.path() / "a/b");
  CHECK(ProjectIndex::find_root(dir.path() / "a/other.py") == dir.path());
}

TEST_CASE("project: module names", "[model][project]") {
  SampleProject p;
  ProjectIndex index(p.root);
  CHECK(index.root() == p.root);
  CHECK(index.module_name(p.root / "pkg/utils.py") == "pkg.utils");
  CHECK(index.module_name(p.root / "pkg/__init__.py") == "pkg");
  CHECK(index.module_name(p.root / "src/mylib/ops.py") == "mylib.ops");
  CHECK(index.module_name(p.root / "src/mylib/__init__.py") == "mylib");
  CHECK(index.module_name(p.root / "scripts/run.py") == "scripts.run");
  CHECK(index.module_name(p.root / "torchlike.py") == "torchlike");
}

TEST_CASE("project: resolve() finds the project's modules, not libraries", "[model][project]") {
  SampleProject p;
  ProjectIndex index(p.root);
  fs::path trainer = p.root / "pkg/trainer.py";
  fs::path top = p.root / "train.py";
  // Absolute imports, from the root.
  CHECK(index.resolve("pkg.utils", 0, top) == p.root / "pkg/utils.py");
  CHECK(index.resolve("pkg", 0, top) == p.root / "pkg/__init__.py");
  CHECK(index.resolve("pkg.missing", 0, top) == std::nullopt);
  // Libraries are not the project's.
  CHECK(index.resolve("torch", 0, top) == std::nullopt);
  CHECK(index.resolve("torch.nn", 0, trainer) == std::nullopt);
  // src/ layout.
  CHECK(index.resolve("mylib.ops", 0, top) == p.root / "src/mylib/ops.py");
  CHECK(index.resolve("mylib", 0, top) == p.root / "src/mylib/__init__.py");
  // A script importing its neighbour.
  CHECK(index.resolve("common", 0, p.root / "scripts/run.py") == p.root / "scripts/common.py");
  CHECK(index.resolve("common", 0, top) == std::nullopt);
  // Relative imports: `from .utils import ...`, `from . import utils`, `from .. import ...`.
  CHECK(index.resolve("utils", 1, trainer) == p.root / "pkg/utils.py");
  CHECK(index.resolve("", 1, trainer) == p.root / "pkg/__init__.py");
  // Each dot past the first climbs one folder, up to the root: `from ..pkg.config import x` in
  // pkg/trainer.py is the root's pkg/config.py, `from ..torchlike import x` the root's module.
  CHECK(index.resolve("pkg.config", 2, trainer) == p.root / "pkg/config.py");
  CHECK(index.resolve("config", 2, trainer) == std::nullopt); // no config.py at the root
  CHECK(index.resolve("torchlike", 2, trainer) == p.root / "torchlike.py");
  // Out of the project's root: not the project's.
  CHECK(index.resolve("anything", 3, trainer) == std::nullopt);
  CHECK(index.resolve("", 0, top) == std::nullopt);
  // Submodules of a package.
  CHECK(index.submodule(p.root / "pkg/__init__.py", "models") == p.root / "pkg/models.py");
  CHECK(index.submodule(p.root / "pkg/__init__.py", "nothing") == std::nullopt);
  CHECK(index.submodule(p.root / "pkg/utils.py", "low") == std::nullopt);
}

TEST_CASE("project: what a file's names refer to across the project", "[model][project]") {
  SampleProject p;
  p.dir.write("train.py", "import torch\n"
                          "import numpy as np\n"
                          "from torch.cuda import empty_cache\n"
                          "from pkg.utils import free\n"
                          "from pkg import helper\n"
                          "import pkg.models as models\n"
                          "import pkg.config\n"
                          "from pkg.config import FP16, Defaults\n"
                          "from mylib.ops import fuse\n"
                          "import pkg\n"
                          "use(free, helper, models, models.Net, pkg.config.BATCH, FP16,\n"
                          "    Defaults, fuse, empty_cache, np.zeros, torch.cuda, pkg.models.Net,\n"
                          "    pkg.config.NAME)\n");
  ProjectIndex index(p.root);
  ProjectFile f(index, p.root / "train.py");
  const Analysed& a = f.analysed;
  auto ref = [&](const char* needle) {
    return a.analysis().resolve(
        a.in("use(free, helper, models, models.Net, pkg.config.BATCH, FP16,\n"
             "    Defaults, fuse, empty_cache, np.zeros, torch.cuda, pkg.models.Net,\n"
             "    pkg.config.NAME)",
             needle));
  };
  Ref free = ref("free");
  CHECK(free.kind == Ref::Kind::ProjectFunction);
  CHECK(free.name == "free");
  CHECK(free.file == p.root / "pkg/utils.py");
  // A package's __init__ re-exports the name of one of its modules.
  Ref helper = ref("helper");
  CHECK(helper.kind == Ref::Kind::ProjectFunction);
  CHECK(helper.file == p.root / "pkg/impl.py");
  Ref models = ref("models");
  CHECK(models.kind == Ref::Kind::ProjectModule);
  CHECK(models.file == p.root / "pkg/models.py");
  Ref net = ref("models.Net");
  CHECK(net.kind == Ref::Kind::ProjectClass);
  CHECK(net.name == "Net");
  CHECK(a.analysis().is_nn_module(net));
  Ref net2 = ref("pkg.models.Net");
  CHECK(net2.kind == Ref::Kind::ProjectClass);
  CHECK(net2.file == p.root / "pkg/models.py");
  Ref batch = ref("pkg.config.BATCH");
  CHECK(batch.kind == Ref::Kind::ProjectConstant);
  CHECK(batch.name == "BATCH");
  CHECK(ref("Defaults").kind == Ref::Kind::ProjectClass);
  Ref fuse = ref("fuse");
  CHECK(fuse.kind == Ref::Kind::ProjectFunction);
  CHECK(fuse.file == p.root / "src/mylib/ops.py");
  // Libraries stay library paths.
  CHECK(ref("empty_cache").is_library("torch.cuda.empty_cache"));
  CHECK(ref("np.zeros").is_library("numpy.zeros"));
  CHECK(ref("torch.cuda").is_library("torch.cuda"));
  // Constants of project modules.
  CHECK(a.value(a.in("FP16,\n", "FP16")) == "True");
  CHECK(a.value("pkg.config.BATCH") == "4");
  CHECK(a.value("pkg.config.NAME") == "'run'");
  CHECK(a.value("np.zeros") == "unknown");

  // The same file without its project: every import is a library path.
  Analysed alone(read(p.root / "train.py"));
  Ref lib = alone.analysis().resolve(alone.in("use(free", "free"));
  CHECK(lib.is_library("pkg.utils.free"));
  CHECK(alone.value(alone.in("FP16,\n", "FP16")) == "unknown");
}

TEST_CASE("project: relative imports and a script's neighbour", "[model][project]") {
  SampleProject p;
  ProjectIndex index(p.root);
  ProjectFile trainer(index, p.root / "pkg/trainer.py");
  const Analysed& a = trainer.analysed;
  Ref free = a.analysis().resolve(a.in("    free()", "free"));
  CHECK(free.kind == Ref::Kind::ProjectFunction);
  CHECK(free.file == p.root / "pkg/utils.py");
  Ref quiet = a.analysis().callee(a.at("utils.quiet()"));
  CHECK(quiet.kind == Ref::Kind::ProjectFunction);
  CHECK(quiet.name == "quiet");
  // `from ..outside import thing` leaves the package and the project: nothing.
  CHECK_FALSE(a.analysis().resolve(a.in("probe = thing", "thing")));
  // What step() does comes through two modules: utils.free() calls low.really_free().
  auto facts = a.analysis().facts(a.flow().definition("step"));
  CHECK(facts.has(FunctionFacts::FreesCache));
  auto quiet_facts = a.analysis().call_facts(a.at("utils.quiet()"));
  REQUIRE(quiet_facts);
  CHECK_FALSE(quiet_facts->has(FunctionFacts::FreesCache));
  CHECK(quiet_facts->returns_const == Const::integer(1));

  ProjectFile run(index, p.root / "scripts/run.py");
  const Analysed& r = run.analysed;
  Ref setting = r.analysis().resolve(r.in("x = setting", "setting"));
  CHECK(setting.kind == Ref::Kind::ProjectConstant);
  CHECK(setting.file == p.root / "scripts/common.py");
  CHECK(r.value(r.in("x = setting", "setting")) == "'neighbour'");
  CHECK(r.analysis().resolve(r.at("torch.cuda")).is_library("torch.cuda"));
}

TEST_CASE("project: summaries of modules", "[model][project]") {
  SampleProject p;
  p.dir.write("pkg/everything.py", "import argparse\n"
                                   "import torch\n"
                                   "from dataclasses import dataclass\n"
                                   "from .utils import free as release\n"
                                   "LIMIT = 3\n"
                                   "MAYBE = 1\n"
                                   "if torch.rand(1) > 0.5:\n"
                                   "    MAYBE = 2\n"
                                   "parser = argparse.ArgumentParser()\n"
                                   "parser.add_argument('--fp16', action='store_true')\n"
                                   "def start():\n"
                                   "    torch.cuda.memory._record_memory_history()\n"
                                   "def stop():\n"
                                   "    torch.cuda.memory._record_memory_history(enabled=None)\n"
                                   "def cleanup():\n"
                                   "    release()\n"
                                   "@dataclass\n"
                                   "class Args:\n"
                                   "    fp16: bool = True\n"
                                   "    def evaluate(self, model):\n"
                                   "        with torch.no_grad():\n"
                                   "            return model(1)\n"
                                   "class Net(torch.nn.Module):\n"
                                   "    pass\n");
  ProjectIndex index(p.root);
  auto s = index.summary(p.root / "pkg/everything.py");
  REQUIRE(s);
  REQUIRE(s->function("start"));
  CHECK(s->function("start")->has(FunctionFacts::StartsMemoryHistory));
  CHECK_FALSE(s->function("start")->has(FunctionFacts::StopsMemoryHistory));
  REQUIRE(s->function("stop"));
  CHECK(s->function("stop")->has(FunctionFacts::StopsMemoryHistory));
  // A summary is built from the module's own text: calls of other modules are kept as
  // written, for importers to resolve.
  REQUIRE(s->function("cleanup"));
  CHECK(s->function("cleanup")->calls == std::vector<std::string>{".utils.free"});
  CHECK_FALSE(s->function("cleanup")->has(FunctionFacts::FreesCache));
  CHECK(s->flags & FunctionFacts::StartsMemoryHistory);
  REQUIRE(s->cls("Args"));
  CHECK(s->cls("Args")->is_dataclass);
  CHECK_FALSE(s->cls("Args")->is_nn_module);
  REQUIRE(s->cls("Args")->field("fp16"));
  CHECK(*s->cls("Args")->field("fp16") == Const::boolean(true));
  REQUIRE(s->cls("Args")->method("evaluate"));
  CHECK(s->cls("Args")->method("evaluate")->has(FunctionFacts::NoGrad));
  REQUIRE(s->cls("Net"));
  CHECK(s->cls("Net")->is_nn_module);
  CHECK(s->cls("Net")->bases == std::vector<std::string>{"torch.nn.Module"});
  REQUIRE(s->constant("LIMIT"));
  CHECK(*s->constant("LIMIT") == Const::integer(3));
  CHECK(s->constant("MAYBE") == nullptr);
  REQUIRE(s->import("release"));
  CHECK(*s->import("release") == ".utils.free");
  REQUIRE(s->import("torch"));
  CHECK(*s->import("torch") == "torch");
  REQUIRE(s->options.size() == 1);
  CHECK(s->options[0].first == "fp16");
  CHECK(s->options[0].second == Const::boolean(false));
  // Kept: the same summary the second time; a file that cannot be read has none.
  CHECK(index.summary(p.root / "pkg/everything.py") == s);
  CHECK(index.summary(p.root / "pkg/missing.py") == nullptr);
}

TEST_CASE("project: an open document's text wins over the file, and invalidate() forgets",
          "[model][project]") {
  SampleProject p;
  ProjectIndex index(p.root);
  fs::path config = p.root / "pkg/config.py";
  auto before = index.summary(config);
  REQUIRE(before);
  REQUIRE(before->constant("FP16"));
  CHECK(*before->constant("FP16") == Const::boolean(true));
  size_t built = index.summaries_built();
  index.set_text(config, std::string("FP16 = False\n"));
  auto edited = index.summary(config);
  REQUIRE(edited);
  REQUIRE(edited->constant("FP16"));
  CHECK(*edited->constant("FP16") == Const::boolean(false));
  CHECK(index.summaries_built() == built + 1);
  index.set_text(config, std::nullopt);
  REQUIRE(index.summary(config)->constant("FP16"));
  CHECK(*index.summary(config)->constant("FP16") == Const::boolean(true));
  // A change on disk shows once the file is invalidated.
  p.dir.write("pkg/config.py", "FP16 = 0\n");
  CHECK(*index.summary(config)->constant("FP16") == Const::boolean(true)); // still the kept one
  CHECK(index.invalidate(config));
  CHECK_FALSE(index.invalidate(config));
  CHECK(*index.summary(config)->constant("FP16") == Const::integer(0));
  auto known = index.known_files();
  CHECK(std::find(known.begin(), known.end(), config) != known.end());
}

namespace {

class MapStore final : public oomlint::checks::SummaryStore {
public:
  std::map<std::string, std::string> data;
  int loads = 0, saves = 0;
  std::optional<std::string> load(const std::string& key) override {
    ++loads;
    auto it = data.find(key);
    if (it == data.end()) return std::nullopt;
    return it->second;
  }
  void save(const std::string& key, const std::string& value) override {
    ++saves;
    data[key] = value;
  }
};

} // namespace

TEST_CASE("project: summaries are kept in the store by content", "[model][project]") {
  SampleProject p;
  auto store = std::make_shared<MapStore>();
  fs::path config = p.root / "pkg/config.py";
  {
    ProjectIndex index(p.root);
    index.set_store(store);
    REQUIRE(index.summary(config));
    CHECK(store->saves == 1);
    REQUIRE(store->data.size() == 1);
  }
  // Another index (another run) takes the summary from the store: doctor it to tell.
  std::string key = store->data.begin()->first;
  auto doctored = ModuleSummary::deserialize(store->data[key]);
  REQUIRE(doctored);
  doctored->constants = {{"FP16", Const::string("from the store")}};
  store->data[key] = doctored->serialize();
  {
    ProjectIndex index(p.root);
    index.set_store(store);
    auto s = index.summary(config);
    REQUIRE(s);
    REQUIRE(s->constant("FP16"));
    CHECK(*s->constant("FP16") == Const::string("from the store"));
    CHECK(store->saves == 1);
  }
  // Other content, another key: built again.
  p.dir.write("pkg/config.py", "FP16 = False\n");
  {
    ProjectIndex index(p.root);
    index.set_store(store);
    auto s = index.summary(config);
    REQUIRE(s);
    CHECK(*s->constant("FP16") == Const::boolean(false));
    CHECK(store->saves == 2);
  }
  // A corrupt entry is not used: the summary is built from the text.
  for (auto& [k, v] : store->data)
    v = "garbage";
  {
    ProjectIndex index(p.root);
    index.set_store(store);
    auto s = index.summary(config);
    REQUIRE(s);
    REQUIRE(s->constant("FP16"));
    CHECK(*s->constant("FP16") == Const::boolean(false));
  }
}

TEST_CASE("project: a summary survives serialize() and deserialize()", "[model][project]") {
  ModuleSummary s;
  s.flags = FunctionFacts::FreesCache | FunctionFacts::Trains;
  FunctionFacts f;
  f.flags = FunctionFacts::ReturnsLoss | FunctionFacts::RunsForward;
  f.loss_index = 1;
  f.output_index = -1;
  f.returns_const = Const::string("tab\there\nnewline\\back");
  f.calls = {"..utils.clear_memory", "pkg.helpers.validate"};
  f.returns_class = "transformers.AutoModelForCausalLM";
  f.accum_value = 2;
  f.accum_into = -1;
  s.functions.emplace_back("compute_loss", f);
  FunctionFacts g;
  g.returns_const = Const::real(-0.125);
  s.functions.emplace_back("odd\tname", g);
  oomlint::checks::ClassSummary c;
  c.name = "Args";
  c.bases = {"transformers.TrainingArguments", ".base.Base"};
  c.is_dataclass = true;
  c.fields = {
      {"fp16", Const::boolean(true)}, {"steps", Const::integer(-7)}, {"nothing", Const::none()}};
  FunctionFacts m;
  m.flags = FunctionFacts::NoGrad;
  m.returns_const = Const::integer(123456789012LL);
  c.methods.emplace_back("evaluate", m);
  s.classes.push_back(c);
  oomlint::checks::ClassSummary net;
  net.name = "Net";
  net.is_nn_module = true;
  s.classes.push_back(net);
  s.constants = {{"LR", Const::real(3e-4)}, {"NAME", Const::string("")}};
  s.imports = {{"release", ".utils.free"}, {"np", "numpy"}};
  s.options = {{"fp16", Const::boolean(false)}, {"lr", Const::real(0.1)}};

  std::string data = s.serialize();
  auto back = ModuleSummary::deserialize(data);
  REQUIRE(back);
  CHECK(back->serialize() == data);
  CHECK(back->flags == s.flags);
  REQUIRE(back->functions.size() == 2);
  const FunctionFacts* cl = back->function("compute_loss");
  REQUIRE(cl);
  CHECK(cl->flags == f.flags);
  CHECK(cl->loss_index == 1);
  CHECK(cl->output_index == -1);
  REQUIRE(cl->returns_const);
  CHECK(cl->returns_const->kind == Const::Kind::Str);
  CHECK(cl->returns_const->s == "tab\there\nnewline\\back");
  CHECK(cl->calls == f.calls);
  CHECK(cl->returns_class == f.returns_class);
  CHECK(cl->accum_value == 2);
  CHECK(cl->accum_into == -1);
  REQUIRE(back->function("odd\tname"));
  CHECK(back->function("odd\tname")->returns_const->f == -0.125);
  CHECK(back->function("odd\tname")->calls.empty());
  REQUIRE(back->classes.size() == 2);
  const auto* args = back->cls("Args");
  REQUIRE(args);
  CHECK(args->bases == c.bases);
  CHECK(args->is_dataclass);
  CHECK_FALSE(args->is_nn_module);
  REQUIRE(args->fields.size() == 3);
  CHECK(args->field("steps")->i == -7);
  CHECK(args->field("nothing")->kind == Const::Kind::None);
  CHECK(args->field("fp16")->kind == Const::Kind::Bool);
  REQUIRE(args->method("evaluate"));
  CHECK(args->method("evaluate")->returns_const->i == 123456789012LL);
  CHECK(back->cls("Net")->is_nn_module);
  CHECK(back->cls("Net")->methods.empty());
  CHECK(back->constant("LR")->f == 3e-4);
  CHECK(back->constant("NAME")->kind == Const::Kind::Str);
  CHECK(back->constant("NAME")->s.empty());
  CHECK(*back->import("release") == ".utils.free");
  CHECK(back->options == s.options);

  // An empty summary, too.
  auto empty = ModuleSummary::deserialize(ModuleSummary{}.serialize());
  REQUIRE(empty);
  CHECK(empty->functions.empty());
  CHECK(empty->flags == 0);
}

TEST_CASE("project: a corrupt summary does not deserialize", "[model][project]") {
  ModuleSummary s;
  FunctionFacts f;
  f.flags = FunctionFacts::FreesCache;
  s.functions.emplace_back("free", f);
  oomlint::checks::ClassSummary c;
  c.name = "Args";
  c.fields = {{"fp16", Const::boolean(true)}};
  s.classes.push_back(c);
  s.constants = {{"N", Const::integer(3)}};
  std::string good = s.serialize();
  REQUIRE(ModuleSummary::deserialize(good));
  CHECK_FALSE(ModuleSummary::deserialize(""));
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 1\n"));
  CHECK_FALSE(ModuleSummary::deserialize("garbage"));
  // The previous format, the end missing, or a record after the end.
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 3\nflags\t0\nend\n"));
  CHECK(ModuleSummary::deserialize("oomlint-summary 4\nflags\t0\nend\n"));
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nflags\t0\n"));
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nend\nflags\t0\n"));
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nflags\tlots\nend\n"));
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nZ\tunknown record\nend\n"));
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nno tab here\nend\n"));
  // A method or a field before any class.
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nM\tm\t0\t-1\t-1\t-\t\t\nend\n"));
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nV\tfp16\tB1\nend\n"));
  // A record with a field missing, or a value of no known kind.
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nF\tfree\t1\t-1\t-1\t-\t\nend\n"));
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nF\tfree\tx\t-1\t-1\t-\t\t\nend\n"));
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nK\tN\tQ3\nend\n"));
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nK\tN\tIabc\nend\n"));
  CHECK_FALSE(ModuleSummary::deserialize("oomlint-summary 4\nK\tN\nend\n"));
  // Cut inside a record.
  size_t cut = good.find("\tB1");
  REQUIRE(cut != std::string::npos);
  CHECK_FALSE(ModuleSummary::deserialize(good.substr(0, cut)));
}

TEST_CASE("project: scan_imports reads the imports from the bytes", "[model][project]") {
  using Imports = std::vector<std::pair<int, std::string>>;
  CHECK(oomlint::checks::scan_imports("import torch\n"
                                      "import a.b as c, d\n"
                                      "  from .utils import free as f, clear\n"
                                      "from .. import pkg\n"
                                      "from x.y import (\n"
                                      "    one,  # comment\n"
                                      "    two,\n"
                                      ")\n"
                                      "from m import *\n"
                                      "important = 1\n"
                                      "fromage = 2\n"
                                      "x = 'import nothing'\n") == Imports{{0, "torch"},
                                                                           {0, "a.b"},
                                                                           {0, "d"},
                                                                           {1, "utils"},
                                                                           {1, "utils.free"},
                                                                           {1, "utils.clear"},
                                                                           {2, ""},
                                                                           {2, "pkg"},
                                                                           {0, "x.y"},
                                                                           {0, "x.y.one"},
                                                                           {0, "x.y.two"},
                                                                           {0, "m"}});
}

TEST_CASE("project: dependencies are transitive, nearest first, and bounded", "[model][project]") {
  TempDir dir;
  dir.write("setup.py", "");
  dir.write("a.py", "import b\nimport torch\n");
  dir.write("b.py", "from c import f\n");
  dir.write("c.py", "from . import d\nimport main\ndef f():\n    pass\n");
  dir.write("d.py", "import b\n");
  dir.write("lonely.py", "");
  std::string main = "import a\nimport lonely\nimport os\n";
  dir.write("main.py", main);
  ProjectIndex index(dir.path());
  auto deps = index.dependencies(dir.path() / "main.py", main);
  // Breadth first; the file itself (imported back by c.py) is not its own dependency.
  CHECK(deps == std::vector<fs::path>{dir.path() / "a.py", dir.path() / "lonely.py",
                                      dir.path() / "b.py", dir.path() / "c.py",
                                      dir.path() / "d.py"});
  CHECK(index.dependencies(dir.path() / "lonely.py", "").empty());
  CHECK(index.dependencies(dir.path() / "x.py", "import torch\nimport numpy\n").empty());

  // A long chain of imports is cut at kMaxDependencies.
  TempDir big;
  big.write("setup.py", "");
  constexpr size_t n = ProjectIndex::kMaxDependencies + 40;
  for (size_t i = 0; i < n; ++i)
    big.write("m" + std::to_string(i) + ".py", "import m" + std::to_string(i + 1) + "\n");
  ProjectIndex chain(big.path());
  auto cut = chain.dependencies(big.path() / "start.py", "import m0\n");
  REQUIRE(cut.size() == ProjectIndex::kMaxDependencies);
  CHECK(cut.front() == big.path() / "m0.py");
  CHECK(cut.back() ==
        big.path() / ("m" + std::to_string(ProjectIndex::kMaxDependencies - 1) + ".py"));
  // Many direct imports too.
  std::string many;
  for (size_t i = 0; i < n; ++i)
    many += "import m" + std::to_string(i) + "\n";
  CHECK(chain.dependencies(big.path() / "start.py", many).size() == ProjectIndex::kMaxDependencies);
}

TEST_CASE("project: imported_facts over-approximates from the imported modules' bytes",
          "[model][project]") {
  TempDir dir;
  dir.write("pyproject.toml", "");
  dir.write("helpers.py", "import torch\n"
                          "def _never_called():\n"
                          "    torch.cuda.empty_cache()\n");
  dir.write("prof.py", "import torch\n"
                       "def start():\n"
                       "    torch.cuda.memory._record_memory_history()\n");
  dir.write("wrapper.py", "from prof import start\n");
  dir.write("plain.py", "def f():\n"
                        "    return 1\n"
                        "# empty_cache in a comment is no call\n");
  dir.write("losses.py", "def compute(criterion, x, y):\n"
                         "    return criterion(x, y)\n");
  ProjectIndex index(dir.path());
  fs::path main = dir.path() / "main.py";
  uint32_t cache = index.imported_facts(main, "import helpers\n");
  CHECK(cache & FunctionFacts::FreesCache);
  CHECK_FALSE(cache & FunctionFacts::StartsMemoryHistory);
  // Through a module that imports it.
  uint32_t history = index.imported_facts(main, "from wrapper import start\n");
  CHECK(history & FunctionFacts::StartsMemoryHistory);
  CHECK(history & FunctionFacts::StopsMemoryHistory);
  CHECK_FALSE(history & FunctionFacts::FreesCache);
  CHECK(index.imported_facts(main, "import plain\n") == 0);
  CHECK(index.imported_facts(main, "from losses import compute\n") & FunctionFacts::ReturnsLoss);
  // The file's own text is not an import.
  CHECK(index.imported_facts(main, "import torch\ntorch.cuda.empty_cache()\n") == 0);
}

TEST_CASE("project: a constant imported by name decides a branch", "[model][project]") {
  TempDir dir;
  dir.write("pyproject.toml", "");
  dir.write("settings.py", "ENABLE_PROFILING = False\n");
  std::string text = "from settings import ENABLE_PROFILING\n"
                     "from settings import ENABLE_PROFILING as on\n"
                     "import settings\n"
                     "if ENABLE_PROFILING:\n"
                     "    start()\n"
                     "if on:\n"
                     "    again()\n"
                     "x = settings.ENABLE_PROFILING\n";
  ProjectIndex index(dir.path());
  Analysed a(text, FileContext{dir.path() / "train.py", &index});
  CHECK(a.value("settings.ENABLE_PROFILING") == "False");
  CHECK(a.value(a.in("if ENABLE_PROFILING", "ENABLE_PROFILING")) == "False");
  CHECK(a.analysis().is_dead(a.at("start()")));
  CHECK(a.analysis().is_dead(a.at("again()")));
  // A name the module does not define, or a module that does not exist: unknown.
  Analysed b("from settings import MISSING\n"
             "from nowhere import FLAG\n"
             "use(MISSING, FLAG)\n",
             FileContext{dir.path() / "train.py", &index});
  CHECK(b.value(b.in("use(MISSING", "MISSING")) == "unknown");
  CHECK(b.value(b.in("use(MISSING, FLAG", "FLAG")) == "unknown");
}

TEST_CASE("project: imported_facts follows an open document's text and invalidate()",
          "[model][project]") {
  TempDir dir;
  dir.write("pyproject.toml", "");
  dir.write("helpers.py", "def f():\n    return 1\n");
  ProjectIndex index(dir.path());
  fs::path main = dir.path() / "main.py";
  CHECK((index.imported_facts(main, "import helpers\n") & FunctionFacts::FreesCache) == 0);
  // The language server's text of helpers.py frees the cache: the prefilter must know.
  index.set_text(dir.path() / "helpers.py",
                 std::string("import torch\ndef f():\n    torch.cuda.empty_cache()\n"));
  CHECK(index.imported_facts(main, "import helpers\n") & FunctionFacts::FreesCache);
  // Changed on disk and invalidated.
  dir.write("helpers.py",
            "import torch\ndef f():\n    torch.cuda.memory._record_memory_history()\n");
  index.set_text(dir.path() / "helpers.py", std::nullopt);
  index.invalidate(dir.path() / "helpers.py");
  CHECK(index.imported_facts(main, "import helpers\n") & FunctionFacts::StartsMemoryHistory);
}

TEST_CASE("project: a summary cut at a line boundary does not deserialize", "[model][project]") {
  ModuleSummary s;
  FunctionFacts f;
  f.flags = FunctionFacts::FreesCache;
  s.functions.emplace_back("free", f);
  s.constants = {{"N", Const::integer(3)}};
  std::string good = s.serialize();
  // The last record (the constant) is lost: a partial write of the cache.
  std::string cut = good.substr(0, good.rfind('\n', good.size() - 2) + 1);
  INFO(cut);
  CHECK_FALSE(ModuleSummary::deserialize(cut));
}
