// Lifecycle and JSON-RPC error paths of the language server, in memory.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "lsp/lsp_client.h"

using namespace oomlint::lsp;
using namespace oomlint::lsp::test;

TEST_CASE("initialize advertises capabilities and negotiates utf-16 by default", "[lsp]") {
  LspClient c;
  json r = c.initialize();
  CHECK(r["capabilities"]["positionEncoding"] == "utf-16");
  CHECK(r["capabilities"]["textDocumentSync"]["change"] == 2);
  CHECK(r["capabilities"]["hoverProvider"] == true);
  CHECK(r["capabilities"]["diagnosticProvider"]["workspaceDiagnostics"] == true);
  CHECK(r["serverInfo"]["name"] == "oomlint");
}

TEST_CASE("utf-8 is chosen when the client offers it", "[lsp]") {
  LspClient c;
  json r = c.initialize({{"general", {{"positionEncodings", {"utf-16", "utf-8"}}}}});
  CHECK(r["capabilities"]["positionEncoding"] == "utf-8");
  CHECK(c.server().encoding() == PositionEncoding::Utf8);
}

TEST_CASE("requests before initialize get ServerNotInitialized", "[lsp]") {
  LspClient c;
  json r = c.request("textDocument/hover", json::object());
  CHECK(r["error"]["code"] == -32002);
  // Notifications before initialize are dropped: no diagnostics come out.
  c.open("file:///a.py", kTrainPy);
  CHECK(c.published("file:///a.py").empty());
}

TEST_CASE("unknown requests get MethodNotFound, unknown notifications are ignored", "[lsp]") {
  LspClient c;
  c.initialize();
  CHECK(c.request("oomlint/nope", json::object())["error"]["code"] == -32601);
  c.notify("$/somethingNew", json::object());
  c.notify("custom/notification", {{"x", 1}});
  CHECK(c.responses().size() == 2); // initialize + the unknown request
}

TEST_CASE("a second initialize is an InvalidRequest", "[lsp]") {
  LspClient c;
  c.initialize();
  CHECK(c.request("initialize", {{"capabilities", json::object()}})["error"]["code"] == -32600);
}

TEST_CASE("invalid JSON gets ParseError with a null id", "[lsp]") {
  LspClient c;
  c.raw("{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
  auto rs = c.responses();
  REQUIRE(rs.size() == 1);
  CHECK(rs[0]["error"]["code"] == -32700);
  CHECK(rs[0]["id"].is_null());
}

TEST_CASE("non-object JSON and malformed envelopes are InvalidRequest", "[lsp]") {
  LspClient c;
  c.initialize();
  c.clear();
  c.raw("[1, 2, 3]");
  c.raw("42");
  c.raw("\"hello\"");
  c.raw("null");
  c.raw(R"({"jsonrpc":"2.0","id":7,"method":12})");
  c.raw(R"({"jsonrpc":"2.0","id":{"a":1},"method":"shutdown"})");
  c.raw(R"({"jsonrpc":"2.0","id":8})");
  auto rs = c.responses();
  REQUIRE(rs.size() == 7);
  for (const auto& r : rs)
    CHECK(r["error"]["code"] == -32600);
  CHECK(rs[4]["id"] == 7);
  CHECK(rs[5]["id"].is_null());
}

TEST_CASE("bad params get InvalidParams and leave the server working", "[lsp]") {
  LspClient c;
  c.initialize();
  CHECK(c.request("textDocument/hover", json::object())["error"]["code"] == -32602);
  CHECK(c.request("textDocument/hover", {{"textDocument", {{"uri", 5}}}})["error"]["code"] ==
        -32602);
  CHECK(c.request("textDocument/hover",
                  {{"textDocument", {{"uri", "file:///a.py"}}},
                   {"position", {{"line", -1}, {"character", 0}}}})["error"]["code"] == -32602);
  CHECK(c.request("textDocument/codeAction",
                  {{"textDocument", {{"uri", "file:///a.py"}}},
                   {"range", "everything"},
                   {"context", {{"diagnostics", json::array()}}}})["error"]["code"] == -32602);
  CHECK(c.request("textDocument/diagnostic", "not params")["error"]["code"] == -32602);
  // Wrongly typed notifications are ignored.
  c.notify("textDocument/didOpen", {{"textDocument", {{"uri", 1}, {"text", false}}}});
  c.notify("textDocument/didChange", {{"textDocument", "x"}});
  c.notify("textDocument/didClose", json::array());
  c.notify("workspace/didChangeConfiguration", 17);
  c.run_pending();
  c.open("file:///a.py", kTrainPy);
  CHECK(c.last_diagnostics("file:///a.py")["diagnostics"].size() == 1);
}

TEST_CASE("shutdown then exit gives exit code 0, requests after shutdown are refused", "[lsp]") {
  LspClient c;
  c.initialize();
  json r = c.request("shutdown", nullptr);
  CHECK(r.contains("result"));
  CHECK(r["result"].is_null());
  CHECK(c.request("textDocument/hover", json::object())["error"]["code"] == -32600);
  CHECK_FALSE(c.server().exited());
  c.notify("exit", nullptr);
  CHECK(c.server().exited());
  CHECK(c.server().exit_code() == 0);
}

TEST_CASE("exit without shutdown gives exit code 1", "[lsp]") {
  LspClient c;
  c.initialize();
  c.notify("exit", nullptr);
  CHECK(c.server().exited());
  CHECK(c.server().exit_code() == 1);
}

TEST_CASE("$/cancelRequest cancels a queued request", "[lsp]") {
  LspClient c;
  c.initialize();
  c.open("file:///a.py", kTrainPy);
  json id =
      c.send_request("textDocument/diagnostic", {{"textDocument", {{"uri", "file:///a.py"}}}});
  c.notify("$/cancelRequest", {{"id", id}});
  c.run_pending();
  CHECK(c.response(id)["error"]["code"] == -32800);
  // Cancelling something unknown or finished is harmless.
  c.notify("$/cancelRequest", {{"id", 999}});
  c.notify("$/cancelRequest", {{"id", id}});
  c.notify("$/cancelRequest", json::object());
  CHECK(c.call("textDocument/diagnostic", {{"textDocument", {{"uri", "file:///a.py"}}}})["kind"] ==
        "full");
}

TEST_CASE("log messages reach the client above the level it asked for", "[lsp]") {
  LspClient c;
  c.initialize(json::object(), {{"logLevel", "debug"}});
  c.notify("custom/unknown", json::object());
  auto logs = c.notifications("window/logMessage");
  REQUIRE_FALSE(logs.empty());
  CHECK(logs.back()["message"].get<std::string>().find("custom/unknown") != std::string::npos);
  c.notify("$/setTrace", {{"value", "off"}});
  size_t before = c.notifications("window/logMessage").size();
  c.notify("custom/unknown2", json::object());
  CHECK(c.notifications("window/logMessage").size() == before);
}

TEST_CASE("a reply from the client without an id is ignored (found by the jsonrpc fuzzer)",
          "[lsp][fuzz]") {
  // fuzz/corpus/jsonrpc/regress_reply_without_id.bin: `{"result": ...}` with no id reached
  // on_client_reply, whose const operator[] on the missing key aborted.
  LspClient c;
  c.initialize();
  c.raw(R"({"jsonrpc": "2.0", "result": null})");
  c.raw(R"({"jsonrpc": "2.0", "error": {"code": 1, "message": "x"}})");
  c.raw(R"({"jsonrpc": "2.0", "id": null, "result": 1})");
  CHECK(c.call("shutdown", json(nullptr)).is_null());
}

namespace {

struct ResetTempDir {
  std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("oomlint-lsp-reset-" + std::to_string(::getpid()));
  ResetTempDir() { std::filesystem::create_directories(path); }
  ~ResetTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// The messages of a session that reads every piece of state a client can set: a request before
// initialize, the capabilities (position encoding, dynamic registration, progress), the client
// settings, open documents, pulled diagnostics (their resultId carries the settings generation),
// a hover, workspace diagnostics, the ids of the server's own requests, shutdown and exit.
const std::string kResetNotebook = "file:///work/reset/nb.ipynb";
const std::string kResetCell = "vscode-notebook-cell:/work/reset/nb.ipynb#C1";

std::vector<json> reset_probe_session(LspClient& c, const std::string& uri) {
  c.request("textDocument/hover", json::object());
  json caps = {{"workspace", {{"didChangeWatchedFiles", {{"dynamicRegistration", true}}}}},
               {"window", {{"workDoneProgress", true}}}};
  c.request("initialize", {{"processId", nullptr},
                           {"rootUri", nullptr},
                           {"capabilities", caps},
                           {"initializationOptions", {{"pushDiagnostics", true}}}});
  c.notify("initialized", json::object());
  c.run_pending();
  c.open(uri, kTrainPy);
  c.request("textDocument/diagnostic", {{"textDocument", {{"uri", uri}}}});
  c.request("textDocument/hover",
            {{"textDocument", {{"uri", uri}}}, {"position", {{"line", 5}, {"character", 12}}}});
  c.request("workspace/diagnostic", {{"previousResultIds", json::array()}});
  // A cell of a notebook that only the used session opened: unknown after a reset.
  c.request("textDocument/diagnostic", {{"textDocument", {{"uri", kResetCell}}}});
  c.request("shutdown", nullptr);
  c.notify("exit", nullptr);
  return c.messages();
}

} // namespace

TEST_CASE("reset() returns the server to its state after construction", "[lsp]") {
  ResetTempDir dir;
  std::filesystem::create_directories(dir.path / "w");
  std::ofstream(dir.path / "w" / "oomlint.toml") << "select = [\"OOM1\"]\n";
  const std::string folder = "file://" + (dir.path / "w").string();
  const std::string uri = folder + "/train.py";

  LspClient fresh;
  std::vector<json> expected = reset_probe_session(fresh, uri);
  REQUIRE(fresh.server().exited());
  REQUIRE_FALSE(fresh.published(uri).empty()); // the session does reach the rules

  // A session that changes everything the probe reads: utf-8, a workspace folder whose config
  // selects other rules, client settings, no pushed diagnostics, debug log messages, documents
  // left open, a progress token, an exit without shutdown.
  LspClient used;
  json caps = {{"general", {{"positionEncodings", {"utf-8"}}}},
               {"workspace",
                {{"workspaceEdit", {{"documentChanges", true}}},
                 {"diagnostics", {{"refreshSupport", true}}}}},
               {"window", {{"workDoneProgress", true}}}};
  used.initialize(caps,
                  {{"pushDiagnostics", false}, {"logLevel", "debug"}, {"indexWorkspace", false}},
                  json::array({{{"uri", folder}, {"name", "w"}}}));
  used.notify("workspace/didChangeConfiguration", {{"settings", {{"select", {"OOM2"}}}}});
  used.notify("$/setTrace", {{"value", "verbose"}});
  used.open(uri, kTrainPy + "\nx = 1\n");
  used.open(folder + "/other.py", kTrainPy);
  used.request("textDocument/diagnostic", {{"textDocument", {{"uri", uri}}}});
  used.notify("notebookDocument/didOpen",
              {{"notebookDocument",
                {{"uri", kResetNotebook},
                 {"notebookType", "jupyter-notebook"},
                 {"version", 1},
                 {"cells", json::array({{{"kind", 2}, {"document", kResetCell}}})}}},
               {"cellTextDocuments", json::array({{{"uri", kResetCell},
                                                   {"languageId", "python"},
                                                   {"version", 1},
                                                   {"text", kTrainPy}}})}});
  used.run_pending();
  used.notify("exit", nullptr);
  REQUIRE(used.server().exited());
  // Without a reset, the same probe gets nothing at all (the server has exited).
  used.clear();
  reset_probe_session(used, uri);
  REQUIRE(used.messages().empty());

  used.reset();
  CHECK_FALSE(used.server().exited());
  std::vector<json> got = reset_probe_session(used, uri);
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("message " << i);
    CHECK(got[i] == expected[i]);
  }
}
