// Document sync and diagnostics (push and pull) through the in-memory client.
#include <catch2/catch.hpp>

#include "lsp/lsp_client.h"

using namespace oomlint::lsp;
using namespace oomlint::lsp::test;

namespace {
const std::string kUri = "file:///work/train.py";

json position_change(uint32_t l1, uint32_t c1, uint32_t l2, uint32_t c2, const std::string& text) {
  return json::array({{{"range", range_json(l1, c1, l2, c2)}, {"text", text}}});
}
} // namespace

TEST_CASE("didOpen publishes diagnostics with version, code, href, source and fix data", "[lsp]") {
  LspClient c;
  c.initialize();
  c.open(kUri, kTrainPy, 3);
  json p = c.last_diagnostics(kUri);
  REQUIRE(p.is_object());
  CHECK(p["version"] == 3);
  REQUIRE(p["diagnostics"].size() == 1);
  json d = p["diagnostics"][0];
  CHECK(d["code"] == "OOM203");
  CHECK(d["source"] == "oomlint");
  CHECK(d["severity"] == 2);
  CHECK(d["codeDescription"]["href"].get<std::string>().find("OOM203") != std::string::npos);
  CHECK(d["message"].get<std::string>().find("M20") != std::string::npos);
  CHECK(d["range"] == range_json(5, 8, 5, 32));
  CHECK(d["data"]["fix"]["applicability"] == "unsafe");
  CHECK(d["data"]["fix"]["edits"].size() == 1);
}

TEST_CASE("incremental edits update diagnostics, full sync is accepted", "[lsp]") {
  LspClient c;
  c.initialize();
  c.open(kUri, kTrainPy);
  REQUIRE(c.last_diagnostics(kUri)["diagnostics"].size() == 1);
  // Comment out the call: `# ` at the start of the statement.
  c.change(kUri, 2, position_change(5, 8, 5, 8, "# "));
  CHECK(c.last_diagnostics(kUri)["version"] == 2);
  CHECK(c.last_diagnostics(kUri)["diagnostics"].empty());
  // Undo it.
  c.change(kUri, 3, position_change(5, 8, 5, 10, ""));
  CHECK(c.last_diagnostics(kUri)["diagnostics"].size() == 1);
  // Full replacement.
  c.change(kUri, 4, json::array({{{"text", "x = 1\n"}}}));
  CHECK(c.last_diagnostics(kUri)["version"] == 4);
  CHECK(c.last_diagnostics(kUri)["diagnostics"].empty());
}

TEST_CASE("a burst of edits is coalesced into one analysis of the newest version", "[lsp]") {
  LspClient c;
  c.initialize();
  c.open(kUri, "import torch\n");
  size_t before = c.published(kUri).size();
  // Type the loop one line at a time without letting the scheduler run.
  std::vector<std::string> lines = {"def train(model, loader, opt):\n", "    for b in loader:\n",
                                    "        model(b).sum().backward()\n",
                                    "        torch.cuda.empty_cache()\n"};
  int64_t version = 1;
  uint32_t line = 1;
  for (const auto& l : lines) {
    c.notify("textDocument/didChange", {{"textDocument", {{"uri", kUri}, {"version", ++version}}},
                                        {"contentChanges", position_change(line, 0, line, 0, l)}});
    ++line;
  }
  c.run_pending();
  auto published = c.published(kUri);
  REQUIRE(published.size() == before + 1);
  CHECK(published.back()["version"] == version);
  CHECK(published.back()["diagnostics"].size() == 1);
}

TEST_CASE("didClose clears diagnostics, edits to unknown documents are ignored", "[lsp]") {
  LspClient c;
  c.initialize();
  c.open(kUri, kTrainPy);
  c.notify("textDocument/didClose", {{"textDocument", {{"uri", kUri}}}});
  json p = c.last_diagnostics(kUri);
  CHECK(p["diagnostics"].empty());
  size_t count = c.published(kUri).size();
  c.change("file:///never-opened.py", 2, position_change(0, 0, 0, 0, "x"));
  c.change(kUri, 9, position_change(0, 0, 0, 0, "x"));
  c.notify("textDocument/didClose", {{"textDocument", {{"uri", "file:///never-opened.py"}}}});
  c.run_pending();
  CHECK(c.published(kUri).size() == count);
  CHECK(c.published("file:///never-opened.py").empty());
}

TEST_CASE("didSave re-publishes", "[lsp]") {
  LspClient c;
  c.initialize();
  c.open(kUri, kTrainPy);
  size_t count = c.published(kUri).size();
  c.notify("textDocument/didSave", {{"textDocument", {{"uri", kUri}}}});
  c.run_pending();
  CHECK(c.published(kUri).size() == count + 1);
}

TEST_CASE("pull diagnostics report full, then unchanged for the same resultId", "[lsp]") {
  LspClient c;
  c.initialize();
  c.open(kUri, kTrainPy);
  json full = c.call("textDocument/diagnostic", {{"textDocument", {{"uri", kUri}}}});
  CHECK(full["kind"] == "full");
  REQUIRE(full["items"].size() == 1);
  std::string id = full["resultId"];
  json same = c.call("textDocument/diagnostic",
                     {{"textDocument", {{"uri", kUri}}}, {"previousResultId", id}});
  CHECK(same["kind"] == "unchanged");
  CHECK(same["resultId"] == id);
  c.change(kUri, 2, position_change(5, 8, 5, 8, "# "));
  json changed = c.call("textDocument/diagnostic",
                        {{"textDocument", {{"uri", kUri}}}, {"previousResultId", id}});
  CHECK(changed["kind"] == "full");
  CHECK(changed["items"].empty());
  CHECK(changed["resultId"] != id);
}

TEST_CASE("positions are UTF-16 by default and UTF-8 when negotiated", "[lsp]") {
  // "é" is 2 bytes / 1 UTF-16 unit, "😀" 4 bytes / 2 units.
  std::string text = "import torch\n"
                     "def train(model, loader):\n"
                     "    for b in loader:\n"
                     "        model(b).sum().backward()\n"
                     "        s = \"é😀\"; torch.cuda.empty_cache()\n";
  {
    LspClient c;
    c.initialize();
    c.open(kUri, text);
    json d = c.last_diagnostics(kUri)["diagnostics"];
    REQUIRE(d.size() == 1);
    CHECK(d[0]["range"]["start"] == json{{"line", 4}, {"character", 19}});
  }
  {
    LspClient c;
    c.initialize({{"general", {{"positionEncodings", {"utf-8"}}}}});
    c.open(kUri, text);
    json d = c.last_diagnostics(kUri)["diagnostics"];
    REQUIRE(d.size() == 1);
    CHECK(d[0]["range"]["start"] == json{{"line", 4}, {"character", 22}});
  }
}

TEST_CASE("CRLF and tabs keep positions right through incremental edits", "[lsp]") {
  std::string text = "import torch\r\n"
                     "def train(model, loader):\r\n"
                     "\tfor b in loader:\r\n"
                     "\t\tmodel(b).sum().backward()\r\n"
                     "\t\ttorch.cuda.empty_cache()\r\n";
  LspClient c;
  c.initialize();
  c.open(kUri, text);
  json d = c.last_diagnostics(kUri)["diagnostics"];
  REQUIRE(d.size() == 1);
  CHECK(d[0]["range"] == range_json(4, 2, 4, 26));
  // Insert a line with a non-ASCII comment above; the diagnostic moves down by one.
  c.change(kUri, 2, position_change(1, 0, 1, 0, "# café ☕\r\n"));
  d = c.last_diagnostics(kUri)["diagnostics"];
  REQUIRE(d.size() == 1);
  CHECK(d[0]["range"] == range_json(5, 2, 5, 26));
  // Edit inside the non-ASCII line: replace "☕" (UTF-16 column 7..8) with "x".
  c.change(kUri, 3, position_change(1, 7, 1, 8, "x"));
  d = c.last_diagnostics(kUri)["diagnostics"];
  REQUIRE(d.size() == 1);
  json pulled = c.call("textDocument/diagnostic", {{"textDocument", {{"uri", kUri}}}});
  CHECK(pulled["items"] == d);
}

TEST_CASE("notebooks opened as JSON get diagnostics on the source lines", "[lsp]") {
  std::string nb = R"({
 "cells": [
  {"cell_type": "markdown", "metadata": {}, "source": ["# Training\n"]},
  {"cell_type": "code", "metadata": {}, "outputs": [], "source": [
    "import torch\n",
    "%matplotlib inline\n"
  ]},
  {"cell_type": "code", "metadata": {}, "outputs": [], "source": [
    "for batch in loader:\n",
    "    model(batch).sum().backward()\n",
    "    torch.cuda.empty_cache()\n"
  ]}
 ],
 "metadata": {}, "nbformat": 4, "nbformat_minor": 5
})";
  LspClient c;
  c.initialize();
  c.open("file:///work/train.ipynb", nb, 1, "json");
  json d = c.last_diagnostics("file:///work/train.ipynb")["diagnostics"];
  REQUIRE(d.size() == 1);
  CHECK(d[0]["code"] == "OOM203");
  // Line 10 of the JSON text: `    "    torch.cuda.empty_cache()\n"`; the call starts after the
  // opening quote and the four spaces of indentation in the string.
  CHECK(d[0]["range"]["start"] == json{{"line", 10}, {"character", 9}});
  CHECK(d[0]["range"]["end"] == json{{"line", 10}, {"character", 33}});
  // A broken notebook gives no diagnostics and no crash.
  c.change("file:///work/train.ipynb", 2, json::array({{{"text", "{\"cells\": [ {"}}}));
  CHECK(c.last_diagnostics("file:///work/train.ipynb")["diagnostics"].empty());
}
