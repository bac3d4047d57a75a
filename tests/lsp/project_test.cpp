// Project-wide analysis in the language server: documents are checked with their project, open
// documents' text is what the project sees, and a change to a module re-checks its importers.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "lsp/lsp_client.h"
#include "lsp/uri.h"
#include "model/project.h"

using namespace oomlint::lsp;
using namespace oomlint::lsp::test;

namespace {

struct Project {
  std::filesystem::path path;
  Project() {
    static int n = 0;
    path = std::filesystem::temp_directory_path() /
           ("oomlint-lsp-project-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
    write("pyproject.toml", "[project]\nname = \"p\"\n");
  }
  ~Project() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  void write(const std::string& rel, const std::string& text) const {
    std::filesystem::create_directories((path / rel).parent_path());
    std::ofstream(path / rel, std::ios::binary) << text;
  }
  std::string uri(const std::string& rel) const { return path_to_uri(path / rel); }
  json folders() const { return json::array({{{"uri", path_to_uri(path)}, {"name", "p"}}}); }
};

// An evaluation loop that calls a helper of utils.py: OOM153 holds when the helper runs the model
// with autograd on, and not when it is decorated with @torch.no_grad().
const std::string kTrain = "import torch\n"
                           "\n"
                           "from utils import predict\n"
                           "\n"
                           "device = torch.device(\"cuda\")\n"
                           "\n"
                           "\n"
                           "def evaluate(model, loader):\n"
                           "    model.eval()\n"
                           "    total = 0\n"
                           "    for batch in loader:\n"
                           "        out = predict(model, batch.to(device))\n"
                           "        total += out.sum().item()\n"
                           "    return total\n";

std::string utils(bool no_grad) {
  return std::string("import torch\n\n\n") + (no_grad ? "@torch.no_grad()\n" : "") +
         "def predict(model, batch):\n"
         "    return model(batch.cuda())\n";
}

size_t count_code(const json& published, const std::string& code) {
  size_t n = 0;
  if (published.is_null()) return 0;
  for (const auto& d : published["diagnostics"])
    n += d["code"] == code;
  return n;
}

json full_text(const std::string& text) {
  return json::array({{{"text", text}}});
}

} // namespace

TEST_CASE("lsp project: an imported helper's summary decides OOM153", "[lsp][project]") {
  Project p;
  p.write("utils.py", utils(false));
  p.write("train.py", kTrain);
  LspClient c;
  c.initialize(json::object(), nullptr, p.folders());
  c.open(p.uri("train.py"), kTrain);
  CHECK(count_code(c.last_diagnostics(p.uri("train.py")), "OOM153") == 1);
  // Pull diagnostics see the same.
  json pulled = c.call("textDocument/diagnostic", {{"textDocument", {{"uri", p.uri("train.py")}}}});
  CHECK(count_code(json{{"diagnostics", pulled["items"]}}, "OOM153") == 1);

  // The same file with the helper decorated: no warning.
  Project q;
  q.write("utils.py", utils(true));
  q.write("train.py", kTrain);
  LspClient d;
  d.initialize(json::object(), nullptr, q.folders());
  d.open(q.uri("train.py"), kTrain);
  CHECK(count_code(d.last_diagnostics(q.uri("train.py")), "OOM153") == 0);
}

TEST_CASE("lsp project: editing an open module re-publishes the open files that import it",
          "[lsp][project]") {
  Project p;
  p.write("utils.py", utils(true));
  p.write("train.py", kTrain);
  LspClient c;
  c.initialize(json::object(), nullptr, p.folders());
  c.open(p.uri("train.py"), kTrain);
  c.open(p.uri("utils.py"), utils(true));
  CHECK(count_code(c.last_diagnostics(p.uri("train.py")), "OOM153") == 0);
  size_t before = c.published(p.uri("train.py")).size();

  // The decorator goes away in the editor (not on disk): train.py is checked again and warns.
  c.change(p.uri("utils.py"), 2, full_text(utils(false)));
  auto after = c.published(p.uri("train.py"));
  REQUIRE(after.size() == before + 1);
  CHECK(after.back()["version"] == 1); // train.py itself did not change
  CHECK(count_code(after.back(), "OOM153") == 1);
  // Hover and pull diagnostics read the new result, not the cached one.
  json pulled = c.call("textDocument/diagnostic", {{"textDocument", {{"uri", p.uri("train.py")}}}});
  CHECK(count_code(json{{"diagnostics", pulled["items"]}}, "OOM153") == 1);

  // And back.
  c.change(p.uri("utils.py"), 3, full_text(utils(true)));
  CHECK(c.published(p.uri("train.py")).size() == before + 2);
  CHECK(count_code(c.last_diagnostics(p.uri("train.py")), "OOM153") == 0);

  // An edit that does not touch what train.py imports still re-checks it (the module changed),
  // but an open file that does not import utils.py is left alone.
  c.open(p.uri("other.py"), "import torch\n");
  size_t other = c.published(p.uri("other.py")).size();
  c.change(p.uri("utils.py"), 4, full_text(utils(true) + "\nX = 1\n"));
  CHECK(c.published(p.uri("other.py")).size() == other);
  CHECK(c.published(p.uri("train.py")).size() == before + 3);

  // Closing utils.py: the file on disk (decorated) is the module again.
  c.change(p.uri("utils.py"), 5, full_text(utils(false)));
  CHECK(count_code(c.last_diagnostics(p.uri("train.py")), "OOM153") == 1);
  c.notify("textDocument/didClose", {{"textDocument", {{"uri", p.uri("utils.py")}}}});
  c.run_pending();
  CHECK(count_code(c.last_diagnostics(p.uri("train.py")), "OOM153") == 0);
}

TEST_CASE("lsp project: a module imported through another one counts too", "[lsp][project]") {
  Project p;
  p.write("helpers.py", utils(true));
  p.write("utils.py", "from helpers import predict as run\n"
                      "\n"
                      "\n"
                      "def predict(model, batch):\n"
                      "    return run(model, batch)\n");
  p.write("train.py", kTrain);
  LspClient c;
  c.initialize(json::object(), nullptr, p.folders());
  c.open(p.uri("train.py"), kTrain);
  c.open(p.uri("helpers.py"), utils(true));
  CHECK(count_code(c.last_diagnostics(p.uri("train.py")), "OOM153") == 0);
  c.change(p.uri("helpers.py"), 2, full_text(utils(false)));
  CHECK(count_code(c.last_diagnostics(p.uri("train.py")), "OOM153") == 1);
}

TEST_CASE("lsp project: didChangeWatchedFiles invalidates a module changed on disk",
          "[lsp][project]") {
  Project p;
  p.write("utils.py", utils(true));
  p.write("train.py", kTrain);
  LspClient c;
  json caps = {{"workspace", {{"didChangeWatchedFiles", {{"dynamicRegistration", true}}}}}};
  c.initialize(caps, nullptr, p.folders());
  // The server watches the modules and the root markers, not only the config files.
  auto registrations = c.server_requests("client/registerCapability");
  REQUIRE(registrations.size() == 1);
  std::vector<std::string> globs;
  for (const auto& w : registrations[0]["registrations"][0]["registerOptions"]["watchers"])
    globs.push_back(w["globPattern"].get<std::string>());
  CHECK(std::find(globs.begin(), globs.end(), "**/*.py") != globs.end());
  CHECK(std::find(globs.begin(), globs.end(), "**/pyproject.toml") != globs.end());
  CHECK(std::find(globs.begin(), globs.end(), "**/.git") != globs.end());
  c.open(p.uri("train.py"), kTrain);
  CHECK(count_code(c.last_diagnostics(p.uri("train.py")), "OOM153") == 0);

  p.write("utils.py", utils(false));
  c.notify("workspace/didChangeWatchedFiles",
           {{"changes", {{{"uri", p.uri("utils.py")}, {"type", 2}}}}});
  c.run_pending();
  CHECK(count_code(c.last_diagnostics(p.uri("train.py")), "OOM153") == 1);

  // A module that vanishes: the import no longer resolves, the warning goes.
  std::filesystem::remove(p.path / "utils.py");
  c.notify("workspace/didChangeWatchedFiles",
           {{"changes", {{{"uri", p.uri("utils.py")}, {"type", 3}}}}});
  c.run_pending();
  CHECK(count_code(c.last_diagnostics(p.uri("train.py")), "OOM153") == 0);
}

TEST_CASE("lsp project: ProjectIndex::set_text drops what it scanned of the old text",
          "[lsp][project]") {
  Project p;
  p.write("utils.py", "X = 1\n");
  p.write("more.py", "Y = 2\n");
  oomlint::checks::ProjectIndex index(p.path);
  auto train = p.path / "train.py";
  auto deps = index.dependencies(train, "from utils import X\n");
  CHECK(deps.size() == 1);
  index.set_text(p.path / "utils.py", std::string("from more import Y\n"));
  deps = index.dependencies(train, "from utils import X\n");
  CHECK(deps.size() == 2);
  p.write("utils.py", "X = 1\n");
  index.set_text(p.path / "utils.py", std::nullopt);
  CHECK(index.dependencies(train, "from utils import X\n").size() == 1);
  p.write("utils.py", "from more import Y\n");
  index.invalidate(p.path / "utils.py");
  CHECK(index.dependencies(train, "from utils import X\n").size() == 2);
}

TEST_CASE("lsp project: the workspace is indexed after initialized, with $/progress",
          "[lsp][project]") {
  Project p;
  p.write("pyproject.toml", "[tool.oomlint]\nexclude = [\"legacy/*\"]\n");
  p.write("utils.py", utils(true));
  p.write("train.py", kTrain);
  p.write("pkg/__init__.py", "");
  p.write("legacy/old.py", "import torch\n"); // excluded by the config
  p.write("data/big.py", "X = [" + std::string(size_t{1} << 20, '1') + "]\n"); // too large
  p.write("notes.ipynb", "{}");                                                // not a module
  LspClient c;
  json caps = {{"window", {{"workDoneProgress", true}}}};
  c.call("initialize", {{"processId", nullptr},
                        {"rootUri", nullptr},
                        {"capabilities", caps},
                        {"workspaceFolders", p.folders()}});
  c.notify("initialized", json::object());
  json create = c.server_request_id("window/workDoneProgress/create");
  REQUIRE(create.is_string());
  json token = c.server_requests("window/workDoneProgress/create")[0]["token"];
  // Progress only once the client has accepted the token.
  c.server().handle(json{{"jsonrpc", "2.0"}, {"id", create}, {"result", nullptr}});
  c.run_pending();
  std::vector<json> progress;
  for (const auto& n : c.notifications("$/progress")) {
    if (n["token"] == token) progress.push_back(n["value"]);
  }
  REQUIRE(progress.size() >= 2);
  CHECK(progress.front()["kind"] == "begin");
  CHECK(progress.back()["kind"] == "end");
  std::string end = progress.back()["message"].get<std::string>();
  CHECK(end.find("indexed 3 of 3 modules") != std::string::npos);
  CHECK(end.find("1 larger files skipped") != std::string::npos);
}

TEST_CASE("lsp project: no $/progress without the client's consent, no indexing when turned off",
          "[lsp][project]") {
  Project p;
  p.write("utils.py", utils(true));
  {
    LspClient c; // the client never answers the create request
    c.initialize({{"window", {{"workDoneProgress", true}}}}, nullptr, p.folders());
    CHECK(c.server_requests("window/workDoneProgress/create").size() == 1);
    CHECK(c.notifications("$/progress").empty());
  }
  {
    LspClient c;
    c.initialize({{"window", {{"workDoneProgress", true}}}}, {{"indexWorkspace", false}},
                 p.folders());
    CHECK(c.server_requests("window/workDoneProgress/create").empty());
  }
}

TEST_CASE("lsp project: a threaded server indexes in the background and still answers",
          "[lsp][project]") {
  Project p;
  for (int i = 0; i < 200; ++i)
    p.write("m" + std::to_string(i) + ".py", utils(i % 2 == 0));
  p.write("train.py", kTrain);
  LspClient c(/*workers=*/2);
  c.initialize(json::object(), nullptr, p.folders());
  c.open(p.uri("train.py"), kTrain);
  json hover = c.call("textDocument/hover", {{"textDocument", {{"uri", p.uri("train.py")}}},
                                             {"position", {{"line", 0}, {"character", 0}}}});
  CHECK(hover.is_null());
  c.run_pending();
  CHECK(count_code(c.last_diagnostics(p.uri("train.py")), "OOM153") == 0); // no utils.py
  // Shutting down stops (and joins) the indexer.
  c.call("shutdown", nullptr);
  c.notify("exit", nullptr);
}
