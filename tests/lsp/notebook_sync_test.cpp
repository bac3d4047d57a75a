// Notebook documents (LSP 3.17 notebookDocument/sync): the code cells checked as one module,
// diagnostics, code actions and hover per cell, structure changes, malformed messages, and the
// same findings as `oomlint check` on the .ipynb.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "cli/file_checker.h"
#include "cli/notebook.h"
#include "engine/engine.h"
#include "fixture_support.h"
#include "line_index.h"
#include "lsp/convert.h"
#include "lsp/lsp_client.h"

using namespace oomlint;
using namespace oomlint::lsp;
using namespace oomlint::lsp::test;

namespace {

const std::string kNotebook = "file:///work/nb/train.ipynb";

std::string cell_uri(int id) {
  return "vscode-notebook-cell:/work/nb/train.ipynb#C" + std::to_string(id);
}

struct Cell {
  int id = 0;
  bool code = true;
  std::string text;
};

// The notebook as the client holds it: cells in order, each with its text and version.
struct Model {
  std::vector<Cell> cells;
  std::map<int, int64_t> versions;
  int64_t version = 1;
  int next_id = 100;

  json cell_json(const Cell& c) const {
    return {{"kind", c.code ? 2 : 1}, {"document", cell_uri(c.id)}};
  }
  json item(const Cell& c) const {
    return {{"uri", cell_uri(c.id)},
            {"languageId", c.code ? "python" : "markdown"},
            {"version", versions.count(c.id) ? versions.at(c.id) : 1},
            {"text", c.text}};
  }
  json open_params() const {
    json cells_json = json::array(), items = json::array();
    for (const auto& c : cells) {
      cells_json.push_back(cell_json(c));
      items.push_back(item(c));
    }
    return {{"notebookDocument",
             {{"uri", kNotebook},
              {"notebookType", "jupyter-notebook"},
              {"version", version},
              {"cells", cells_json}}},
            {"cellTextDocuments", items}};
  }
  json change_params(json change) {
    return {{"notebookDocument", {{"uri", kNotebook}, {"version", ++version}}},
            {"change", std::move(change)}};
  }
};

void open_notebook(LspClient& c, const Model& m) {
  c.notify("notebookDocument/didOpen", m.open_params());
  c.run_pending();
}

void change_notebook(LspClient& c, Model& m, json change) {
  c.notify("notebookDocument/didChange", m.change_params(std::move(change)));
  c.run_pending();
}

// Replaces a range of a cell (UTF-16 positions) in the model and on the server.
void edit_cell(LspClient& c, Model& m, size_t index, Range r, const std::string& text) {
  Cell& cell = m.cells[index];
  checks::LineIndex lines(cell.text);
  uint32_t a = to_offset(lines, r.start, PositionEncoding::Utf16);
  uint32_t b = to_offset(lines, r.end, PositionEncoding::Utf16);
  cell.text.replace(a, b - a, text);
  int64_t v = ++m.versions[cell.id];
  change_notebook(
      c, m,
      {{"cells",
        {{"textContent",
          json::array({{{"document", {{"uri", cell_uri(cell.id)}, {"version", v}}},
                        {"changes", json::array({{{"range", to_json(r)}, {"text", text}}})}}})}}}});
}

// Each cell's last published diagnostics (codes and ranges) for the cells of `m`.
std::map<int, json> cell_diagnostics(LspClient& c, const Model& m) {
  std::map<int, json> out;
  for (const auto& cell : m.cells) {
    json last = c.last_diagnostics(cell_uri(cell.id));
    json items = json::array();
    if (!last.is_null()) {
      for (const auto& d : last["diagnostics"])
        items.push_back({d["code"], d["range"], d.value("data", json())});
    }
    out[cell.id] = items;
  }
  return out;
}

// What a server that is given the notebook as it is now publishes.
std::map<int, json> fresh_diagnostics(const Model& m) {
  LspClient fresh;
  fresh.initialize();
  open_notebook(fresh, m);
  return cell_diagnostics(fresh, m);
}

const std::string kImports = "import torch\nimport torch.nn.functional as F\n";
const std::string kLoop = "def train_loop(model, loader, optimizer):\n"
                          "    history = []\n"
                          "    for batch in loader:\n"
                          "        loss = F.cross_entropy(model(batch), batch)\n"
                          "        loss.backward()\n"
                          "        optimizer.step()\n"
                          "        history.append(loss)\n"
                          "        torch.cuda.empty_cache()\n"
                          "    return history\n";

Model train_model() {
  Model m;
  m.cells = {{1, true, kImports}, {2, false, "# Training\n"}, {3, true, kLoop}};
  return m;
}

std::vector<std::string> codes_of(const json& published) {
  std::vector<std::string> out;
  if (published.is_null()) return out;
  for (const auto& d : published["diagnostics"])
    out.push_back(d["code"]);
  std::sort(out.begin(), out.end());
  return out;
}

json notebook_log(LspClient& c) {
  json out = json::array();
  for (const auto& m : c.notifications("window/logMessage")) {
    std::string text = m["message"];
    if (text.find("notebook") != std::string::npos) out.push_back(text);
  }
  return out;
}

} // namespace

TEST_CASE("notebook sync: the server advertises notebookDocumentSync for Jupyter Python cells",
          "[lsp][notebook]") {
  LspClient c;
  json caps = c.initialize()["capabilities"];
  json sync = caps["notebookDocumentSync"];
  REQUIRE(sync.is_object());
  CHECK(sync["notebookSelector"][0]["notebook"]["notebookType"] == "jupyter-notebook");
  CHECK(sync["notebookSelector"][0]["cells"][0]["language"] == "python");
}

TEST_CASE("notebook sync: code cells are one module, diagnostics go to each cell",
          "[lsp][notebook]") {
  LspClient c;
  c.initialize();
  Model m = train_model();
  open_notebook(c, m);
  // `torch` is imported in cell 1: the loop in cell 3 gets OOM203 (it needs the import) and
  // OOM201, at positions in cell 3.
  json loop = c.last_diagnostics(cell_uri(3));
  REQUIRE(codes_of(loop) == std::vector<std::string>{"OOM201", "OOM203"});
  for (const auto& d : loop["diagnostics"]) {
    if (d["code"] == "OOM203") CHECK(d["range"] == range_json(7, 8, 7, 32));
    if (d["code"] == "OOM201") CHECK(d["range"]["start"] == json{{"line", 6}, {"character", 8}});
  }
  CHECK(loop["version"] == 1);
  // The other cells get an empty list; the markdown cell is not checked.
  CHECK(c.last_diagnostics(cell_uri(1))["diagnostics"].empty());
  CHECK(c.last_diagnostics(cell_uri(2))["diagnostics"].empty());
  // Without the import cell, `torch` and `F` resolve to nothing: both findings are cross-cell.
  LspClient alone;
  alone.initialize();
  Model only_loop;
  only_loop.cells = {{3, true, kLoop}};
  open_notebook(alone, only_loop);
  CHECK(codes_of(alone.last_diagnostics(cell_uri(3))).empty());
}

TEST_CASE("notebook sync: cells are pushed even when the client turned pushes off",
          "[lsp][notebook]") {
  // The VS Code extension sets pushDiagnostics: false (it pulls), but vscode-languageclient
  // pulls no notebook cell: the cells' diagnostics must come pushed.
  LspClient c;
  c.initialize({}, {{"pushDiagnostics", false}});
  Model m = train_model();
  open_notebook(c, m);
  CHECK(codes_of(c.last_diagnostics(cell_uri(3))) == std::vector<std::string>{"OOM201", "OOM203"});
  // Python documents keep to the client's choice.
  c.open("file:///work/nb/train.py", kImports + kLoop);
  CHECK(c.published("file:///work/nb/train.py").empty());
}

TEST_CASE("notebook sync: incremental cell edits, cells added, removed and moved",
          "[lsp][notebook]") {
  LspClient c;
  c.initialize();
  Model m = train_model();
  open_notebook(c, m);
  REQUIRE(codes_of(c.last_diagnostics(cell_uri(3))).size() == 2);

  SECTION("an edit in the import cell changes the loop cell's findings") {
    // `import torch` -> `import torcx`: OOM203 goes away from cell 3.
    edit_cell(c, m, 0, Range{{0, 11}, {0, 12}}, "x");
    CHECK(codes_of(c.last_diagnostics(cell_uri(3))) == std::vector<std::string>{"OOM201"});
    edit_cell(c, m, 0, Range{{0, 11}, {0, 12}}, "h");
    CHECK(codes_of(c.last_diagnostics(cell_uri(3))).size() == 2);
    CHECK(cell_diagnostics(c, m) == fresh_diagnostics(m));
  }
  SECTION("removing the import cell clears its diagnostics and loses the cross-cell finding") {
    change_notebook(c, m,
                    {{"cells",
                      {{"structure",
                        {{"array", {{"start", 0}, {"deleteCount", 1}}},
                         {"didClose", json::array({{{"uri", cell_uri(1)}}})}}}}}});
    m.cells.erase(m.cells.begin());
    CHECK(codes_of(c.last_diagnostics(cell_uri(3))).empty());
    CHECK(c.last_diagnostics(cell_uri(1))["diagnostics"].empty());
    CHECK(cell_diagnostics(c, m) == fresh_diagnostics(m));
  }
  SECTION("a cell added, then moved") {
    Cell added{4, true, "optimizer = torch.optim.AdamW(model.parameters())\n"};
    change_notebook(
        c, m,
        {{"cells",
          {{"structure",
            {{"array",
              {{"start", 3}, {"deleteCount", 0}, {"cells", json::array({m.cell_json(added)})}}},
             {"didOpen", json::array({m.item(added)})}}}}}});
    m.cells.push_back(added);
    CHECK(cell_diagnostics(c, m) == fresh_diagnostics(m));
    // Move the loop cell (index 2) to the end: one array change, no open or close.
    Cell loop = m.cells[2];
    change_notebook(
        c, m,
        {{"cells",
          {{"structure",
            {{"array",
              {{"start", 2},
               {"deleteCount", 2},
               {"cells", json::array({m.cell_json(m.cells[3]), m.cell_json(loop)})}}}}}}}});
    std::swap(m.cells[2], m.cells[3]);
    CHECK(codes_of(c.last_diagnostics(cell_uri(3))).size() == 2);
    CHECK(cell_diagnostics(c, m) == fresh_diagnostics(m));
  }
  SECTION("a code cell turned into markup loses its diagnostics") {
    change_notebook(
        c, m, {{"cells", {{"data", json::array({{{"kind", 1}, {"document", cell_uri(3)}}})}}}});
    m.cells[2].code = false;
    CHECK(c.last_diagnostics(cell_uri(3))["diagnostics"].empty());
  }
  SECTION("closing the notebook clears every cell") {
    c.notify(
        "notebookDocument/didClose",
        {{"notebookDocument", {{"uri", kNotebook}}},
         {"cellTextDocuments", json::array({{{"uri", cell_uri(1)}}, {{"uri", cell_uri(3)}}})}});
    c.run_pending();
    CHECK(c.last_diagnostics(cell_uri(3))["diagnostics"].empty());
    json hover = c.call("textDocument/hover", {{"textDocument", {{"uri", cell_uri(3)}}},
                                               {"position", {{"line", 7}, {"character", 12}}}});
    CHECK(hover.is_null());
  }
}

TEST_CASE("notebook sync: random cell edits and structure changes equal a fresh analysis",
          "[lsp][notebook]") {
  const std::vector<std::string> snippets = {"x = 1\n",
                                             "torch.cuda.empty_cache()\n",
                                             "for b in loader:\n    loss.backward()\n",
                                             "%timeit f()\n",
                                             "!ls\n",
                                             "import torch\n",
                                             "    ",
                                             "\n",
                                             "(",
                                             "history.append(loss)\n"};
  for (unsigned seed : {1u, 2u, 3u}) {
    std::mt19937 rng(seed);
    auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
    LspClient c;
    c.initialize();
    Model m = train_model();
    open_notebook(c, m);
    for (int step = 0; step < 30; ++step) {
      int op = static_cast<int>(pick(10));
      if (op < 6 && !m.cells.empty()) {
        // An edit inside a cell: insert a snippet or delete a range.
        size_t i = pick(m.cells.size());
        checks::LineIndex lines(m.cells[i].text);
        auto position = [&] {
          uint32_t off = static_cast<uint32_t>(pick(m.cells[i].text.size() + 1));
          return to_position(lines, off, PositionEncoding::Utf16);
        };
        Position a = position(), b = position();
        if (std::tie(b.line, b.character) < std::tie(a.line, a.character)) std::swap(a, b);
        std::string text = op < 4 ? snippets[pick(snippets.size())] : "";
        if (op >= 4 && (b.line - a.line) > 2) b = a; // keep deletions small
        edit_cell(c, m, i, Range{a, b}, text);
      } else if (op < 8) {
        // A cell added.
        Cell cell{m.next_id++, pick(4) != 0, snippets[pick(snippets.size())]};
        size_t at = pick(m.cells.size() + 1);
        change_notebook(
            c, m,
            {{"cells",
              {{"structure",
                {{"array",
                  {{"start", at}, {"deleteCount", 0}, {"cells", json::array({m.cell_json(cell)})}}},
                 {"didOpen", json::array({m.item(cell)})}}}}}});
        m.cells.insert(m.cells.begin() + static_cast<long>(at), cell);
      } else if (op == 8 && !m.cells.empty()) {
        // A cell removed.
        size_t at = pick(m.cells.size());
        change_notebook(c, m,
                        {{"cells",
                          {{"structure",
                            {{"array", {{"start", at}, {"deleteCount", 1}}},
                             {"didClose", json::array({{{"uri", cell_uri(m.cells[at].id)}}})}}}}}});
        m.cells.erase(m.cells.begin() + static_cast<long>(at));
      } else if (m.cells.size() >= 2) {
        // A cell moved: deleted and inserted elsewhere in one array change of the span.
        size_t from = pick(m.cells.size()), to = pick(m.cells.size());
        if (from == to) continue;
        std::vector<Cell> after = m.cells;
        Cell moved = after[from];
        after.erase(after.begin() + static_cast<long>(from));
        after.insert(after.begin() + static_cast<long>(to), moved);
        size_t lo = std::min(from, to), hi = std::max(from, to);
        json span = json::array();
        for (size_t k = lo; k <= hi; ++k)
          span.push_back(m.cell_json(after[k]));
        change_notebook(
            c, m,
            {{"cells",
              {{"structure",
                {{"array", {{"start", lo}, {"deleteCount", hi - lo + 1}, {"cells", span}}}}}}}});
        m.cells = after;
      }
      if (step % 10 == 9) {
        INFO("seed " << seed << ", step " << step);
        CHECK(cell_diagnostics(c, m) == fresh_diagnostics(m));
      }
    }
    INFO("seed " << seed);
    CHECK(cell_diagnostics(c, m) == fresh_diagnostics(m));
  }
}

TEST_CASE("notebook sync: quick fix and fix-all edit only their cell", "[lsp][notebook]") {
  LspClient c;
  c.initialize({{"workspace", {{"workspaceEdit", {{"documentChanges", true}}}}}});
  Model m = train_model();
  m.versions[3] = 5;
  open_notebook(c, m);
  json diags = c.last_diagnostics(cell_uri(3))["diagnostics"];
  json oom201;
  for (const auto& d : diags)
    if (d["code"] == "OOM201") oom201 = d;
  REQUIRE(oom201.is_object());
  json actions =
      c.call("textDocument/codeAction", {{"textDocument", {{"uri", cell_uri(3)}}},
                                         {"range", oom201["range"]},
                                         {"context", {{"diagnostics", json::array({oom201})}}}});
  REQUIRE_FALSE(actions.empty());
  json fix = actions[0];
  CHECK(fix["kind"] == "quickfix");
  json change = fix["edit"]["documentChanges"][0];
  CHECK(change["textDocument"]["uri"] == cell_uri(3));
  CHECK(change["textDocument"]["version"] == 5);
  REQUIRE(change["edits"].size() == 1);
  Range r = parse_range(change["edits"][0]["range"]);
  edit_cell(c, m, 2, r, change["edits"][0]["newText"]);
  CHECK(m.cells[2].text.find("history.append(loss.item())") != std::string::npos);
  CHECK(codes_of(c.last_diagnostics(cell_uri(3))) == std::vector<std::string>{"OOM203"});

  // Fix all on the import cell: nothing to fix there. On a cell with a safe fix: its edits
  // stay in that cell and give what `oomlint check --fix` gives the cell.
  Model m2 = train_model();
  LspClient c2;
  c2.initialize();
  open_notebook(c2, m2);
  auto fix_all = [&](int id) {
    return c2.call(
        "textDocument/codeAction",
        {{"textDocument", {{"uri", cell_uri(id)}}},
         {"range", range_json(0, 0, 0, 0)},
         {"context", {{"diagnostics", json::array()}, {"only", json::array({"source.fixAll"})}}}});
  };
  CHECK(fix_all(1).empty());
  json all = fix_all(3);
  REQUIRE(all.size() == 1);
  json edits = all[0]["edit"]["changes"][cell_uri(3)];
  REQUIRE(edits.is_array());
  CHECK(all[0]["edit"]["changes"].size() == 1);
  for (const auto& e : edits)
    edit_cell(c2, m2, 2, parse_range(e["range"]), e["newText"]);
  CHECK(m2.cells[2].text.find("history.append(loss.item())") != std::string::npos);
  CHECK(m2.cells[0].text == kImports);
}

TEST_CASE("notebook sync: hover and pull diagnostics on a cell", "[lsp][notebook]") {
  LspClient c;
  c.initialize();
  Model m = train_model();
  open_notebook(c, m);
  json h = c.call("textDocument/hover", {{"textDocument", {{"uri", cell_uri(3)}}},
                                         {"position", {{"line", 7}, {"character", 12}}}});
  REQUIRE(h.is_object());
  CHECK(h["contents"]["value"].get<std::string>().find("OOM203") != std::string::npos);
  CHECK(h["range"] == range_json(7, 8, 7, 32));
  json none = c.call("textDocument/hover", {{"textDocument", {{"uri", cell_uri(1)}}},
                                            {"position", {{"line", 0}, {"character", 0}}}});
  CHECK(none.is_null());
  json pulled = c.call("textDocument/diagnostic", {{"textDocument", {{"uri", cell_uri(3)}}}});
  CHECK(pulled["kind"] == "full");
  CHECK(pulled["items"] == c.last_diagnostics(cell_uri(3))["diagnostics"]);
  json again = c.call("textDocument/diagnostic", {{"textDocument", {{"uri", cell_uri(3)}}},
                                                  {"previousResultId", pulled["resultId"]}});
  CHECK(again["kind"] == "unchanged");
}

TEST_CASE("notebook sync: malformed notebook messages are ignored with a log line",
          "[lsp][notebook]") {
  LspClient c;
  c.initialize({}, {{"logLevel", "warning"}});
  Model m = train_model();
  open_notebook(c, m);
  json before = cell_diagnostics(c, m);
  size_t logged = notebook_log(c).size();
  auto expect_ignored = [&](const std::string& method, const json& params) {
    c.notify(method, params);
    c.run_pending();
    INFO(method << " " << params.dump());
    CHECK(notebook_log(c).size() > logged);
    logged = notebook_log(c).size();
    CHECK(cell_diagnostics(c, m) == before);
  };
  // `change` of a didChange at version 9 (cell 77 is not a cell of the notebook).
  auto change = [](const std::string& change_json) {
    return json{{"notebookDocument", {{"uri", kNotebook}, {"version", 9}}},
                {"change", json::parse(change_json)}};
  };
  const std::string c1 = cell_uri(1), c77 = cell_uri(77);
  // Missing fields.
  expect_ignored("notebookDocument/didOpen", json::object());
  expect_ignored("notebookDocument/didOpen",
                 {{"notebookDocument", {{"uri", "file:///x.ipynb"}, {"version", 1}}}});
  expect_ignored("notebookDocument/didChange", {{"notebookDocument", {{"uri", kNotebook}}}});
  expect_ignored("notebookDocument/didChange",
                 change(R"({"cells": {"textContent": [{"changes": []}]}})"));
  // An unknown cell.
  expect_ignored("notebookDocument/didChange",
                 change(R"({"cells": {"textContent": [{"document": {"uri": ")" + c77 +
                        R"(", "version": 2}, "changes": [{"text": "import os\n"}]}]}})"));
  // A structure change out of range, and a negative start.
  expect_ignored("notebookDocument/didChange",
                 change(R"({"cells": {"structure": {"array": {"start": 2, "deleteCount": 5}}}})"));
  expect_ignored("notebookDocument/didChange",
                 change(R"({"cells": {"structure": {"array": {"start": -1, "deleteCount": 0}}}})"));
  // A bad cell kind, and a change to a notebook that is not open.
  expect_ignored("notebookDocument/didChange",
                 change(R"({"cells": {"data": [{"kind": 7, "document": ")" + c1 + R"("}]}})"));
  expect_ignored("notebookDocument/didChange",
                 {{"notebookDocument", {{"uri", "file:///other.ipynb"}, {"version", 2}}},
                  {"change", json::object()}});
  // A change that half applies is not applied at all: the valid text edit before the unknown
  // cell is dropped too, and the next valid edit applies to the text as it was.
  expect_ignored("notebookDocument/didChange",
                 change(R"({"cells": {"textContent": [)"
                        R"({"document": {"uri": ")" +
                        c1 +
                        R"(", "version": 2}, "changes": [{"text": ""}]},)"
                        R"({"document": {"uri": ")" +
                        c77 + R"(", "version": 2}, "changes": [{"text": ""}]}]}})"));
  m.version = 9;
  edit_cell(c, m, 0, Range{{0, 11}, {0, 12}}, "x");
  CHECK(cell_diagnostics(c, m) == fresh_diagnostics(m));
  // Requests on an unknown cell answer, as for any closed document.
  json h = c.call("textDocument/hover", {{"textDocument", {{"uri", cell_uri(77)}}},
                                         {"position", {{"line", 0}, {"character", 0}}}});
  CHECK(h.is_null());
}

TEST_CASE("notebook sync: the same findings as `oomlint check` on the .ipynb", "[lsp][notebook]") {
  // examples/train.ipynb: markdown cells, magics, and a finding (OOM203) that needs the import
  // of an earlier cell.
  std::filesystem::path path =
      std::filesystem::path(OOMLINT_SOURCE_DIR) / "examples" / "train.ipynb";
  std::string raw = oomlint::test::read_file(path);
  checks::Engine engine{checks::Settings{}};
  cli::FileJob job;
  job.path = path.string();
  job.display = "train.ipynb";
  job.kind = cli::FileKind::Notebook;
  job.engine = &engine;
  cli::FileOutcome outcome = cli::check_file(job, cli::FixOptions{});
  REQUIRE(outcome.errors.empty());
  std::set<std::tuple<std::string, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t>> cli_findings;
  for (const auto& f : outcome.findings) {
    REQUIRE(f.cell);
    cli_findings.emplace(f.diagnostic.code, *f.cell, f.location.row, f.location.column,
                         f.end_location.row, f.end_location.column);
  }
  REQUIRE(cli_findings.size() >= 2);
  CHECK(std::any_of(cli_findings.begin(), cli_findings.end(),
                    [](const auto& f) { return std::get<0>(f) == "OOM203"; }));

  // The same notebook through notebookDocument/didOpen: every cell, in order (cell n is the
  // n-th cell of the file, as `oomlint check` counts them).
  json nb = json::parse(raw);
  Model m;
  int id = 1;
  for (const auto& c : nb["cells"]) {
    std::string text;
    for (const auto& part : c["source"])
      text += part.get<std::string>();
    m.cells.push_back({id++, c["cell_type"] == "code", text});
  }
  LspClient c;
  c.initialize();
  open_notebook(c, m);
  std::set<std::tuple<std::string, uint32_t, uint32_t, uint32_t, uint32_t, uint32_t>> lsp_findings;
  for (const auto& cell : m.cells) {
    json last = c.last_diagnostics(cell_uri(cell.id));
    if (last.is_null()) continue;
    for (const auto& d : last["diagnostics"]) {
      // Positions are 0-based; the fixture is ASCII, so UTF-16 columns are characters.
      lsp_findings.emplace(d["code"], static_cast<uint32_t>(cell.id),
                           d["range"]["start"]["line"].get<uint32_t>() + 1,
                           d["range"]["start"]["character"].get<uint32_t>() + 1,
                           d["range"]["end"]["line"].get<uint32_t>() + 1,
                           d["range"]["end"]["character"].get<uint32_t>() + 1);
    }
  }
  CHECK(lsp_findings == cli_findings);
}
