// An in-memory LSP client for tests (after clangd's unittests/LSPClient.h): messages go straight
// into a LanguageServer with a synchronous scheduler (no threads); everything the server sends
// is collected here.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lsp/language_server.h"

namespace oomlint::lsp::test {

class LspClient {
public:
  explicit LspClient(unsigned workers = 0) {
    ServerOptions options;
    options.scheduler.workers = workers;
    options.scheduler.debounce = std::chrono::milliseconds(workers == 0 ? 0 : 20);
    options.stderr_level = LogLevel::Off;
    server_ = std::make_unique<LanguageServer>(
        [this](const json& m) {
          std::lock_guard lock(mutex_);
          outbox_.push_back(m);
        },
        options);
  }

  LanguageServer& server() { return *server_; }

  // Sends a request and returns its id; the reply is read with response().
  json send_request(const std::string& method, json params) {
    json id = next_id_++;
    server_->handle(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}});
    return id;
  }
  // Sends a request, runs the queued work and returns the reply (the whole message).
  json request(const std::string& method, json params) {
    json id = send_request(method, std::move(params));
    server_->run_pending();
    return response(id);
  }
  // The result of a request that must succeed.
  json call(const std::string& method, json params) {
    json r = request(method, std::move(params));
    if (!r.contains("result")) throw std::runtime_error("request failed: " + r.dump());
    return r["result"];
  }
  void notify(const std::string& method, json params) {
    server_->handle(json{{"jsonrpc", "2.0"}, {"method", method}, {"params", params}});
  }
  void raw(std::string_view body) { server_->handle_raw(body); }
  void run_pending() { server_->run_pending(); }

  json response(const json& id) {
    std::lock_guard lock(mutex_);
    for (const auto& m : outbox_) {
      if (m.contains("id") && m["id"] == id && !m.contains("method")) return m;
    }
    return nullptr;
  }
  std::vector<json> responses() {
    std::lock_guard lock(mutex_);
    std::vector<json> out;
    for (const auto& m : outbox_) {
      if (!m.contains("method")) out.push_back(m);
    }
    return out;
  }
  std::vector<json> notifications(const std::string& method) {
    std::lock_guard lock(mutex_);
    std::vector<json> out;
    for (const auto& m : outbox_) {
      if (m.value("method", "") == method && !m.contains("id")) out.push_back(m["params"]);
    }
    return out;
  }
  // The requests the server sent the client (their params), oldest first.
  std::vector<json> server_requests(const std::string& method) {
    std::lock_guard lock(mutex_);
    std::vector<json> out;
    for (const auto& m : outbox_) {
      if (m.value("method", "") == method && m.contains("id")) out.push_back(m["params"]);
    }
    return out;
  }
  // The id of the last request `method` the server sent (null when none).
  json server_request_id(const std::string& method) {
    std::lock_guard lock(mutex_);
    json id;
    for (const auto& m : outbox_) {
      if (m.value("method", "") == method && m.contains("id")) id = m["id"];
    }
    return id;
  }
  // Every publishDiagnostics for `uri`, oldest first.
  std::vector<json> published(const std::string& uri) {
    std::vector<json> out;
    for (auto& p : notifications("textDocument/publishDiagnostics")) {
      if (p["uri"] == uri) out.push_back(p);
    }
    return out;
  }
  json last_diagnostics(const std::string& uri) {
    auto all = published(uri);
    return all.empty() ? json(nullptr) : all.back();
  }
  void clear() {
    std::lock_guard lock(mutex_);
    outbox_.clear();
  }
  // Everything the server sent, oldest first.
  std::vector<json> messages() {
    std::lock_guard lock(mutex_);
    return outbox_;
  }
  // LanguageServer::reset(), and this client's record and request ids start again too.
  void reset() {
    server_->reset();
    clear();
    next_id_ = 1;
  }

  json initialize(json capabilities = json::object(), json options = nullptr,
                  json folders = nullptr) {
    json params = {{"processId", nullptr}, {"rootUri", nullptr}, {"capabilities", capabilities}};
    if (!options.is_null()) params["initializationOptions"] = options;
    if (!folders.is_null()) params["workspaceFolders"] = folders;
    json r = call("initialize", params);
    notify("initialized", json::object());
    server_->run_pending();
    return r;
  }
  void open(const std::string& uri, const std::string& text, int64_t version = 1,
            const std::string& language = "python") {
    notify("textDocument/didOpen",
           {{"textDocument",
             {{"uri", uri}, {"languageId", language}, {"version", version}, {"text", text}}}});
    server_->run_pending();
  }
  void change(const std::string& uri, int64_t version, json changes) {
    notify("textDocument/didChange",
           {{"textDocument", {{"uri", uri}, {"version", version}}}, {"contentChanges", changes}});
    server_->run_pending();
  }

private:
  std::mutex mutex_;
  std::vector<json> outbox_;
  std::unique_ptr<LanguageServer> server_;
  int64_t next_id_ = 1;
};

inline json range_json(uint32_t l1, uint32_t c1, uint32_t l2, uint32_t c2) {
  return {{"start", {{"line", l1}, {"character", c1}}}, {"end", {{"line", l2}, {"character", c2}}}};
}

// A training loop with one OOM203 on line 5 (0-based): `torch.cuda.empty_cache()` at column 8.
inline const std::string kTrainPy = "import torch\n"
                                    "\n"
                                    "def train(model, loader, optimizer):\n"
                                    "    for batch in loader:\n"
                                    "        model(batch).sum().backward()\n"
                                    "        torch.cuda.empty_cache()\n"
                                    "        optimizer.step()\n";

} // namespace oomlint::lsp::test
