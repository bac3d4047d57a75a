// Hostile input to the language server, one test case each: broken framing (through serve() over
// an in-memory byte stream) and hostile documents and positions (through the in-memory client).
// After every hostile input, a normal document must still get exactly its diagnostic: the server
// keeps serving.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <random>

#include "hostile/hostile_support.h"
#include "line_index.h"
#include "lsp/convert.h"
#include "lsp/document_store.h"
#include "lsp/json_rpc.h"
#include "lsp/language_server.h"
#include "lsp/lsp_client.h"
#include "lsp/server.h"
#include "lsp/transport.h"

using namespace oomlint::lsp;
using namespace oomlint::lsp::test;

using oomlint::test::replace_all;

namespace {

// ---- framing through serve() ----

std::string msg(const json& j) {
  return frame(j.dump());
}
json notification(const std::string& method, json params) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}
json did_open(const std::string& uri, const std::string& text, int version = 1) {
  return notification(
      "textDocument/didOpen",
      {{"textDocument",
        {{"uri", uri}, {"languageId", "python"}, {"version", version}, {"text", text}}}});
}
std::string prologue() {
  return msg({{"jsonrpc", "2.0"},
              {"id", 1},
              {"method", "initialize"},
              {"params", {{"capabilities", json::object()}}}}) +
         msg(notification("initialized", json::object()));
}
std::string epilogue() {
  return msg(did_open("file:///normal.py", kTrainPy, 7)) +
         msg({{"jsonrpc", "2.0"}, {"id", 99}, {"method", "shutdown"}}) +
         msg({{"jsonrpc", "2.0"}, {"method", "exit"}});
}

struct Served {
  int code = -1;
  std::vector<json> out;
  size_t parse_errors() const {
    size_t n = 0;
    for (const auto& m : out)
      n += m.contains("error") && m["error"]["code"] == -32700;
    return n;
  }
  std::vector<json> published(const std::string& uri) const {
    std::vector<json> p;
    for (const auto& m : out) {
      if (m.value("method", "") == "textDocument/publishDiagnostics" && m["params"]["uri"] == uri)
        p.push_back(m["params"]);
    }
    return p;
  }
};

Served serve_bytes(const std::string& input) {
  MemoryStream stream(input);
  ServerOptions options;
  options.scheduler.workers = 0;
  options.stderr_level = LogLevel::Off;
  Served s;
  s.code = serve(stream, options);
  MemoryStream back(stream.output());
  FrameReader reader(back);
  for (;;) {
    Frame f = reader.read();
    if (f.kind != Frame::Kind::Message) break;
    s.out.push_back(json::parse(f.body));
  }
  return s;
}

// The OOM203 diagnostics of a publishDiagnostics params object, as (line, character).
std::vector<std::pair<int, int>> oom203(const json& params) {
  std::vector<std::pair<int, int>> out;
  if (!params.is_object()) return out;
  for (const auto& d : params["diagnostics"]) {
    if (d["code"] == "OOM203") {
      out.emplace_back(d["range"]["start"]["line"].get<int>(),
                       d["range"]["start"]["character"].get<int>());
    }
  }
  return out;
}
using Positions = std::vector<std::pair<int, int>>;

// The normal document sent by epilogue() got its one diagnostic and the server shut down cleanly.
void expect_still_serving(const Served& s) {
  auto p = s.published("file:///normal.py");
  REQUIRE_FALSE(p.empty());
  CHECK(p.back()["version"] == 7);
  CHECK(oom203(p.back()) == Positions{{5, 8}});
  CHECK(s.code == 0);
}

// ---- documents through the in-memory client ----

// Opens a fresh normal document and checks its diagnostic.
void expect_still_serving(LspClient& c) {
  static int n = 0;
  std::string uri = "file:///normal" + std::to_string(++n) + ".py";
  c.open(uri, kTrainPy, 3);
  json p = c.last_diagnostics(uri);
  REQUIRE(p.is_object());
  CHECK(p["version"] == 3);
  CHECK(oom203(p) == Positions{{5, 8}});
  // And a request on it is answered.
  json hover = c.request("textDocument/hover", {{"textDocument", {{"uri", uri}}},
                                                {"position", {{"line", 5}, {"character", 12}}}});
  CHECK(hover.contains("result"));
}

json changes(uint32_t l1, uint32_t c1, uint32_t l2, uint32_t c2, const std::string& text) {
  return json::array({{{"range", range_json(l1, c1, l2, c2)}, {"text", text}}});
}

} // namespace

TEST_CASE("hostile lsp: a Content-Length larger than the body", "[hostile][lsp]") {
  SECTION("more messages follow: the bytes it swallows are lost, then the reader resynchronises") {
    // The declared 120 bytes take the whole short body and the start of the next message; what
    // remains of that one is skipped until the next header.
    std::string bad = "Content-Length: 120\r\n\r\n{\"jsonrpc\":\"2.0\",\"method\":\"x\"}";
    std::string sacrificed = msg(did_open("file:///lost.py", kTrainPy));
    REQUIRE(sacrificed.size() > 120);
    Served s = serve_bytes(prologue() + bad + sacrificed + epilogue());
    CHECK(s.parse_errors() == 1);
    CHECK(s.published("file:///lost.py").empty());
    expect_still_serving(s);
  }
  SECTION("at the end of the stream: a clean exit, not a hang") {
    Served s = serve_bytes(prologue() + msg(did_open("file:///a.py", kTrainPy)) +
                           "Content-Length: 5000\r\n\r\n{\"jsonrpc\":\"2.0\"}");
    CHECK(s.code == 1); // the stream ended without shutdown
    CHECK(oom203(s.published("file:///a.py").back()) == Positions{{5, 8}});
  }
}

TEST_CASE("hostile lsp: a negative Content-Length", "[hostile][lsp]") {
  for (std::string value : {"-1", "-0", "-99999999999999999999", "- 5", "+5", "5e3", "0x10"}) {
    INFO("Content-Length: " << value);
    std::string bad =
        "Content-Length: " + value + "\r\n\r\n" + did_open("file:///neg.py", kTrainPy).dump();
    Served s = serve_bytes(prologue() + bad + epilogue());
    CHECK(s.published("file:///neg.py").empty()); // the body was not taken as a message
    expect_still_serving(s);
  }
}

TEST_CASE("hostile lsp: a missing Content-Length", "[hostile][lsp]") {
  SECTION("other headers only") {
    std::string bad = "Content-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n" +
                      did_open("file:///nolen.py", kTrainPy).dump();
    Served s = serve_bytes(prologue() + bad + epilogue());
    CHECK(s.published("file:///nolen.py").empty());
    expect_still_serving(s);
  }
  SECTION("a bare JSON body without any header") {
    Served s = serve_bytes(prologue() + did_open("file:///nolen.py", kTrainPy).dump() + "\r\n" +
                           epilogue());
    CHECK(s.published("file:///nolen.py").empty());
    expect_still_serving(s);
  }
  SECTION("an empty value and a header line without a colon") {
    Served s = serve_bytes(prologue() + "Content-Length:\r\n\r\n{}" +
                           "Content-Length: 2\r\nno colon here\r\n\r\n{}" + epilogue());
    expect_still_serving(s);
  }
}

TEST_CASE("hostile lsp: a 100 MB message", "[hostile][lsp]") {
  // A notification whose body is 100 MB of JSON: read whole (the limit is 256 MiB), parsed, and
  // ignored as an unknown method; then a normal document is served. (A 100 MB *document* is sent
  // to the real binary by tests/integration/hostile_cli.sh.)
  constexpr size_t kSize = size_t{100} << 20;
  std::string body = "{\"jsonrpc\":\"2.0\",\"method\":\"$/oomlintPadding\",\"params\":{\"pad\":\"";
  body.append(kSize - body.size() - 3, 'x');
  body += "\"}}";
  REQUIRE(body.size() == kSize);
  Served s = serve_bytes(prologue() + frame(body) + epilogue());
  CHECK(s.parse_errors() == 0);
  expect_still_serving(s);
  // One byte over the limit is refused without reading it into memory, and skipped.
  std::string huge = "Content-Length: " + std::to_string(kMaxContentLength + 1) + "\r\n\r\n{}";
  Served t = serve_bytes(prologue() + huge + epilogue());
  expect_still_serving(t);
}

TEST_CASE("hostile lsp: positions past the end of the document", "[hostile][lsp]") {
  LspClient c;
  c.initialize();
  const std::string uri = "file:///past.py";
  c.open(uri, "import torch\n");
  // Past the last line: the range is clamped to the end, so the text is appended.
  std::string loop = "for b in loader:\n    b.backward()\n    torch.cuda.empty_cache()\n";
  c.change(uri, 2, changes(4000000000u, 7, 4000000000u, 9, loop));
  CHECK(oom203(c.last_diagnostics(uri)) == Positions{{3, 4}});
  // Past the end of a line: clamped to that line's end.
  c.change(uri, 3, changes(0, 500, 0, 900, "  # tail"));
  CHECK(oom203(c.last_diagnostics(uri)) == Positions{{3, 4}});
  CHECK(c.last_diagnostics(uri)["version"] == 3);
  // A reversed range (end before start) is taken as empty.
  c.change(uri, 4, changes(3, 10, 1, 0, "x"));
  CHECK(c.last_diagnostics(uri)["version"] == 4);
  // Requests with positions past the end get an empty answer, not an error.
  json far = {{"line", 123456789}, {"character", 987654321}};
  json hover =
      c.request("textDocument/hover", {{"textDocument", {{"uri", uri}}}, {"position", far}});
  CHECK(hover.contains("result"));
  json action =
      c.request("textDocument/codeAction", {{"textDocument", {{"uri", uri}}},
                                            {"range", {{"start", far}, {"end", far}}},
                                            {"context", {{"diagnostics", json::array()}}}});
  CHECK(action.contains("result"));
  json hints = c.request("textDocument/inlayHint", {{"textDocument", {{"uri", uri}}},
                                                    {"range", {{"start", far}, {"end", far}}}});
  CHECK(hints.contains("result"));
  // Negative and non-integer positions are invalid params.
  json negative =
      c.request("textDocument/hover", {{"textDocument", {{"uri", uri}}},
                                       {"position", {{"line", -1}, {"character", -5}}}});
  CHECK(negative.contains("error"));
  json fractional =
      c.request("textDocument/hover", {{"textDocument", {{"uri", uri}}},
                                       {"position", {{"line", 1.5}, {"character", 0}}}});
  CHECK(fractional.contains("error"));
  expect_still_serving(c);
}

TEST_CASE("hostile lsp: edits to documents never opened", "[hostile][lsp]") {
  LspClient c;
  c.initialize();
  const std::string ghost = "file:///ghost.py";
  c.change(ghost, 2, changes(0, 0, 0, 0, "torch.cuda.empty_cache()\n"));
  c.change(ghost, 3, json::array({{{"text", kTrainPy}}}));
  c.notify("textDocument/didSave", {{"textDocument", {{"uri", ghost}}}});
  c.notify("textDocument/didClose", {{"textDocument", {{"uri", ghost}}}});
  c.run_pending();
  CHECK(c.published(ghost).empty()); // nothing was created by an edit
  // Requests about it: empty answers (the file is not on disk either).
  json pull = c.call("textDocument/diagnostic", {{"textDocument", {{"uri", ghost}}}});
  CHECK(pull["items"].empty());
  json hover = c.request("textDocument/hover", {{"textDocument", {{"uri", ghost}}},
                                                {"position", {{"line", 0}, {"character", 0}}}});
  CHECK(hover.contains("result"));
  // A document that was opened and closed is a never-opened one again.
  c.open("file:///closed.py", kTrainPy);
  c.notify("textDocument/didClose", {{"textDocument", {{"uri", "file:///closed.py"}}}});
  size_t published = c.published("file:///closed.py").size();
  c.change("file:///closed.py", 5, changes(0, 0, 0, 0, "# x\n"));
  CHECK(c.published("file:///closed.py").size() == published);
  // URIs that are not files at all.
  for (std::string odd : {"", "not a uri", "untitled:Untitled-1", "file://", "file:///%zz%00.py"}) {
    c.change(odd, 1, changes(0, 0, 0, 0, "x"));
  }
  c.run_pending();
  expect_still_serving(c);
}

TEST_CASE("hostile lsp: NUL bytes in a document", "[hostile][lsp]") {
  LspClient c;
  c.initialize();
  const std::string uri = "file:///nul.py";
  std::string text =
      std::string("s = '\0\0'\n", 9) +
      replace_all(kTrainPy, "optimizer.step()", std::string("optimizer.step()  # \0", 21));
  c.open(uri, text);
  CHECK(oom203(c.last_diagnostics(uri)) == Positions{{6, 8}});
  // An edit that inserts NULs right in the middle of the finding's line.
  c.change(uri, 2, changes(6, 0, 6, 0, std::string("\0\0\0", 3)));
  CHECK(c.last_diagnostics(uri)["version"] == 2);
  c.change(uri, 3, json::array({{{"text", std::string(50000, '\0')}}}));
  CHECK(c.last_diagnostics(uri)["diagnostics"].empty());
  expect_still_serving(c);
}

TEST_CASE("hostile lsp: invalid UTF-8", "[hostile][lsp]") {
  LspClient c;
  c.initialize();
  // Raw invalid bytes inside a JSON string: the message is not valid JSON text.
  c.raw("{\"jsonrpc\":\"2.0\",\"method\":\"textDocument/didOpen\",\"params\":{\"textDocument\":"
        "{\"uri\":\"file:///bad.py\",\"languageId\":\"python\",\"version\":1,\"text\":\"x = "
        "'\xff\xc0\xaf'\"}}}");
  // A lone surrogate escape cannot be turned into UTF-8 either.
  c.raw("{\"jsonrpc\":\"2.0\",\"id\":50,\"method\":\"textDocument/"
        "hover\",\"params\":{\"x\":\"\\ud800\"}}");
  c.run_pending();
  size_t parse_errors = 0;
  for (const auto& r : c.responses())
    parse_errors += r.contains("error") && r["error"]["code"] == -32700;
  CHECK(parse_errors == 2);
  CHECK(c.published("file:///bad.py").empty());
  // Replacement characters and astral code points are fine, and positions count UTF-16 units.
  const std::string uri = "file:///utf.py";
  std::string text = replace_all(kTrainPy, "        torch.cuda",
                                 "        s = '\xEF\xBF\xBD\xF0\x9F\x98\x80'; torch.cuda");
  c.open(uri, text);
  CHECK(oom203(c.last_diagnostics(uri)) == Positions{{5, 8 + 11}});
  expect_still_serving(c);
}

TEST_CASE("hostile lsp: a byte order mark in a document", "[hostile][lsp]") {
  LspClient c;
  c.initialize();
  const std::string uri = "file:///bom.py";
  c.open(uri, "\xEF\xBB\xBF" + kTrainPy);
  CHECK(oom203(c.last_diagnostics(uri)) == Positions{{5, 8}});
  // Typing right after the BOM on the first line keeps the rest in place.
  c.change(uri, 2, changes(0, 1, 0, 1, "import os\n"));
  CHECK(oom203(c.last_diagnostics(uri)) == Positions{{6, 8}});
  expect_still_serving(c);
}

TEST_CASE("hostile lsp: CRLF and lone CR line endings", "[hostile][lsp]") {
  LspClient c;
  c.initialize();
  const std::string crlf = "file:///crlf.py", cr = "file:///cr.py";
  c.open(crlf, replace_all(kTrainPy, "\n", "\r\n"));
  CHECK(oom203(c.last_diagnostics(crlf)) == Positions{{5, 8}});
  c.open(cr, replace_all(kTrainPy, "\n", "\r"));
  CHECK(oom203(c.last_diagnostics(cr)) == Positions{{5, 8}});
  // Incremental edits that split and join CR-only lines.
  c.change(cr, 2, changes(1, 0, 1, 0, "\r\r"));
  CHECK(oom203(c.last_diagnostics(cr)) == Positions{{7, 8}});
  c.change(cr, 3, changes(1, 0, 3, 0, ""));
  CHECK(oom203(c.last_diagnostics(cr)) == Positions{{5, 8}});
  // An edit that puts "\n" right after an existing "\r" turns two line breaks into one CRLF.
  c.change(cr, 4, changes(1, 0, 1, 0, "\n"));
  CHECK(oom203(c.last_diagnostics(cr)) == Positions{{5, 8}});
  expect_still_serving(c);
}

TEST_CASE("hostile lsp: edits around CR, LF and NUL keep the tree equal to a fresh parse",
          "[hostile][lsp]") {
  // A lone CR is a line break and a NUL a space to the parser; whether a CR is lone depends on
  // the next byte, so edits next to a CR must make the incremental reparse look at it again.
  std::mt19937 rng(99);
  const std::vector<std::string> pieces = {"\r",
                                           "\n",
                                           "\r\n",
                                           std::string(1, '\0'),
                                           "x",
                                           "",
                                           "    ",
                                           "for b in l:\r    ",
                                           "f(b)\r",
                                           "'s\0'",
                                           "torch.cuda.empty_cache()\r",
                                           ":",
                                           "\r\r"};
  std::string text = "import torch\rdef train(model, loader):\r    for b in loader:\r"
                     "        model(b)\r\n        torch.cuda.empty_cache()\n";
  DocumentStore store;
  store.open("file:///cr.py", "python", 1, text);
  oomlint::ts::Parser parser;
  auto sexp = [](const oomlint::ts::Tree& t) {
    char* str = ts_node_string(ts_tree_root_node(t.raw()));
    std::string out(str);
    std::free(str);
    return out;
  };
  for (int step = 0; step < 400; ++step) {
    auto snap = store.snapshot("file:///cr.py");
    const std::string& cur = *snap->text;
    oomlint::checks::LineIndex lines(cur);
    uint32_t a = static_cast<uint32_t>(rng() % (cur.size() + 1));
    uint32_t b = std::min<uint32_t>(static_cast<uint32_t>(cur.size()), a + rng() % 4);
    Position pa = to_position(lines, a, PositionEncoding::Utf8);
    Position pb = to_position(lines, b, PositionEncoding::Utf8);
    ContentChange change{Range{pa, pb}, pieces[rng() % pieces.size()]};
    REQUIRE(store.change("file:///cr.py", step + 2, {change}, PositionEncoding::Utf8));
    auto after = store.snapshot("file:///cr.py");
    REQUIRE(after->tree);
    INFO("step " << step);
    REQUIRE(sexp(*after->tree) == sexp(parser.parse(*after->text)));
  }
}

TEST_CASE("hostile lsp: 100,000 nested brackets in a document", "[hostile][lsp]") {
  LspClient c;
  c.initialize();
  const std::string uri = "file:///nest.py";
  constexpr uint32_t kDepth = 100000;
  std::string nest = "x = " + std::string(kDepth, '(') + "1" + std::string(kDepth, ')') + "\n";
  c.open(uri, nest + kTrainPy);
  CHECK(oom203(c.last_diagnostics(uri)) == Positions{{6, 8}});
  // An edit in the innermost bracket (incremental reparse of a very deep tree).
  c.change(uri, 2, changes(0, 4 + kDepth, 0, 5 + kDepth, "2"));
  CHECK(oom203(c.last_diagnostics(uri)) == Positions{{6, 8}});
  // Unbalance it: delete the closing brackets.
  c.change(uri, 3, changes(0, 5 + kDepth, 0, 5 + 2 * kDepth, ""));
  CHECK(c.last_diagnostics(uri)["version"] == 3);
  expect_still_serving(c);
}

TEST_CASE("hostile lsp: a one-million-character line edited at its far end", "[hostile][lsp]") {
  LspClient c;
  c.initialize();
  const std::string uri = "file:///wide.py";
  // 250,000 emoji: 1,000,000 bytes, 500,000 UTF-16 units on one line.
  std::string wide;
  for (int i = 0; i < 250000; ++i)
    wide += "\xF0\x9F\x98\x80";
  c.open(uri, "s = '" + wide + "'\n" + kTrainPy);
  CHECK(oom203(c.last_diagnostics(uri)) == Positions{{6, 8}});
  // Replace the last emoji (UTF-16 columns 500,003..500,005) with a quote and a newline.
  c.change(uri, 2, changes(0, 500003, 0, 500005, "'\nt = '"));
  CHECK(oom203(c.last_diagnostics(uri)) == Positions{{7, 8}});
  // A position in the middle of a surrogate pair does not split the character.
  c.change(uri, 3, changes(0, 8, 0, 8, "!"));
  CHECK(c.last_diagnostics(uri)["version"] == 3);
  expect_still_serving(c);
}

TEST_CASE("hostile lsp: a binary document", "[hostile][lsp]") {
  LspClient c;
  c.initialize();
  // Random code points, control characters included (valid UTF-8, so it is valid JSON).
  std::mt19937 rng(11);
  std::string text;
  while (text.size() < 200000) {
    uint32_t cp = rng() % 0x800;
    if (cp < 0x80) {
      text += static_cast<char>(cp);
    } else {
      text += static_cast<char>(0xC0 | (cp >> 6));
      text += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  const std::string uri = "file:///blob.py";
  c.open(uri, text);
  CHECK(c.last_diagnostics(uri).is_object());
  for (int v = 2; v < 20; ++v) {
    uint32_t line = rng() % 50, ch = rng() % 200;
    c.change(uri, v,
             changes(line, ch, line + rng() % 3, ch + rng() % 100, text.substr(rng() % 1000, 50)));
  }
  CHECK(c.last_diagnostics(uri)["version"] == 19);
  expect_still_serving(c);
}
