// Framing over a byte stream, hostile input, and the whole server over an in-memory stream.
#include <catch2/catch.hpp>

#include "lsp/json_rpc.h"
#include "lsp/language_server.h"
#include "lsp/lsp_client.h"
#include "lsp/server.h"
#include "lsp/transport.h"

using namespace oomlint::lsp;
using namespace oomlint::lsp::test;

namespace {
std::vector<json> parse_output(const std::string& bytes) {
  MemoryStream in(bytes);
  FrameReader reader(in);
  std::vector<json> out;
  for (;;) {
    Frame f = reader.read();
    if (f.kind != Frame::Kind::Message) break;
    out.push_back(json::parse(f.body));
  }
  return out;
}

std::string msg(const json& j) {
  return frame(j.dump());
}

json init_request() {
  return {{"jsonrpc", "2.0"},
          {"id", 1},
          {"method", "initialize"},
          {"params", {{"capabilities", json::object()}}}};
}
json shutdown_request(int id) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", "shutdown"}};
}
json exit_notification() {
  return {{"jsonrpc", "2.0"}, {"method", "exit"}};
}

struct Run {
  int code;
  std::vector<json> out;
};
Run run(const std::string& input) {
  MemoryStream stream(input);
  ServerOptions options;
  options.scheduler.workers = 0;
  options.stderr_level = LogLevel::Off;
  int code = serve(stream, options);
  return {code, parse_output(stream.output())};
}
const json* find_id(const std::vector<json>& out, int id) {
  for (const auto& m : out) {
    if (m.contains("id") && m["id"] == id && !m.contains("method")) return &m;
  }
  return nullptr;
}
} // namespace

TEST_CASE("frame reader reads messages and extra headers", "[lsp]") {
  MemoryStream in("Content-Length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n"
                  "\r\n{}Content-Length: 4\r\n\r\nnull");
  FrameReader r(in);
  Frame a = r.read();
  CHECK(a.kind == Frame::Kind::Message);
  CHECK(a.body == "{}");
  Frame b = r.read();
  CHECK(b.body == "null");
  CHECK(r.read().kind == Frame::Kind::Eof);
}

TEST_CASE("frame reader rejects missing, negative and huge lengths and resynchronises", "[lsp]") {
  MemoryStream in("Content-Type: x\r\n\r\n{\"a\":1}"
                  "Content-Length: -5\r\n\r\n{\"b\":2}"
                  "Content-Length: 99999999999999999999999\r\n\r\n{\"c\":3}"
                  "Content-Length: abc\r\n\r\n"
                  "Content-Length: 2\r\n\r\n{}");
  FrameReader r(in);
  int bad = 0;
  Frame f;
  for (;;) {
    f = r.read();
    if (f.kind != Frame::Kind::BadHeader) break;
    ++bad;
  }
  CHECK(bad == 3); // the leading Content-Type block is skipped as noise, not a frame
  CHECK(f.kind == Frame::Kind::Message);
  CHECK(f.body == "{}");
  CHECK(r.read().kind == Frame::Kind::Eof);
}

TEST_CASE("a body shorter than its Content-Length ends the stream", "[lsp]") {
  MemoryStream in("Content-Length: 100\r\n\r\n{\"jsonrpc\":\"2.0\"}");
  FrameReader r(in);
  CHECK(r.read().kind == Frame::Kind::Eof);
}

TEST_CASE("serve: initialize, shutdown, exit over a byte stream exits 0", "[lsp]") {
  Run r = run(msg(init_request()) + msg(shutdown_request(2)) + msg(exit_notification()));
  CHECK(r.code == 0);
  REQUIRE(find_id(r.out, 1));
  CHECK(find_id(r.out, 1)->contains("result"));
  REQUIRE(find_id(r.out, 2));
}

TEST_CASE("serve: end of input without shutdown exits 1", "[lsp]") {
  CHECK(run(msg(init_request())).code == 1);
  CHECK(run("").code == 1);
  CHECK(run("Content-Length: 1000\r\n\r\n{\"jsonrpc\":").code == 1);
}

TEST_CASE("serve: hostile input never stops the server from answering", "[lsp]") {
  std::string big_line = "import torch\nx = \"" + std::string(1000000, 'a') + "\"\n" + kTrainPy;
  std::string input =
      msg(init_request()) +
      // Missing, negative and huge Content-Length.
      "Content-Type: foo\r\n\r\n{}" + "Content-Length: -1\r\n\r\n{}" +
      "Content-Length: 18446744073709551617\r\n\r\n{}" +
      // Invalid UTF-8 inside a JSON string.
      frame("{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didOpen\",\"params\":{\"textDocument\":"
            "{\"uri\":\"file:///bad.py\",\"languageId\":\"python\",\"version\":1,\"text\":\"x = "
            "'\xff\xfe'\"}}}") +
      // Not JSON, not an object, wrong types everywhere.
      frame("}{") + frame("[]") +
      frame("{\"id\":3,\"method\":\"textDocument/hover\",\"params\":[]}") +
      // Positions past the end of a document and edits to a never-opened one.
      msg({{"jsonrpc", "2.0"},
           {"method", "textDocument/didOpen"},
           {"params",
            {{"textDocument",
              {{"uri", "file:///a.py"},
               {"languageId", "python"},
               {"version", 1},
               {"text", "x = 1\n"}}}}}}) +
      msg({{"jsonrpc", "2.0"},
           {"method", "textDocument/didChange"},
           {"params",
            {{"textDocument", {{"uri", "file:///a.py"}, {"version", 2}}},
             {"contentChanges", {{{"range", range_json(50, 3, 40, 900000)}, {"text", "y"}}}}}}}) +
      msg({{"jsonrpc", "2.0"},
           {"method", "textDocument/didChange"},
           {"params",
            {{"textDocument", {{"uri", "file:///ghost.py"}, {"version", 2}}},
             {"contentChanges", {{{"range", range_json(0, 0, 0, 0)}, {"text", "y"}}}}}}}) +
      // A one-million-character line.
      msg({{"jsonrpc", "2.0"},
           {"method", "textDocument/didOpen"},
           {"params",
            {{"textDocument",
              {{"uri", "file:///big.py"},
               {"languageId", "python"},
               {"version", 1},
               {"text", big_line}}}}}}) +
      msg({{"jsonrpc", "2.0"},
           {"id", 4},
           {"method", "textDocument/hover"},
           {"params",
            {{"textDocument", {{"uri", "file:///big.py"}}},
             {"position", {{"line", 1}, {"character", 999999}}}}}}) +
      msg({{"jsonrpc", "2.0"},
           {"method", "textDocument/didChange"},
           {"params",
            {{"textDocument", {{"uri", "file:///big.py"}, {"version", 2}}},
             {"contentChanges",
              {{{"range", range_json(1, 500000, 1, 500001)}, {"text", "é"}}}}}}}) +
      msg(shutdown_request(5)) + msg(exit_notification());
  Run r = run(input);
  CHECK(r.code == 0);
  REQUIRE(find_id(r.out, 1));
  REQUIRE(find_id(r.out, 3));
  CHECK((*find_id(r.out, 3))["error"]["code"] == -32602);
  REQUIRE(find_id(r.out, 4));
  CHECK((*find_id(r.out, 4))["result"].is_null());
  REQUIRE(find_id(r.out, 5));
  int parse_errors = 0;
  std::vector<json> big;
  for (const auto& m : r.out) {
    if (m.contains("error") && m["error"]["code"] == -32700) ++parse_errors;
    if (m.value("method", "") == "textDocument/publishDiagnostics" &&
        m["params"]["uri"] == "file:///big.py") {
      big.push_back(m["params"]);
    }
  }
  CHECK(parse_errors == 2); // the invalid UTF-8 message and "}{"
  REQUIRE(big.size() == 2);
  CHECK(big.back()["version"] == 2);
  REQUIRE(big.back()["diagnostics"].size() == 1);
  CHECK(big.back()["diagnostics"][0]["range"]["start"]["line"] == 7);
}

TEST_CASE("listen addresses must be loopback", "[lsp]") {
  std::string error;
  CHECK(parse_listen_address("127.0.0.1:2087", error));
  CHECK(parse_listen_address("[::1]:2087", error));
  CHECK(parse_listen_address("localhost:0", error));
  CHECK_FALSE(parse_listen_address("0.0.0.0:2087", error));
  CHECK(error.find("loopback") != std::string::npos);
  CHECK_FALSE(parse_listen_address("192.168.1.5:2087", error));
  CHECK_FALSE(parse_listen_address("example.com:2087", error));
  CHECK_FALSE(parse_listen_address("127.0.0.1:99999", error));
  CHECK_FALSE(parse_listen_address("127.0.0.1", error));
  CHECK(run_server({"--listen", "0.0.0.0:2087"}) == 2);
}

TEST_CASE("threaded scheduler: diagnostics arrive and the newest version wins", "[lsp]") {
  LspClient c(/*workers=*/2);
  c.initialize();
  c.open("file:///t.py", "import torch\n", /*version=*/0); // even versions are clean
  for (int v = 2; v <= 30; ++v) {
    std::string text = v % 2 ? kTrainPy : "import torch\n";
    c.notify("textDocument/didChange", {{"textDocument", {{"uri", "file:///t.py"}, {"version", v}}},
                                        {"contentChanges", {{{"text", text}}}}});
  }
  c.run_pending();
  json last = c.last_diagnostics("file:///t.py");
  REQUIRE(last.is_object());
  CHECK(last["version"] == 30);
  CHECK(last["diagnostics"].empty());
  for (const auto& p : c.published("file:///t.py")) {
    int64_t v = p["version"];
    CHECK(p["diagnostics"].size() == (v % 2 ? 1u : 0u));
  }
}
