// Harness 1: the JSON-RPC frame reader and the LanguageServer dispatcher fed arbitrary bytes, the
// way `serve()` runs them with a synchronous scheduler (no threads, no sockets).
//
// Input modes (chosen by the first byte):
//   - odd first byte (e.g. the 'C' of "Content-Length"): the whole input is the byte stream, so
//     framing, headers and resynchronisation are fuzzed;
//   - even first byte: the rest is a list of message bodies separated by "\n---\n", which the
//     harness frames with correct lengths, so mutations reach the JSON and the params.
//
// Checks: no crash, no hang, no leak (ASan), and every message with a valid id (integer or
// string) that reaches the server and is not itself a response gets exactly one reply.
//
// One server serves every input: LanguageServer::reset() after each input returns it to its
// state after construction (tests/lsp/lifecycle_test.cpp shows that a reset server answers
// exactly as a new one), so an input does the same on its own as after any other input, and a
// finding reproduces from its one input.
//
// File URIs and root paths are confined to a small sandbox directory (a config file, a script,
// a notebook) so that workspace discovery and config loading run without walking the real
// filesystem.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>

#include "lsp/json_rpc.h"
#include "lsp/language_server.h"
#include "lsp/transport.h"

using oomlint::lsp::json;

namespace {

std::string& sandbox() {
  static std::string dir;
  return dir;
}

void write_file(const std::filesystem::path& p, std::string_view text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << text;
}

void make_sandbox() {
  char tmpl[] = "/tmp/oomlint-fuzz-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("mkdtemp");
    std::abort();
  }
  sandbox() = tmpl;
  std::filesystem::path root(tmpl);
  write_file(root / "w" / "pyproject.toml", "[tool.oomlint]\ntarget-gpu = \"volta\"\n");
  write_file(root / "w" / "train.py", "import torch\n"
                                      "for batch in loader:\n"
                                      "    loss = model(batch).sum()\n"
                                      "    loss.backward()\n"
                                      "    torch.cuda.empty_cache()\n");
  write_file(root / "w" / "ds.json",
             "{\"zero_optimization\": {\"stage\": 3}, \"train_batch_size\": 8}\n");
  write_file(root / "w" / "nb.ipynb",
             "{\"cells\": [{\"cell_type\": \"code\", \"source\": [\"import torch\\n\", "
             "\"torch.cuda.empty_cache()\\n\"]}], \"metadata\": {}, \"nbformat\": 4}\n");
  write_file(root / "bad" / "oomlint.toml", "select = [1, 2\n");
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  }
  return true;
}

// A path below the sandbox: no "..", no percent-escapes that could decode to one.
std::string confined_path(std::string_view path) {
  std::string out = sandbox();
  if (path.empty() || path.front() != '/') out.push_back('/');
  for (char c : path)
    out.push_back(c == '%' ? '_' : c);
  for (size_t at = out.find(".."); at != std::string::npos; at = out.find("..", at))
    out[at + 1] = '_';
  return out;
}

void confine(json& j) {
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    if (starts_with_icase(s, "file://")) {
      std::string_view rest = std::string_view(s).substr(7);
      size_t slash = rest.find('/'); // drop an authority
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
      j = "file://" + confined_path(rest);
    }
  } else if (j.is_object()) {
    for (auto& [key, value] : j.items()) {
      if (key == "rootPath" && value.is_string()) {
        value = confined_path(value.get<std::string>());
      } else {
        confine(value);
      }
    }
  } else if (j.is_array()) {
    for (auto& v : j)
      confine(v);
  }
}

// The id a message must be answered with, or "" when it needs no answer (or has no valid id):
// a request, or an invalid message that is not a response, with an integer or string id.
std::string request_key(const json& m) {
  if (!m.is_object()) return {};
  auto id = m.find("id");
  if (id == m.end() || (!id->is_number_integer() && !id->is_string())) return {};
  if (!m.contains("method") && (m.contains("result") || m.contains("error"))) return {};
  return id->dump();
}

std::string build_stream(std::string_view input) {
  if (input.empty() || (static_cast<unsigned char>(input[0]) & 1)) return std::string(input);
  std::string out;
  std::string_view rest = input.substr(1);
  constexpr std::string_view kSep = "\n---\n";
  for (;;) {
    size_t at = rest.find(kSep);
    out += oomlint::lsp::frame(rest.substr(0, at));
    if (at == std::string_view::npos) break;
    rest.remove_prefix(at + kSep.size());
  }
  return out;
}

// What the server sent during the current input: replies counted by id.
std::map<std::string, int> answered;

// Leaked on purpose: a static LanguageServer would be destroyed at exit after the thread's
// tree-sitter arena, with parse trees still in its document store.
oomlint::lsp::LanguageServer* server = nullptr;

} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace oomlint::lsp;
  make_sandbox();
  ServerOptions options;
  options.scheduler.workers = 0;
  options.scheduler.debounce = std::chrono::milliseconds(0);
  options.stderr_level = LogLevel::Off;
  server = new LanguageServer(
      [](const json& m) {
        std::string bytes = dump(m); // must serialise whatever strings came in
        if (bytes.empty() || !m.is_object()) std::abort();
        if (!m.contains("method") && m.contains("id") && !m["id"].is_null()) {
          ++answered[m["id"].dump()];
        }
      },
      options);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace oomlint::lsp;
  MemoryStream stream(build_stream(std::string_view(reinterpret_cast<const char*>(data), size)));

  std::map<std::string, int> expected;
  answered.clear();
  FrameReader reader(stream);
  while (!server->exited()) {
    Frame f = reader.read();
    if (f.kind == Frame::Kind::Eof) {
      server->end_of_stream();
      break;
    }
    if (f.kind == Frame::Kind::BadHeader) {
      server->bad_frame(f.error);
      continue;
    }
    json message = json::parse(f.body, nullptr, /*allow_exceptions=*/false);
    if (message.is_discarded()) {
      server->handle_raw(f.body); // the parse-error path
    } else {
      confine(message);
      std::string key = request_key(message);
      if (!key.empty()) ++expected[key];
      server->handle(message);
    }
    server->run_pending();
  }
  server->reset();
  if (expected != answered) {
    for (const auto& [id, n] : expected) {
      if (answered[id] != n)
        std::fprintf(stderr, "request %s: %d sent, %d answered\n", id.c_str(), n, answered[id]);
    }
    for (const auto& [id, n] : answered) {
      if (!expected.count(id)) std::fprintf(stderr, "unexpected response for id %s\n", id.c_str());
    }
    std::abort();
  }
  return 0;
}
