// Code actions, hover, settings, config files and workspace diagnostics.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "line_index.h"
#include "lsp/code_actions.h"
#include "lsp/convert.h"
#include "lsp/lsp_client.h"
#include "lsp/uri.h"
#include "registry.h"

using namespace oomlint;
using namespace oomlint::lsp;
using namespace oomlint::lsp::test;

namespace {
const std::string kUri = "file:///work/train.py";

json actions_for(LspClient& c, const std::string& uri, json only = nullptr) {
  json diags = c.last_diagnostics(uri)["diagnostics"];
  json context = {{"diagnostics", diags}};
  if (!only.is_null()) context["only"] = only;
  return c.call(
      "textDocument/codeAction",
      {{"textDocument", {{"uri", uri}}}, {"range", range_json(0, 0, 0, 0)}, {"context", context}});
}

// Applies LSP text edits (UTF-16 positions, one line-based document) to `text`.
std::string apply_text_edits(const std::string& text, const json& edits) {
  checks::LineIndex lines(text);
  std::vector<checks::Edit> byte_edits;
  for (const auto& e : edits) {
    Range r = parse_range(e["range"]);
    byte_edits.push_back({to_offset(lines, r.start, PositionEncoding::Utf16),
                          to_offset(lines, r.end, PositionEncoding::Utf16),
                          e["newText"].get<std::string>()});
  }
  std::sort(byte_edits.begin(), byte_edits.end(),
            [](const auto& a, const auto& b) { return a.start > b.start; });
  std::string out = text;
  for (const auto& e : byte_edits)
    out.replace(e.start, e.end - e.start, e.text);
  return out;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("oomlint-lsp-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
  void write(const std::string& rel, const std::string& text) const {
    std::filesystem::create_directories((path / rel).parent_path());
    std::ofstream(path / rel, std::ios::binary) << text;
  }
};
} // namespace

TEST_CASE("noqa_edit appends a comment or extends an existing list", "[lsp]") {
  auto e = noqa_edit("x = f()\n", 0, "OOM203");
  REQUIRE(e);
  CHECK(e->start == 7);
  CHECK(e->text == "  # noqa: OOM203");
  e = noqa_edit("x = f()  # noqa: OOM201\n", 0, "OOM203");
  REQUIRE(e);
  CHECK(e->start == 23);
  CHECK(e->text == ", OOM203");
  CHECK_FALSE(noqa_edit("x = f()  # noqa: OOM203\n", 0, "OOM203"));
  CHECK_FALSE(noqa_edit("x = f()  # noqa\n", 0, "OOM203"));
  e = noqa_edit("x = f()   \r\ny\n", 0, "OOM203");
  REQUIRE(e);
  CHECK(e->start == 7);
  CHECK(e->end == 10);
  CHECK_FALSE(noqa_edit("x\n", 5, "OOM203"));
}

TEST_CASE("code actions: quick fix from data, ignore-on-line, versioned documentChanges", "[lsp]") {
  LspClient c;
  c.initialize({{"workspace", {{"workspaceEdit", {{"documentChanges", true}}}}}});
  c.open(kUri, kTrainPy, 7);
  json actions = actions_for(c, kUri);
  REQUIRE(actions.size() == 2);
  json fix = actions[0];
  CHECK(fix["kind"] == "quickfix");
  CHECK(fix["isPreferred"] == false); // the OOM203 fix is unsafe
  json change = fix["edit"]["documentChanges"][0];
  CHECK(change["textDocument"]["version"] == 7);
  std::string fixed = apply_text_edits(kTrainPy, change["edits"]);
  CHECK(fixed.find("empty_cache") == std::string::npos);
  json ignore = actions[1];
  CHECK(ignore["title"] == "Ignore OOM203 on this line");
  std::string ignored = apply_text_edits(kTrainPy, ignore["edit"]["documentChanges"][0]["edits"]);
  CHECK(ignored.find("torch.cuda.empty_cache()  # noqa: OOM203\n") != std::string::npos);
  // Applying the ignore edit silences the diagnostic.
  c.change(kUri, 8, json::array({{{"text", ignored}}}));
  CHECK(c.last_diagnostics(kUri)["diagnostics"].empty());
}

TEST_CASE("code actions use `changes` without documentChanges support and honour `only`", "[lsp]") {
  LspClient c;
  c.initialize();
  c.open(kUri, kTrainPy);
  json actions = actions_for(c, kUri);
  REQUIRE_FALSE(actions.empty());
  CHECK(actions[0]["edit"]["changes"].contains(kUri));
  CHECK(actions_for(c, kUri, json::array({"refactor"})).empty());
  // Nothing safe to fix in this file: no fix-all action.
  CHECK(actions_for(c, kUri, json::array({"source.fixAll"})).empty());
  // Diagnostics of other tools are left alone.
  json foreign = {
      {{"range", range_json(0, 0, 0, 1)}, {"message", "x"}, {"source", "ruff"}, {"code", "F401"}}};
  CHECK(c.call("textDocument/codeAction", {{"textDocument", {{"uri", kUri}}},
                                           {"range", range_json(0, 0, 0, 0)},
                                           {"context", {{"diagnostics", foreign}}}})
            .empty());
}

TEST_CASE("hover on a diagnostic shows the rule's documentation", "[lsp]") {
  LspClient c;
  c.initialize();
  c.open(kUri, kTrainPy);
  json h = c.call("textDocument/hover", {{"textDocument", {{"uri", kUri}}},
                                         {"position", {{"line", 5}, {"character", 15}}}});
  REQUIRE(h.is_object());
  CHECK(h["contents"]["kind"] == "markdown");
  std::string doc = h["contents"]["value"];
  CHECK(doc.find("OOM203") != std::string::npos);
  CHECK(doc.find(std::string(checks::rule_doc("OOM203")).substr(0, 20)) != std::string::npos);
  CHECK(h["range"] == range_json(5, 8, 5, 32));
  json none = c.call("textDocument/hover", {{"textDocument", {{"uri", kUri}}},
                                            {"position", {{"line", 0}, {"character", 0}}}});
  CHECK(none.is_null());
  json far = c.call("textDocument/hover", {{"textDocument", {{"uri", kUri}}},
                                           {"position", {{"line", 900}, {"character", 9000}}}});
  CHECK(far.is_null());
  json closed = c.call("textDocument/hover", {{"textDocument", {{"uri", "file:///nope.py"}}},
                                              {"position", {{"line", 0}, {"character", 0}}}});
  CHECK(closed.is_null());
}

TEST_CASE("settings from initializationOptions and didChangeConfiguration", "[lsp]") {
  LspClient c;
  c.initialize(json::object(), {{"settings", {{"ignore", {"OOM203"}}}}});
  c.open(kUri, kTrainPy);
  CHECK(c.last_diagnostics(kUri)["diagnostics"].empty());
  // Changing settings re-checks open documents.
  c.notify("workspace/didChangeConfiguration",
           {{"settings", {{"oomlint", {{"select", {"OOM2"}}}}}}});
  c.run_pending();
  CHECK(c.last_diagnostics(kUri)["diagnostics"].size() == 1);
  // A bad value is reported and the last good settings stay.
  c.notify("workspace/didChangeConfiguration", {{"settings", {{"targetGpu", "pentium"}}}});
  c.run_pending();
  auto shown = c.notifications("window/showMessage");
  REQUIRE(shown.size() == 1);
  CHECK(shown[0]["type"] == 1);
  CHECK(shown[0]["message"].get<std::string>().find("pentium") != std::string::npos);
  c.notify("textDocument/didSave", {{"textDocument", {{"uri", kUri}}}});
  c.run_pending();
  CHECK(c.last_diagnostics(kUri)["diagnostics"].size() == 1);
}

TEST_CASE("config files per folder, reloaded on didChangeWatchedFiles", "[lsp]") {
  TempDir dir;
  dir.write("pyproject.toml", "[tool.oomlint]\nignore = [\"OOM203\"]\n");
  std::string folder = path_to_uri(dir.path);
  std::string uri = path_to_uri(dir.path / "train.py");
  LspClient c;
  c.initialize(json::object(), nullptr, json::array({{{"uri", folder}, {"name", "w"}}}));
  c.open(uri, kTrainPy);
  CHECK(c.last_diagnostics(uri)["diagnostics"].empty());
  // A file outside the folder uses the defaults.
  c.open("file:///elsewhere/train.py", kTrainPy);
  CHECK(c.last_diagnostics("file:///elsewhere/train.py")["diagnostics"].size() == 1);

  dir.write("pyproject.toml", "[tool.oomlint]\nselect = [\"OOM\"]\n");
  c.notify("workspace/didChangeWatchedFiles",
           {{"changes", {{{"uri", path_to_uri(dir.path / "pyproject.toml")}, {"type", 2}}}}});
  c.run_pending();
  CHECK(c.last_diagnostics(uri)["diagnostics"].size() == 1);

  // A broken file: showMessage, and the last good configuration stays in force.
  dir.write("pyproject.toml", "[tool.oomlint\nselect = [");
  c.notify("workspace/didChangeWatchedFiles",
           {{"changes", {{{"uri", path_to_uri(dir.path / "pyproject.toml")}, {"type", 2}}}}});
  c.run_pending();
  auto shown = c.notifications("window/showMessage");
  REQUIRE(shown.size() == 1);
  CHECK(shown[0]["message"].get<std::string>().find("pyproject.toml") != std::string::npos);
  CHECK(c.last_diagnostics(uri)["diagnostics"].size() == 1);

  dir.write("oomlint.toml", "target-gpu = \"volta\"\nignore = [\"OOM20\"]\n");
  c.notify("workspace/didChangeWatchedFiles",
           {{"changes", {{{"uri", path_to_uri(dir.path / "oomlint.toml")}, {"type", 1}}}}});
  c.run_pending();
  CHECK(c.last_diagnostics(uri)["diagnostics"].empty());
}

TEST_CASE("the folder config's exclude and per-file-ignores apply as in oomlint check", "[lsp]") {
  const std::string two_rules = "import torch\n"
                                "from transformers import AutoModelForCausalLM\n"
                                "\n"
                                "m = AutoModelForCausalLM.from_pretrained(\"gpt2\", "
                                "attn_implementation=\"eager\")\n" +
                                kTrainPy.substr(kTrainPy.find("\ndef") + 1);
  auto codes = [](const json& diagnostics) {
    std::vector<std::string> out;
    for (const auto& d : diagnostics)
      out.push_back(d["code"].get<std::string>());
    std::sort(out.begin(), out.end());
    return out;
  };
  using Codes = std::vector<std::string>;
  TempDir dir;
  dir.write("pyproject.toml", "[tool.oomlint]\n"
                              "exclude = [\"legacy/*\"]\n"
                              "[tool.oomlint.per-file-ignores]\n"
                              "\"tests/*\" = [\"OOM203\"]\n"
                              "\"tests/all_*.py\" = [\"ALL\"]\n");
  dir.write("train.py", two_rules);
  dir.write("tests/test_train.py", two_rules);
  dir.write("tests/all_off.py", two_rules);
  dir.write("legacy/old.py", two_rules);
  LspClient c;
  c.initialize(json::object(), nullptr,
               json::array({{{"uri", path_to_uri(dir.path)}, {"name", "w"}}}));
  std::map<std::string, Codes> want = {{"train.py", {"OOM111", "OOM203"}},
                                       {"tests/test_train.py", {"OOM111"}},
                                       {"tests/all_off.py", {}},
                                       {"legacy/old.py", {}}};
  // Workspace diagnostics leave the excluded file out, as the walk of `oomlint check` does.
  json r = c.call("workspace/diagnostic", {{"previousResultIds", json::array()}});
  std::map<std::string, Codes> walked;
  for (const auto& item : r["items"])
    walked[item["uri"].get<std::string>()] = codes(item["items"]);
  CHECK(walked == std::map<std::string, Codes>{
                      {path_to_uri(dir.path / "train.py"), want["train.py"]},
                      {path_to_uri(dir.path / "tests/test_train.py"), want["tests/test_train.py"]},
                      {path_to_uri(dir.path / "tests/all_off.py"), want["tests/all_off.py"]}});
  for (const auto& [file, expected] : want) {
    std::string uri = path_to_uri(dir.path / file);
    // Pulled while the file is not open (read from disk), then pushed once it is.
    json pulled = c.call("textDocument/diagnostic", {{"textDocument", {{"uri", uri}}}});
    CHECK(codes(pulled["items"]) == expected);
    c.open(uri, two_rules);
    CHECK(codes(c.last_diagnostics(uri)["diagnostics"]) == expected);
  }
  // Client settings come first and the per-file-ignores still narrow them.
  c.notify("workspace/didChangeConfiguration", {{"settings", {{"select", {"OOM203"}}}}});
  c.run_pending();
  CHECK(codes(c.last_diagnostics(path_to_uri(dir.path / "train.py"))["diagnostics"]) ==
        Codes{"OOM203"});
  CHECK(codes(c.last_diagnostics(path_to_uri(dir.path / "tests/test_train.py"))["diagnostics"])
            .empty());
  // Without the config file, nothing is excluded or ignored any more.
  std::filesystem::remove(dir.path / "pyproject.toml");
  c.notify("workspace/didChangeConfiguration", {{"settings", json::object()}});
  c.notify("workspace/didChangeWatchedFiles",
           {{"changes", {{{"uri", path_to_uri(dir.path / "pyproject.toml")}, {"type", 3}}}}});
  c.run_pending();
  for (const auto& file : {"tests/test_train.py", "legacy/old.py"}) {
    CHECK(codes(c.last_diagnostics(path_to_uri(dir.path / file))["diagnostics"]) ==
          Codes{"OOM111", "OOM203"});
  }
}

TEST_CASE("workspace diagnostics cover files that are not open, with partial results", "[lsp]") {
  TempDir dir;
  dir.write("a.py", kTrainPy);
  dir.write("pkg/b.py", "x = 1\n");
  dir.write("pkg/c.py", kTrainPy);
  dir.write(".venv/lib/d.py", kTrainPy);
  dir.write("node_modules/e.py", kTrainPy);
  dir.write("__pycache__/f.py", kTrainPy);
  dir.write("notes.txt", "torch.cuda.empty_cache()");
  LspClient c;
  c.initialize(json::object(), nullptr,
               json::array({{{"uri", path_to_uri(dir.path)}, {"name", "w"}}}));
  json r = c.call("workspace/diagnostic", {{"previousResultIds", json::array()}});
  REQUIRE(r["items"].size() == 3);
  std::map<std::string, json> by_uri;
  for (const auto& item : r["items"])
    by_uri[item["uri"]] = item;
  CHECK(by_uri[path_to_uri(dir.path / "a.py")]["items"].size() == 1);
  CHECK(by_uri[path_to_uri(dir.path / "pkg/b.py")]["items"].empty());
  CHECK(by_uri[path_to_uri(dir.path / "pkg/c.py")]["version"].is_null());

  // Again with the previous result ids: everything is unchanged; with tokens: progress.
  json previous = json::array();
  for (const auto& item : r["items"])
    previous.push_back({{"uri", item["uri"]}, {"value", item["resultId"]}});
  c.clear();
  json again = c.call(
      "workspace/diagnostic",
      {{"previousResultIds", previous}, {"partialResultToken", "p1"}, {"workDoneToken", "w1"}});
  CHECK(again["items"].empty());
  json partial_items = json::array();
  std::vector<std::string> kinds;
  for (const auto& p : c.notifications("$/progress")) {
    if (p["token"] == "p1") {
      for (const auto& i : p["value"]["items"])
        partial_items.push_back(i);
    } else if (p["token"] == "w1") {
      kinds.push_back(p["value"]["kind"]);
    }
  }
  REQUIRE(partial_items.size() == 3);
  for (const auto& i : partial_items)
    CHECK(i["kind"] == "unchanged");
  REQUIRE(kinds.size() >= 2);
  CHECK(kinds.front() == "begin");
  CHECK(kinds.back() == "end");

  // An open document is reported with its version and in-editor text.
  std::string uri = path_to_uri(dir.path / "pkg/b.py");
  c.open(uri, kTrainPy, 5);
  json third = c.call("workspace/diagnostic", {{"previousResultIds", previous}});
  bool seen = false;
  for (const auto& item : third["items"]) {
    if (item["uri"] == uri) {
      seen = true;
      CHECK(item["version"] == 5);
      CHECK(item["kind"] == "full");
      CHECK(item["items"].size() == 1);
    }
  }
  CHECK(seen);
}

TEST_CASE("hover on a model id shows the memory estimate, an inlay hint shows its total",
          "[lsp][estimate]") {
  LspClient c;
  c.initialize();
  const std::string uri = "file:///work/finetune.py";
  const std::string text =
      "from transformers import AutoModelForCausalLM, Trainer, TrainingArguments\n"
      "model = AutoModelForCausalLM.from_pretrained(\"meta-llama/Llama-2-7b-hf\")\n"
      "args = TrainingArguments(output_dir=\"out\", bf16=True)\n"
      "Trainer(model=model, args=args).train()\n";
  c.open(uri, text);
  json h = c.call("textDocument/hover", {{"textDocument", {{"uri", uri}}},
                                         {"position", {{"line", 1}, {"character", 52}}}});
  REQUIRE(h.is_object());
  std::string md = h["contents"]["value"];
  CHECK(md.find("M1") != std::string::npos);
  CHECK(md.find("M12") != std::string::npos);
  CHECK(md.find("M13") != std::string::npos);
  // The run's predicted peak (oomlint fit): TrainingArguments' default micro-batch of 8, and the
  // sequence length it had to assume, said as such.
  CHECK(md.find("Predicted peak of this run") != std::string::npos);
  CHECK(md.find("micro-batch 8 x 512 tokens") != std::string::npos);
  CHECK(md.find("Assumed:") != std::string::npos);
  CHECK(h["range"]["start"]["line"] == 1);
  // Elsewhere on the line there is no estimate and no diagnostic.
  json none = c.call("textDocument/hover", {{"textDocument", {{"uri", uri}}},
                                            {"position", {{"line", 2}, {"character", 1}}}});
  CHECK(none.is_null());
  json hints = c.call("textDocument/inlayHint",
                      {{"textDocument", {{"uri", uri}}}, {"range", range_json(0, 0, 4, 0)}});
  REQUIRE(hints.is_array());
  REQUIRE(hints.size() == 1);
  CHECK(hints[0]["position"]["line"] == 1);
  CHECK(hints[0]["label"].get<std::string>().find("GB") != std::string::npos);
  json outside = c.call("textDocument/inlayHint",
                        {{"textDocument", {{"uri", uri}}}, {"range", range_json(3, 0, 4, 0)}});
  CHECK(outside.empty());
}

TEST_CASE("hover on the training arguments shows the run's predicted peak and the GPU it fits",
          "[lsp][estimate]") {
  LspClient c;
  c.initialize();
  const std::string uri = "file:///work/sft.py";
  const std::string text =
      "from transformers import AutoModelForCausalLM, Trainer, TrainingArguments\n"
      "model = AutoModelForCausalLM.from_pretrained(\"TinyLlama/TinyLlama-1.1B-Chat-v1.0\")\n"
      "batch = tok(texts, truncation=True, max_length=1024)\n"
      "args = TrainingArguments(\n"
      "    output_dir=\"out\", bf16=True, per_device_train_batch_size=4\n"
      ")\n"
      "Trainer(model=model, args=args).train()\n";
  c.open(uri, text);
  auto hover = [&](int line, int character) {
    return c.call("textDocument/hover", {{"textDocument", {{"uri", uri}}},
                                         {"position", {{"line", line}, {"character", character}}}});
  };
  // On the class name: the peak of the run the script sets up (its batch and sequence length,
  // nothing assumed about them), the smallest GPU of the table that holds it, and the range of
  // the whole call.
  json h = hover(3, 10);
  REQUIRE(h.is_object());
  std::string md = h["contents"]["value"];
  CHECK(md.find("Predicted peak of this run") != std::string::npos);
  CHECK(md.find("micro-batch 4 x 1024 tokens") != std::string::npos);
  CHECK(md.find("Fits a ") != std::string::npos);
  CHECK(md.find("the micro-batch") == std::string::npos); // not among the assumptions
  // The model's own table (per-method rows) belongs to the hover on the model id only.
  CHECK(md.find("M13") == std::string::npos);
  CHECK(h["range"]["start"]["line"] == 3);
  CHECK(h["range"]["start"]["character"] == 7);
  CHECK(h["range"]["end"]["line"] == 5);
  // The same text on an argument of the call, on its second line.
  json on_arg = hover(4, 40);
  REQUIRE(on_arg.is_object());
  CHECK(on_arg["contents"]["value"] == md);
  // The model load still shows its table, with the same peak after it.
  json on_model = hover(1, 52);
  REQUIRE(on_model.is_object());
  std::string model_md = on_model["contents"]["value"];
  CHECK(model_md.find("M13") != std::string::npos);
  CHECK(model_md.find(md) != std::string::npos);
  // Outside the call (the variable it is bound to, the Trainer line): nothing.
  CHECK(hover(3, 1).is_null());
  CHECK(hover(6, 2).is_null());

  // Training arguments without a model the planner can find: no hover rather than a guess.
  const std::string bare_uri = "file:///work/bare.py";
  c.open(bare_uri, "from transformers import TrainingArguments\n"
                   "args = TrainingArguments(output_dir=\"out\")\n");
  json bare = c.call("textDocument/hover", {{"textDocument", {{"uri", bare_uri}}},
                                            {"position", {{"line", 1}, {"character", 10}}}});
  CHECK(bare.is_null());
}
