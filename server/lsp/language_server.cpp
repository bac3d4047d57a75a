#include "lsp/language_server.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "doc_links.h"
#include "engine/fixes.h"
#include "estimate/fit.h"
#include "estimate/run.h"
#include "estimate/script.h"
#include "line_index.h"
#include "lsp/code_actions.h"
#include "lsp/convert.h"
#include "lsp/notebook.h"
#include "lsp/uri.h"
#include "registry.h"

#ifndef OOMLINT_VERSION
#define OOMLINT_VERSION "0.0.0"
#endif

namespace oomlint::lsp {

namespace {
constexpr size_t kMaxWorkspaceFileBytes = size_t{16} << 20;
constexpr size_t kProgressBatch = 50;
constexpr std::string_view kIndexProgressToken = "oomlint-index";

// The files whose appearance or disappearance moves a project's root (ProjectIndex::find_root).
bool is_root_marker(const std::string& name) {
  return name == "pyproject.toml" || name == "oomlint.toml" || name == "setup.py" || name == ".git";
}

std::string text_document_uri(const json& params) {
  return get_string(require_object(member(params, "textDocument"), "textDocument"), "uri");
}

std::optional<std::string> read_file(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kMaxWorkspaceFileBytes) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string hash_text(std::string_view text) {
  // FNV-1a, 64 bit: stable across runs (std::hash need not be).
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  std::ostringstream ss;
  ss << std::hex << h;
  return ss.str();
}
} // namespace

LanguageServer::LanguageServer(Sender send, ServerOptions options)
    : send_(std::move(send)), scheduler_(options.scheduler), options_(options),
      projects_(std::make_shared<checks::ProjectRegistry>()) {
  index_workspace_ = options.index_workspace;
  max_document_bytes_ = options.max_document_bytes;
  logger_.set_stderr_level(options.stderr_level);
  logger_.set_client_sink([this](LogLevel level, const std::string& message) {
    notify("window/logMessage", {{"type", static_cast<int>(level)}, {"message", message}});
  });

  bind_request("initialize", [this](const json& p) { return on_initialize(p); });
  bind_request("shutdown", [this](const json&) {
    shutdown_ = true;
    index_cancel_ = true;
    return json(nullptr);
  });
  bind_async("textDocument/codeAction",
             [this](const json& p, const json&) { return on_code_action(p); });
  bind_async("textDocument/hover", [this](const json& p, const json&) { return on_hover(p); });
  bind_async("textDocument/inlayHint",
             [this](const json& p, const json&) { return on_inlay_hint(p); });
  bind_async("textDocument/diagnostic",
             [this](const json& p, const json&) { return on_document_diagnostic(p); });
  bind_async("workspace/diagnostic",
             [this](const json& p, const json&) { return on_workspace_diagnostic(p); });

  bind_notification("initialized", [this](const json&) { on_initialized(); });
  bind_notification("textDocument/didOpen", [this](const json& p) { on_did_open(p); });
  bind_notification("textDocument/didChange", [this](const json& p) { on_did_change(p); });
  bind_notification("textDocument/didClose", [this](const json& p) { on_did_close(p); });
  bind_notification("textDocument/didSave", [this](const json& p) { on_did_save(p); });
  bind_notification("notebookDocument/didOpen", [this](const json& p) { on_notebook_did_open(p); });
  bind_notification("notebookDocument/didChange",
                    [this](const json& p) { on_notebook_did_change(p); });
  bind_notification("notebookDocument/didSave", [this](const json& p) {
    schedule_notebook(
        get_string(require_object(member(p, "notebookDocument"), "notebookDocument"), "uri"));
  });
  bind_notification("notebookDocument/didClose",
                    [this](const json& p) { on_notebook_did_close(p); });
  bind_notification("workspace/didChangeConfiguration",
                    [this](const json& p) { on_did_change_configuration(p); });
  bind_notification("workspace/didChangeWatchedFiles",
                    [this](const json& p) { on_did_change_watched_files(p); });
  bind_notification("workspace/didChangeWorkspaceFolders",
                    [this](const json& p) { on_did_change_workspace_folders(p); });
  bind_notification("$/setTrace", [this](const json& p) {
    if (auto level = level_from_trace(get_string(p, "value"))) logger_.set_client_level(*level);
  });
  bind_notification("$/cancelRequest", [this](const json& p) {
    const json& id = member(p, "id");
    std::lock_guard lock(requests_mutex_);
    auto it = request_keys_.find(id.dump());
    if (it != request_keys_.end()) scheduler_.cancel(it->second, /*drop_waiting=*/false);
  });
}

LanguageServer::~LanguageServer() {
  stop_indexing();
  scheduler_.stop();
}

void LanguageServer::reset() {
  // Every member of the class, in the order declared, to the value the constructor gives it
  // (send_, the handler maps and options_ are never changed after construction).
  stop_indexing();
  scheduler_.restart();
  logger_.set_client_level(Logger().client_level());
  logger_.set_stderr_level(options_.stderr_level);
  store_.clear();
  notebooks_.clear();
  workspace_.reset();
  initialized_ = false;
  shutdown_ = false;
  exited_ = false;
  encoding_ = PositionEncoding::Utf16;
  document_changes_ = false;
  watch_dynamic_ = false;
  push_diagnostics_ = true;
  diagnostic_refresh_ = false;
  work_done_progress_ = false;
  index_workspace_ = options_.index_workspace;
  max_document_bytes_ = options_.max_document_bytes;
  next_request_id_ = 1;
  {
    std::lock_guard lock(requests_mutex_);
    request_keys_.clear();
    request_seq_ = 0;
  }
  {
    std::lock_guard lock(results_mutex_);
    results_.clear();
    notebook_results_.clear();
    notebook_published_.clear();
  }
  {
    std::lock_guard lock(project_mutex_);
    projects_ = std::make_shared<checks::ProjectRegistry>();
    project_epoch_ = 1;
    structure_epoch_ = 0;
    changed_at_.clear();
  }
  index_cancel_ = false;
  index_done_ = false;
  std::lock_guard lock(progress_mutex_);
  progress_request_.clear();
  progress_ready_ = false;
}

// ---- binder -------------------------------------------------------------------------------

void LanguageServer::bind_request(const std::string& method, std::function<json(const json&)> fn) {
  requests_[method] = [this, fn = std::move(fn)](const json& id, const json& params) {
    reply(id, fn(params));
  };
}

void LanguageServer::bind_async(const std::string& method, Prepare prepare) {
  requests_[method] = [this, prepare = std::move(prepare)](const json& id, const json& params) {
    Work work = prepare(params, id);
    std::string key;
    {
      std::lock_guard lock(requests_mutex_);
      key = "request#" + std::to_string(++request_seq_);
      request_keys_[id.dump()] = key;
    }
    scheduler_.schedule(
        key,
        [this, id, work = std::move(work)](const std::atomic<bool>& cancel) {
          if (cancel) {
            reply_error(id, error_code::kRequestCancelled, "request cancelled");
            return;
          }
          try {
            json result = work(cancel);
            if (cancel) {
              reply_error(id, error_code::kRequestCancelled, "request cancelled");
            } else {
              reply(id, std::move(result));
            }
          } catch (const RpcError& e) {
            reply_error(id, e.code, e.what());
          } catch (const std::exception& e) {
            reply_error(id, error_code::kInternalError, e.what());
          }
        },
        /*debounced=*/false);
  };
}

void LanguageServer::bind_notification(const std::string& method, NotificationHandler fn) {
  notifications_[method] = std::move(fn);
}

void LanguageServer::handle_raw(std::string_view body) {
  json message = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    logger_.warn("received a message that is not valid JSON (or not valid UTF-8)");
    reply_error(nullptr, error_code::kParseError, "invalid JSON");
    return;
  }
  handle(message);
}

bool LanguageServer::may_overtake(const json& message) const {
  if (!message.is_object()) return false;
  auto method = message.find("method");
  if (method == message.end() || !method->is_string()) return false;
  const std::string& name = method->get_ref<const std::string&>();
  if (name == "exit" || name == "$/cancelRequest") return true;
  auto id = message.find("id");
  if (id == message.end() || !(id->is_number_integer() || id->is_string())) return false;
  if (name == "shutdown") return initialized_;
  if (!initialized_ || name == "initialize") return false;
  // A request about an open document reads it as it is now: an earlier message still being
  // parsed can only be about another one, or be an edit the client sent before asking, which
  // the answer may miss, as it may when the two cross on the wire.
  auto params = message.find("params");
  if (params == message.end() || !params->is_object()) return false;
  auto doc = params->find("textDocument");
  if (doc == params->end() || !doc->is_object()) return false;
  auto uri = doc->find("uri");
  return uri != doc->end() && uri->is_string() && store_.is_open(uri->get<std::string>());
}

void LanguageServer::bad_frame(const std::string& error) {
  logger_.warn("bad message frame: " + error);
}

void LanguageServer::end_of_stream() {
  if (!exited_) {
    logger_.info(shutdown_ ? "input closed after shutdown" : "input closed without shutdown");
  }
  exited_ = true;
  index_cancel_ = true;
  scheduler_.stop();
}

void LanguageServer::handle(const json& message) {
  if (exited_) return;
  if (!message.is_object()) {
    reply_error(nullptr, error_code::kInvalidRequest, "a message must be a JSON object");
    return;
  }
  auto id_it = message.find("id");
  bool has_id = id_it != message.end();
  bool valid_id = has_id && (id_it->is_number_integer() || id_it->is_string());
  auto method_it = message.find("method");
  if (method_it == message.end()) {
    if (message.contains("result") || message.contains("error")) { // a reply to us
      on_client_reply(message);
      return;
    }
    reply_error(valid_id ? *id_it : json(nullptr), error_code::kInvalidRequest,
                "a message needs a `method`");
    return;
  }
  if (!method_it->is_string() || (has_id && !valid_id)) {
    reply_error(valid_id ? *id_it : json(nullptr), error_code::kInvalidRequest,
                !method_it->is_string() ? "`method` must be a string"
                                        : "`id` must be an integer or a string");
    return;
  }
  std::string method = method_it->get<std::string>();
  json params = message.contains("params") ? message["params"] : json(nullptr);
  if (!params.is_null() && !params.is_object() && !params.is_array()) {
    if (valid_id) reply_error(*id_it, error_code::kInvalidParams, "`params` must be an object");
    return;
  }
  if (valid_id) {
    handle_request(*id_it, method, params);
  } else {
    handle_notification(method, params);
  }
}

void LanguageServer::handle_request(const json& id, const std::string& method, const json& params) {
  if (!initialized_ && method != "initialize") {
    reply_error(id, error_code::kServerNotInitialized, "the server is not initialized");
    return;
  }
  if (shutdown_) {
    reply_error(id, error_code::kInvalidRequest, "the server is shutting down");
    return;
  }
  if (method == "initialize" && initialized_) {
    reply_error(id, error_code::kInvalidRequest, "the server is already initialized");
    return;
  }
  auto it = requests_.find(method);
  if (it == requests_.end()) {
    reply_error(id, error_code::kMethodNotFound, "unknown method `" + method + "`");
    return;
  }
  try {
    it->second(id, params);
  } catch (const RpcError& e) {
    reply_error(id, e.code, e.what());
  } catch (const json::exception& e) {
    reply_error(id, error_code::kInvalidParams, e.what());
  } catch (const std::exception& e) {
    reply_error(id, error_code::kInternalError, e.what());
  }
}

void LanguageServer::handle_notification(const std::string& method, const json& params) {
  if (method == "exit") {
    exited_ = true;
    index_cancel_ = true;
    scheduler_.stop();
    return;
  }
  if (!initialized_ || shutdown_) return; // dropped, as the specification asks
  auto it = notifications_.find(method);
  if (it == notifications_.end()) {
    logger_.debug("ignoring notification `" + method + "`");
    return;
  }
  try {
    it->second(params);
  } catch (const std::exception& e) {
    logger_.warn("bad `" + method + "` notification: " + e.what());
  }
}

void LanguageServer::reply(const json& id, json result) {
  {
    std::lock_guard lock(requests_mutex_);
    request_keys_.erase(id.dump());
  }
  json message = {{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
  std::lock_guard lock(send_mutex_);
  send_(message);
}

void LanguageServer::reply_error(const json& id, int code, const std::string& text) {
  {
    std::lock_guard lock(requests_mutex_);
    request_keys_.erase(id.dump());
  }
  json message = {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", text}}}};
  std::lock_guard lock(send_mutex_);
  send_(message);
}

void LanguageServer::notify(const std::string& method, json params) {
  json message = {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
  std::lock_guard lock(send_mutex_);
  send_(message);
}

std::string LanguageServer::request_client(const std::string& method, json params) {
  std::lock_guard lock(send_mutex_);
  std::string id = "oomlint-" + std::to_string(next_request_id_++);
  json message = {
      {"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
  send_(message);
  return id;
}

void LanguageServer::on_client_reply(const json& message) {
  // A reply without an id answers nothing (const operator[] on a missing key is undefined).
  auto it = message.find("id");
  if (it == message.end() || !it->is_string()) return;
  const json& id = *it;
  std::lock_guard lock(progress_mutex_);
  if (!progress_request_.empty() && id.get<std::string>() == progress_request_) {
    // The token exists once the client has answered without an error.
    progress_ready_ = !message.contains("error");
  }
}

void LanguageServer::show_message(int type, const std::string& message) {
  logger_.log(type == 1 ? LogLevel::Error : LogLevel::Warning, message);
  notify("window/showMessage", {{"type", type}, {"message", message}});
}

// ---- lifecycle ----------------------------------------------------------------------------

json LanguageServer::on_initialize(const json& params) {
  require_object(params, "initialize params");
  const json* encodings = find_path(params, "capabilities.general.positionEncodings");
  if (encodings && encodings->is_array()) {
    for (const auto& e : *encodings) {
      if (e == "utf-8") encoding_ = PositionEncoding::Utf8;
    }
  }
  if (const json* dc = find_path(params, "capabilities.workspace.workspaceEdit.documentChanges")) {
    document_changes_ = dc->is_boolean() && dc->get<bool>();
  }
  if (const json* dyn =
          find_path(params, "capabilities.workspace.didChangeWatchedFiles.dynamicRegistration")) {
    watch_dynamic_ = dyn->is_boolean() && dyn->get<bool>();
  }
  if (const json* refresh =
          find_path(params, "capabilities.workspace.diagnostics.refreshSupport")) {
    diagnostic_refresh_ = refresh->is_boolean() && refresh->get<bool>();
  }
  if (const json* progress = find_path(params, "capabilities.window.workDoneProgress")) {
    work_done_progress_ = progress->is_boolean() && progress->get<bool>();
  }
  if (const json* trace = find_member(params, "trace"); trace && trace->is_string()) {
    if (auto level = level_from_trace(trace->get<std::string>())) logger_.set_client_level(*level);
  }
  if (const json* folders = find_member(params, "workspaceFolders");
      folders && folders->is_array()) {
    for (const auto& f : *folders) {
      if (f.is_object() && f.contains("uri") && f["uri"].is_string()) {
        workspace_.add_folder(f["uri"].get<std::string>());
      }
    }
  } else if (auto root = opt_string(params, "rootUri")) {
    workspace_.add_folder(*root);
  } else if (const json* path = find_member(params, "rootPath"); path && path->is_string()) {
    workspace_.add_folder(path_to_uri(path->get<std::string>()));
  }
  for (const auto& error : workspace_.reload_configs()) {
    show_message(1, "oomlint: " + error);
  }
  if (const json* options = find_member(params, "initializationOptions")) {
    apply_init_options(*options);
  }
  initialized_ = true;
  json capabilities = {
      {"positionEncoding", std::string(to_string(encoding_))},
      {"textDocumentSync",
       {{"openClose", true}, {"change", 2}, {"save", {{"includeText", false}}}}},
      // Jupyter notebooks whole: the Python cells of each, with the notebook's structure.
      {"notebookDocumentSync",
       {{"notebookSelector", json::array({{{"notebook", {{"notebookType", "jupyter-notebook"}}},
                                           {"cells", json::array({{{"language", "python"}}})}}})},
        {"save", true}}},
      {"codeActionProvider",
       {{"codeActionKinds", json::array({"quickfix", std::string(kFixAllKind)})},
        {"resolveProvider", false}}},
      {"hoverProvider", true},
      {"inlayHintProvider", true},
      {"diagnosticProvider",
       {{"identifier", "oomlint"},
        {"interFileDependencies", true},
        {"workspaceDiagnostics", true}}},
      {"workspace", {{"workspaceFolders", {{"supported", true}, {"changeNotifications", true}}}}},
  };
  return json{{"capabilities", capabilities},
              {"serverInfo", {{"name", "oomlint"}, {"version", OOMLINT_VERSION}}}};
}

void LanguageServer::apply_init_options(const json& options) {
  if (!options.is_object()) return;
  if (const json* level = find_member(options, "logLevel"); level && level->is_string()) {
    if (auto l = parse_log_level(level->get<std::string>())) logger_.set_client_level(*l);
  }
  if (const json* push = find_member(options, "pushDiagnostics"); push && push->is_boolean()) {
    push_diagnostics_ = push->get<bool>();
  }
  if (const json* index = find_member(options, "indexWorkspace"); index && index->is_boolean()) {
    index_workspace_ = index->get<bool>();
  }
  if (const json* max = find_member(options, "maxFileSize");
      max && max->is_number_unsigned() && max->get<uint64_t>() > 0) {
    max_document_bytes_ = static_cast<size_t>(std::min<uint64_t>(max->get<uint64_t>(), SIZE_MAX));
  }
  const json& settings = options.contains("settings") ? options["settings"] : options;
  try {
    workspace_.set_client_settings(settings_from_lsp(settings));
  } catch (const RpcError& e) {
    show_message(1, std::string("oomlint: invalid settings: ") + e.what() + "; using the defaults");
  }
}

void LanguageServer::on_initialized() {
  start_indexing();
  if (!watch_dynamic_) return;
  // Config files, the project's modules (a module edited outside the editor changes what its
  // importers' checks see) and the root markers (they move a project's root).
  json watchers = json::array({{{"globPattern", "**/pyproject.toml"}},
                               {{"globPattern", "**/oomlint.toml"}},
                               {{"globPattern", "**/*.py"}},
                               {{"globPattern", "**/.git"}, {"kind", 5}}}); // created, deleted
  request_client(
      "client/registerCapability",
      {{"registrations", json::array({{{"id", "oomlint-config-watch"},
                                       {"method", "workspace/didChangeWatchedFiles"},
                                       {"registerOptions", {{"watchers", watchers}}}}})}});
}

// ---- documents ----------------------------------------------------------------------------

void LanguageServer::on_did_open(const json& params) {
  const json& doc = require_object(member(params, "textDocument"), "textDocument");
  std::string uri = get_string(doc, "uri");
  std::string language = opt_string(doc, "languageId").value_or("");
  int64_t version = get_int(doc, "version");
  std::string text = get_string(doc, "text");
  const size_t limit = max_document_bytes_;
  if (text.size() > limit) {
    // Kept (its edits still apply) but not parsed, analysed or given to its project.
    char size[64];
    std::snprintf(size, sizeof size, "%.1f MB, over the %.1f MB limit", text.size() / 1e6,
                  limit / 1e6);
    show_message(2, "oomlint: " + uri + " is " + size +
                        " (initialization option `maxFileSize`); it is not analysed");
    store_.open(uri, language, version, std::move(text));
    {
      std::lock_guard lock(results_mutex_);
      results_.erase(uri);
    }
    schedule_diagnostics(uri); // publishes none, clearing any from before
    return;
  }
  store_.open(uri, language, version, text);
  {
    std::lock_guard lock(results_mutex_);
    results_.erase(uri);
  }
  schedule_diagnostics(uri);
  push_text(uri, std::move(text));
}

void LanguageServer::on_did_change(const json& params) {
  const json& doc = require_object(member(params, "textDocument"), "textDocument");
  std::string uri = get_string(doc, "uri");
  int64_t version = get_int(doc, "version");
  const json& changes = member(params, "contentChanges");
  if (!changes.is_array())
    throw RpcError(error_code::kInvalidParams, "`contentChanges` must be a list");
  std::vector<ContentChange> parsed;
  for (const auto& c : changes) {
    require_object(c, "content change");
    ContentChange change;
    change.text = get_string(c, "text");
    if (const json* r = find_member(c, "range")) change.range = parse_range(*r);
    parsed.push_back(std::move(change));
  }
  if (!store_.change(uri, version, parsed, encoding_)) {
    logger_.warn("didChange for a document that is not open: " + uri);
    return;
  }
  schedule_diagnostics(uri);
  if (auto snap = store_.snapshot(uri)) push_text(uri, *snap->text);
}

void LanguageServer::on_did_close(const json& params) {
  std::string uri = text_document_uri(params);
  scheduler_.cancel("diagnostics:" + uri, /*drop_waiting=*/true);
  bool was_open = store_.close(uri);
  {
    std::lock_guard lock(results_mutex_);
    results_.erase(uri);
  }
  if (was_open) {
    notify("textDocument/publishDiagnostics", {{"uri", uri}, {"diagnostics", json::array()}});
    push_text(uri, std::nullopt); // the file on disk is the module again
  }
}

void LanguageServer::on_did_save(const json& params) {
  std::string uri = text_document_uri(params);
  if (store_.is_open(uri)) schedule_diagnostics(uri);
}

void LanguageServer::on_notebook_did_open(const json& params) {
  std::string uri =
      get_string(require_object(member(params, "notebookDocument"), "notebookDocument"), "uri");
  notebooks_.open(params);
  {
    std::lock_guard lock(results_mutex_);
    notebook_results_.erase(uri);
  }
  schedule_notebook(uri);
}

void LanguageServer::on_notebook_did_change(const json& params) {
  std::string uri =
      get_string(require_object(member(params, "notebookDocument"), "notebookDocument"), "uri");
  std::vector<std::string> closed;
  if (!notebooks_.change(params, encoding_, closed)) {
    logger_.warn("notebookDocument/didChange for a notebook that is not open: " + uri);
    return;
  }
  // A removed cell's diagnostics go with it.
  for (const auto& cell : closed) {
    {
      std::lock_guard lock(results_mutex_);
      auto it = notebook_published_.find(uri);
      if (it != notebook_published_.end()) it->second.erase(cell);
    }
    notify("textDocument/publishDiagnostics", {{"uri", cell}, {"diagnostics", json::array()}});
  }
  schedule_notebook(uri);
}

void LanguageServer::on_notebook_did_close(const json& params) {
  std::string uri =
      get_string(require_object(member(params, "notebookDocument"), "notebookDocument"), "uri");
  scheduler_.cancel("notebook:" + uri, /*drop_waiting=*/true);
  std::vector<std::string> cells = notebooks_.close(uri);
  {
    std::lock_guard lock(results_mutex_);
    notebook_results_.erase(uri);
    notebook_published_.erase(uri);
  }
  for (const auto& cell : cells)
    notify("textDocument/publishDiagnostics", {{"uri", cell}, {"diagnostics", json::array()}});
}

void LanguageServer::on_did_change_configuration(const json& params) {
  const json& settings = member(params, "settings");
  try {
    workspace_.set_client_settings(settings_from_lsp(settings));
  } catch (const RpcError& e) {
    show_message(1, std::string("oomlint: invalid settings: ") + e.what() +
                        "; keeping the previous settings");
    return;
  }
  recheck_open_documents();
}

void LanguageServer::on_did_change_watched_files(const json& params) {
  const json& changes = member(params, "changes");
  if (!changes.is_array()) return;
  bool config_changed = false;
  bool roots_changed = false; // a root marker appeared or vanished
  bool structure = false;     // a module appeared or vanished: imports may resolve elsewhere
  std::vector<std::filesystem::path> modules;
  for (const auto& c : changes) {
    if (!c.is_object() || !c.contains("uri") || !c["uri"].is_string()) continue;
    std::string uri = c["uri"].get<std::string>();
    auto path = uri_to_path(uri);
    if (!path) continue;
    // FileChangeType: 1 created, 2 changed, 3 deleted.
    int type = c.contains("type") && c["type"].is_number_integer() ? c["type"].get<int>() : 2;
    std::string name = path->filename().string();
    if (is_config_file_name(name)) config_changed = true;
    if (is_root_marker(name) && type != 2) roots_changed = true;
    if (path->extension() != ".py") continue;
    std::filesystem::path file = path->lexically_normal();
    if (type != 2) structure = true;
    // An open document's text is what its project sees; the disk changing under it changes
    // nothing until it closes.
    if (type == 2 && store_.is_open(uri)) continue;
    registry()->for_file(file)->invalidate(file);
    modules.push_back(file);
  }
  if (config_changed) {
    for (const auto& error : workspace_.reload_configs()) {
      show_message(1, "oomlint: " + error + " (keeping the last valid configuration)");
    }
  }
  if (roots_changed) reset_projects();
  if (!modules.empty() || roots_changed) modules_changed(modules, structure || roots_changed);
  if (config_changed) recheck_open_documents();
}

void LanguageServer::on_did_change_workspace_folders(const json& params) {
  const json& event = require_object(member(params, "event"), "event");
  if (const json* removed = find_member(event, "removed"); removed && removed->is_array()) {
    for (const auto& f : *removed) {
      if (f.is_object() && f.contains("uri") && f["uri"].is_string()) {
        workspace_.remove_folder(f["uri"].get<std::string>());
      }
    }
  }
  if (const json* added = find_member(event, "added"); added && added->is_array()) {
    for (const auto& f : *added) {
      if (f.is_object() && f.contains("uri") && f["uri"].is_string()) {
        workspace_.add_folder(f["uri"].get<std::string>());
      }
    }
  }
  for (const auto& error : workspace_.reload_configs())
    show_message(1, "oomlint: " + error);
  recheck_open_documents();
}

void LanguageServer::recheck_open_documents() {
  for (const auto& uri : store_.uris())
    schedule_diagnostics(uri);
  for (const auto& uri : notebooks_.uris())
    schedule_notebook(uri);
  if (diagnostic_refresh_) request_client("workspace/diagnostic/refresh", nullptr);
}

// ---- the project --------------------------------------------------------------------------

std::shared_ptr<checks::ProjectRegistry> LanguageServer::registry() {
  std::lock_guard lock(project_mutex_);
  return projects_;
}

LanguageServer::ProjectRef LanguageServer::project_for(const std::string& uri) {
  ProjectRef ref;
  {
    std::lock_guard lock(project_mutex_);
    ref.registry = projects_;
    ref.epoch = project_epoch_;
  }
  auto path = uri_to_path(uri);
  if (!path || !path->is_absolute()) return ref; // untitled: no project
  ref.file.path = path->lexically_normal();
  ref.file.project = ref.registry->for_file(ref.file.path);
  return ref;
}

void LanguageServer::push_text(const std::string& uri, std::optional<std::string> text) {
  auto path = uri_to_path(uri);
  if (!path || !path->is_absolute() || path->extension() != ".py") return;
  std::filesystem::path file = path->lexically_normal();
  registry()->for_file(file)->set_text(file, std::move(text));
  modules_changed({file}, /*structure=*/false, uri);
}

void LanguageServer::modules_changed(const std::vector<std::filesystem::path>& files,
                                     bool structure, const std::string& except) {
  {
    std::lock_guard lock(project_mutex_);
    ++project_epoch_;
    for (const auto& f : files)
      changed_at_[f] = project_epoch_;
    if (structure) structure_epoch_ = project_epoch_;
  }
  if (structure) {
    recheck_open_documents();
    return;
  }
  // The open documents whose last result read one of `files`, and those with no result yet (an
  // analysis under way may have read the old text: scheduling again cancels it).
  bool any = false;
  for (const auto& uri : store_.uris()) {
    if (uri == except) continue;
    std::shared_ptr<const Result> result;
    {
      std::lock_guard lock(results_mutex_);
      auto it = results_.find(uri);
      if (it != results_.end()) result = it->second;
    }
    if (result && !fresh(*result)) result = nullptr;
    if (result) continue;
    any = true;
    schedule_diagnostics(uri);
  }
  for (const auto& uri : notebooks_.uris()) {
    std::shared_ptr<const NotebookResult> result;
    {
      std::lock_guard lock(results_mutex_);
      auto it = notebook_results_.find(uri);
      if (it != notebook_results_.end()) result = it->second;
    }
    if (result && fresh(*result)) continue;
    any = true;
    schedule_notebook(uri);
  }
  if (any && !push_diagnostics_ && diagnostic_refresh_) {
    request_client("workspace/diagnostic/refresh", nullptr);
  }
}

void LanguageServer::reset_projects() {
  auto fresh_registry = std::make_shared<checks::ProjectRegistry>();
  for (const auto& uri : store_.uris()) {
    auto path = uri_to_path(uri);
    if (!path || !path->is_absolute() || path->extension() != ".py") continue;
    auto snap = store_.snapshot(uri);
    if (!snap) continue;
    std::filesystem::path file = path->lexically_normal();
    fresh_registry->for_file(file)->set_text(file, *snap->text);
  }
  std::lock_guard lock(project_mutex_);
  projects_ = std::move(fresh_registry);
}

// ---- background indexing -----------------------------------------------------------------

void LanguageServer::start_indexing() {
  if (!index_workspace_ || index_done_ || indexer_.joinable()) return;
  if (workspace_.folder_paths().empty()) return;
  if (work_done_progress_) {
    std::string id = request_client("window/workDoneProgress/create",
                                    {{"token", std::string(kIndexProgressToken)}});
    std::lock_guard lock(progress_mutex_);
    progress_request_ = id;
  }
  if (scheduler_.synchronous()) {
    // Tests drive it with run_pending(), like the rest of the work.
    scheduler_.schedule(
        "index", [this](const std::atomic<bool>& cancel) { index_workspace(cancel); },
        /*debounced=*/false);
    return;
  }
  indexer_ = std::thread([this] {
    // Below the analysis threads: this thread only warms the project's summaries, so any
    // request or diagnostics run goes first when they compete for a CPU.
    setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), 19);
    std::atomic<bool> never{false};
    index_workspace(never);
  });
}

void LanguageServer::stop_indexing() {
  index_cancel_ = true;
  if (indexer_.joinable()) indexer_.join();
}

void LanguageServer::index_workspace(const std::atomic<bool>& cancel) {
  using clock = std::chrono::steady_clock;
  auto started = clock::now();
  auto stopped = [&] { return cancel || index_cancel_; };
  // The workspace's modules, as `oomlint check` would walk them, within the bounds.
  std::vector<std::filesystem::path> files;
  size_t skipped = 0;
  for (const auto& folder : workspace_.folder_paths()) {
    if (stopped() || files.size() >= options_.index_max_files) break;
    for (auto& file : discover_python_files(folder, options_.index_max_files - files.size())) {
      if (file.extension() != ".py" || workspace_.is_excluded(file)) continue;
      std::error_code ec;
      auto size = std::filesystem::file_size(file, ec);
      if (ec || size > options_.index_max_file_bytes) {
        ++skipped;
        continue;
      }
      files.push_back(file.lexically_normal());
    }
  }
  bool begun = false;
  auto progress = [&](json value) {
    {
      std::lock_guard lock(progress_mutex_);
      if (!progress_ready_) return false;
    }
    notify("$/progress",
           {{"token", std::string(kIndexProgressToken)}, {"value", std::move(value)}});
    return true;
  };
  auto begin = [&] {
    if (!begun) {
      begun = progress({{"kind", "begin"},
                        {"title", "oomlint: indexing"},
                        {"message", std::to_string(files.size()) + " modules"},
                        {"percentage", 0},
                        {"cancellable", false}});
    }
  };
  begin();
  auto last_report = clock::now();
  size_t done = 0;
  for (const auto& file : files) {
    if (stopped()) break;
    auto projects = registry();
    projects->for_file(file)->summary(file);
    ++done;
    if (clock::now() - last_report >= std::chrono::milliseconds(200)) {
      last_report = clock::now();
      begin();
      if (begun) {
        progress(
            {{"kind", "report"},
             {"message", std::to_string(done) + "/" + std::to_string(files.size()) + " modules"},
             {"percentage", static_cast<int>(done * 100 / files.size())}});
      }
    }
  }
  double seconds = std::chrono::duration<double>(clock::now() - started).count();
  std::ostringstream summary;
  summary.precision(3);
  summary << "indexed " << done << " of " << files.size() << " modules in " << seconds << " s";
  if (skipped) summary << " (" << skipped << " larger files skipped)";
  if (begun) progress({{"kind", "end"}, {"message", summary.str()}});
  logger_.info(summary.str());
  index_done_ = !stopped();
}

bool LanguageServer::fresh(const Result& result) {
  std::lock_guard lock(project_mutex_);
  if (result.epoch == project_epoch_) return true;
  if (result.epoch < structure_epoch_) return false;
  for (const auto& dep : result.deps) {
    auto it = changed_at_.find(dep);
    if (it != changed_at_.end() && it->second > result.epoch) return false;
  }
  return true;
}

// ---- diagnostics --------------------------------------------------------------------------

std::shared_ptr<const LanguageServer::Result>
LanguageServer::result_for(const Snapshot& snap, const std::atomic<bool>& cancel) {
  uint64_t generation = workspace_.generation();
  auto engine = workspace_.engine_for(snap.uri);
  {
    std::shared_ptr<const Result> cached;
    {
      std::lock_guard lock(results_mutex_);
      auto it = results_.find(snap.uri);
      if (it != results_.end()) cached = it->second;
    }
    if (cached && cached->version == snap.version && cached->generation == generation &&
        fresh(*cached)) {
      return cached;
    }
  }
  ProjectRef project = project_for(snap.uri);
  // Over the size limit: no findings (on_did_open told the client).
  const bool too_large = snap.text->size() > max_document_bytes_;
  Analysis analysis = too_large ? Analysis{} : analyze(snap, *engine, &cancel, project.context());
  if (analysis.cancelled) return nullptr;
  if (!analysis.error.empty()) logger_.info(snap.uri + ": " + analysis.error);
  auto result = std::make_shared<Result>();
  result->version = snap.version;
  result->generation = generation;
  result->epoch = project.epoch;
  if (project.context() && snap.kind == DocumentKind::Python && !too_large) {
    result->deps = project.file.project->dependencies(project.file.path, *snap.text);
  }
  result->lsp = to_lsp_diagnostics(analysis.diagnostics, *snap.text, encoding_,
                                   workspace_.docs_base_for(snap.uri));
  result->diagnostics = std::move(analysis.diagnostics);
  store_.if_current(snap.uri, snap.version, [&] {
    std::lock_guard lock(results_mutex_);
    results_[snap.uri] = result;
  });
  return result;
}

std::string LanguageServer::result_id(const Result& result) const {
  return std::to_string(result.generation) + ":v" + std::to_string(result.version) + ":e" +
         std::to_string(result.epoch);
}

void LanguageServer::schedule_diagnostics(const std::string& uri) {
  if (!push_diagnostics_) return;
  auto snap = store_.snapshot(uri);
  if (!snap) return;
  scheduler_.schedule(
      "diagnostics:" + uri,
      [this, snap](const std::atomic<bool>& cancel) {
        auto result = result_for(*snap, cancel);
        // A module it imports changed while it ran: once more (the change scheduled this task
        // again, unless the result was not stored yet when it looked).
        for (int again = 0; result && !cancel && !fresh(*result) && again < 3; ++again)
          result = result_for(*snap, cancel);
        if (!result || cancel) return;
        // Dropped when the document moved on (or closed) meanwhile.
        bool sent = store_.if_current(snap->uri, snap->version, [&] {
          if (cancel) return;
          notify("textDocument/publishDiagnostics",
                 {{"uri", snap->uri}, {"version", snap->version}, {"diagnostics", result->lsp}});
        });
        if (!sent) logger_.debug("dropped stale diagnostics for " + snap->uri);
      },
      /*debounced=*/true);
}

std::optional<size_t> LanguageServer::NotebookResult::join_index(const std::string& uri) const {
  for (size_t j = 0; j < joined.size(); ++j) {
    if (snap->cells[joined[j]].uri == uri) return j;
  }
  return std::nullopt;
}

namespace {
// A tree-sitter point (rows by '\n', columns in bytes) of `offset` in `text`.
TSPoint point_of(std::string_view text, size_t offset) {
  std::string_view head = text.substr(0, offset);
  auto row = static_cast<uint32_t>(std::count(head.begin(), head.end(), '\n'));
  size_t nl = head.rfind('\n');
  auto column = static_cast<uint32_t>(nl == std::string_view::npos ? offset : offset - nl - 1);
  return TSPoint{row, column};
}

// The joined cells parsed, reusing the tree of the notebook's previous join (`old`, parsed as
// `old_tree`): the two texts differ in one span (between their common prefix and suffix), told to
// the old tree as one edit, so a reparse redoes only what that span touches, as the documents'
// incremental edits do.
ts::Tree reparse_join(ts::Parser& parser, std::string_view source, std::string_view old,
                      const ts::Tree* old_tree) {
  if (!old_tree || !*old_tree) return parser.parse(source);
  size_t limit = std::min(old.size(), source.size());
  size_t prefix = 0;
  while (prefix < limit && old[prefix] == source[prefix])
    ++prefix;
  size_t suffix = 0;
  while (suffix < limit - prefix &&
         old[old.size() - 1 - suffix] == source[source.size() - 1 - suffix]) {
    ++suffix;
  }
  // A CR right before the change reads as a line break or not depending on the byte after it.
  if (prefix > 0 && old[prefix - 1] == '\r') --prefix;
  TSInputEdit e{};
  e.start_byte = static_cast<uint32_t>(prefix);
  e.old_end_byte = static_cast<uint32_t>(old.size() - suffix);
  e.new_end_byte = static_cast<uint32_t>(source.size() - suffix);
  e.start_point = point_of(old, e.start_byte);
  e.old_end_point = point_of(old, e.old_end_byte);
  e.new_end_point = point_of(source, e.new_end_byte);
  ts::Tree tree = old_tree->clone();
  tree.edit(e);
  return parser.parse(source, &tree);
}
} // namespace

std::shared_ptr<const LanguageServer::NotebookResult>
LanguageServer::notebook_result_for(const NotebookSnapshot& snap, const std::atomic<bool>& cancel) {
  uint64_t generation = workspace_.generation();
  auto engine = workspace_.engine_for(snap.uri);
  // The last result of this notebook: returned when still current, else its tree is reparsed.
  std::shared_ptr<const NotebookResult> previous;
  {
    std::lock_guard lock(results_mutex_);
    auto it = notebook_results_.find(snap.uri);
    if (it != notebook_results_.end()) previous = it->second;
  }
  if (previous && previous->version == snap.version && previous->generation == generation &&
      fresh(*previous)) {
    return previous;
  }
  ProjectRef project = project_for(snap.uri);
  auto result = std::make_shared<NotebookResult>();
  result->version = snap.version;
  result->generation = generation;
  result->epoch = project.epoch;
  result->snap = std::make_shared<const NotebookSnapshot>(snap);
  // The code cells in Python, in notebook order (markup cells are skipped).
  std::vector<std::string_view> texts;
  for (size_t i = 0; i < snap.cells.size(); ++i) {
    if (!snap.cells[i].analysed()) continue;
    texts.push_back(*snap.cells[i].text);
    result->joined.push_back(i);
  }
  result->join = cli::CellJoin(texts);
  const std::string& source = result->join.source();
  std::vector<checks::Diagnostic> diagnostics;
  if (source.size() <= max_document_bytes_) {
    ts::Parser parser;
    ts::Tree tree =
        previous ? reparse_join(parser, source, previous->join.source(), previous->tree.get())
                 : parser.parse(source);
    if (tree) diagnostics = engine->check(source, tree, &cancel, false, project.context());
    result->tree = std::make_shared<const ts::Tree>(std::move(tree));
    if (project.context())
      result->deps = project.file.project->dependencies(project.file.path, source);
  } else {
    logger_.info(snap.uri + ": the notebook's code is over the size limit; it is not analysed");
  }
  if (cancel) return nullptr;
  auto placed = place_in_cells(result->join, std::move(diagnostics));
  std::string base = workspace_.docs_base_for(snap.uri);
  for (size_t j = 0; j < result->joined.size(); ++j) {
    const NotebookCellSnapshot& cell = snap.cells[result->joined[j]];
    CellResult r;
    r.version = cell.version;
    r.lsp = to_lsp_diagnostics(placed[j], *cell.text, encoding_, base);
    r.diagnostics = std::move(placed[j]);
    result->cells[cell.uri] = std::move(r);
  }
  notebooks_.if_current(snap.uri, snap.version, [&] {
    std::lock_guard lock(results_mutex_);
    notebook_results_[snap.uri] = result;
  });
  return result;
}

void LanguageServer::schedule_notebook(const std::string& uri) {
  // Pushed even when the client asked for no pushes (pushDiagnostics: false, as the VS Code
  // extension does because it pulls): vscode-languageclient 9 pulls diagnostics only for the
  // documents open in a tab, and a notebook's cells, opened by notebookDocument/didOpen, are not,
  // so it never pulls them. Pull requests on cell URIs are answered all the same.
  auto snap = notebooks_.snapshot(uri);
  if (!snap) return;
  scheduler_.schedule(
      "notebook:" + uri,
      [this, snap](const std::atomic<bool>& cancel) {
        auto result = notebook_result_for(*snap, cancel);
        for (int again = 0; result && !cancel && !fresh(*result) && again < 3; ++again)
          result = notebook_result_for(*snap, cancel);
        if (!result || cancel) return;
        // Each cell whose text or diagnostics changed since the last publication, and the cells
        // that left the notebook (or stopped being code) cleared. Dropped when the notebook
        // moved on meanwhile.
        bool sent = notebooks_.if_current(snap->uri, snap->version, [&] {
          if (cancel) return;
          std::lock_guard lock(results_mutex_);
          auto& published = notebook_published_[snap->uri];
          std::map<std::string, std::pair<int64_t, json>> now;
          for (const auto& cell : snap->cells) {
            if (!cell.text) continue;
            auto it = result->cells.find(cell.uri);
            json items = it != result->cells.end() ? it->second.lsp : json::array();
            auto old = published.find(cell.uri);
            if (old == published.end() || old->second.first != cell.version ||
                old->second.second != items) {
              notify("textDocument/publishDiagnostics",
                     {{"uri", cell.uri}, {"version", cell.version}, {"diagnostics", items}});
            }
            now[cell.uri] = {cell.version, std::move(items)};
          }
          for (const auto& [cell, last] : published) {
            if (!now.count(cell) && !last.second.empty()) {
              notify("textDocument/publishDiagnostics",
                     {{"uri", cell}, {"diagnostics", json::array()}});
            }
          }
          published = std::move(now);
        });
        if (!sent) logger_.debug("dropped stale diagnostics for " + snap->uri);
      },
      /*debounced=*/true);
}

LanguageServer::Work LanguageServer::on_document_diagnostic(const json& params) {
  std::string uri = text_document_uri(params);
  std::optional<std::string> previous = opt_string(params, "previousResultId");
  return [this, uri, previous](const std::atomic<bool>& cancel) -> json {
    if (auto notebook = notebooks_.notebook_of(uri)) {
      auto nb = notebooks_.snapshot(*notebook);
      auto result = nb ? notebook_result_for(*nb, cancel) : nullptr;
      if (!result) throw RpcError(error_code::kRequestCancelled, "request cancelled");
      std::string id = result_id(*result);
      if (previous && *previous == id) return json{{"kind", "unchanged"}, {"resultId", id}};
      auto it = result->cells.find(uri);
      return json{{"kind", "full"},
                  {"resultId", id},
                  {"items", it != result->cells.end() ? it->second.lsp : json::array()}};
    }
    auto snap = store_.snapshot(uri);
    if (!snap) {
      // Not open: check the file on disk, if there is one.
      auto path = uri_to_path(uri);
      std::optional<std::string> text = path ? read_file(*path) : std::nullopt;
      if (!text) return json{{"kind", "full"}, {"items", json::array()}};
      uint64_t generation = workspace_.generation();
      // What it imports counts too: the project's epoch is part of the id.
      ProjectRef project = project_for(uri);
      std::string id = std::to_string(generation) + ":e" + std::to_string(project.epoch) + ":h" +
                       hash_text(*text);
      if (previous && *previous == id) return json{{"kind", "unchanged"}, {"resultId", id}};
      Analysis a =
          analyze_text(uri, *text, *workspace_.engine_for(uri), &cancel, project.context());
      return json{{"kind", "full"},
                  {"resultId", id},
                  {"items", to_lsp_diagnostics(a.diagnostics, *text, encoding_,
                                               workspace_.docs_base_for(uri))}};
    }
    auto result = result_for(*snap, cancel);
    if (!result) throw RpcError(error_code::kRequestCancelled, "request cancelled");
    std::string id = result_id(*result);
    if (previous && *previous == id) return json{{"kind", "unchanged"}, {"resultId", id}};
    return json{{"kind", "full"}, {"resultId", id}, {"items", result->lsp}};
  };
}

LanguageServer::Work LanguageServer::on_workspace_diagnostic(const json& params) {
  require_object(params, "params");
  std::map<std::string, std::string> previous;
  if (const json* prev = find_member(params, "previousResultIds")) {
    if (!prev->is_array())
      throw RpcError(error_code::kInvalidParams, "`previousResultIds` must be a list");
    for (const auto& p : *prev) {
      previous[get_string(p, "uri")] = get_string(p, "value");
    }
  }
  json partial = params.value("partialResultToken", json(nullptr));
  json work_done = params.value("workDoneToken", json(nullptr));
  return [this, previous, partial, work_done](const std::atomic<bool>& cancel) -> json {
    // Open documents first, then every file of the folders that is not open.
    std::vector<std::string> uris;
    std::set<std::string> seen;
    for (const auto& uri : store_.uris()) {
      auto snap = store_.snapshot(uri);
      if (snap && snap->kind != DocumentKind::Other && seen.insert(uri).second) uris.push_back(uri);
    }
    for (const auto& folder : workspace_.folder_paths()) {
      for (const auto& file : discover_python_files(folder)) {
        if (workspace_.is_excluded(file)) continue; // as `oomlint check` leaves it out
        std::string uri = path_to_uri(file);
        if (seen.insert(uri).second) uris.push_back(uri);
      }
    }
    auto progress = [&](json value) {
      if (!work_done.is_null())
        notify("$/progress", {{"token", work_done}, {"value", std::move(value)}});
    };
    progress({{"kind", "begin"},
              {"title", "oomlint"},
              {"message", "checking " + std::to_string(uris.size()) + " files"},
              {"percentage", 0},
              {"cancellable", false}});
    json items = json::array();
    size_t diagnostics = 0;
    for (size_t i = 0; i < uris.size(); ++i) {
      if (cancel) throw RpcError(error_code::kRequestCancelled, "request cancelled");
      const std::string& uri = uris[i];
      json report;
      if (auto snap = store_.snapshot(uri)) {
        auto result = result_for(*snap, cancel);
        if (!result) throw RpcError(error_code::kRequestCancelled, "request cancelled");
        std::string id = result_id(*result);
        auto prev = previous.find(uri);
        report = prev != previous.end() && prev->second == id
                     ? json{{"kind", "unchanged"}, {"resultId", id}}
                     : json{{"kind", "full"}, {"resultId", id}, {"items", result->lsp}};
        report["version"] = snap->version;
        diagnostics += result->lsp.size();
      } else {
        auto path = uri_to_path(uri);
        auto text = path ? read_file(*path) : std::nullopt;
        if (!text) continue;
        ProjectRef project = project_for(uri);
        std::string id = std::to_string(workspace_.generation()) + ":e" +
                         std::to_string(project.epoch) + ":h" + hash_text(*text);
        auto prev = previous.find(uri);
        if (prev != previous.end() && prev->second == id) {
          report = {{"kind", "unchanged"}, {"resultId", id}};
        } else {
          Analysis a =
              analyze_text(uri, *text, *workspace_.engine_for(uri), &cancel, project.context());
          if (a.cancelled) throw RpcError(error_code::kRequestCancelled, "request cancelled");
          json lsp =
              to_lsp_diagnostics(a.diagnostics, *text, encoding_, workspace_.docs_base_for(uri));
          diagnostics += lsp.size();
          report = {{"kind", "full"}, {"resultId", id}, {"items", std::move(lsp)}};
        }
        report["version"] = nullptr;
      }
      report["uri"] = uri;
      items.push_back(std::move(report));
      if (!partial.is_null() && items.size() >= kProgressBatch) {
        notify("$/progress", {{"token", partial}, {"value", {{"items", std::move(items)}}}});
        items = json::array();
      }
      if ((i + 1) % kProgressBatch == 0) {
        progress({{"kind", "report"},
                  {"message", std::to_string(i + 1) + "/" + std::to_string(uris.size()) + " files"},
                  {"percentage", static_cast<int>((i + 1) * 100 / uris.size())}});
      }
    }
    if (!partial.is_null() && !items.empty()) {
      notify("$/progress", {{"token", partial}, {"value", {{"items", std::move(items)}}}});
      items = json::array();
    }
    progress({{"kind", "end"},
              {"message", std::to_string(uris.size()) + " files, " + std::to_string(diagnostics) +
                              " diagnostics"}});
    return json{{"items", std::move(items)}};
  };
}

// ---- code actions and hover ---------------------------------------------------------------

LanguageServer::Work LanguageServer::on_code_action(const json& params) {
  std::string uri = text_document_uri(params);
  parse_range(member(params, "range"));
  const json& context = require_object(member(params, "context"), "context");
  const json& diagnostics = member(context, "diagnostics");
  if (!diagnostics.is_array())
    throw RpcError(error_code::kInvalidParams, "`diagnostics` must be a list");
  std::vector<std::string> only;
  if (const json* o = find_member(context, "only")) {
    if (!o->is_array()) throw RpcError(error_code::kInvalidParams, "`only` must be a list");
    for (const auto& k : *o) {
      if (!k.is_string()) throw RpcError(error_code::kInvalidParams, "`only` must list strings");
      only.push_back(k.get<std::string>());
    }
  }
  for (const auto& d : diagnostics) {
    if (const json* r = find_member(d, "range")) parse_range(*r);
  }
  return [this, uri, diagnostics, only](const std::atomic<bool>& cancel) -> json {
    if (auto notebook = notebooks_.notebook_of(uri))
      return notebook_code_action(*notebook, uri, diagnostics, only, cancel);
    auto snap = store_.snapshot(uri);
    CodeActionInput in;
    in.uri = uri;
    in.diagnostics = diagnostics;
    in.only = only;
    in.encoding = encoding_;
    in.document_changes = document_changes_;
    if (snap) {
      in.version = snap->version;
      in.text = snap->text.get();
      in.python = snap->kind == DocumentKind::Python;
    }
    return code_actions(in, *workspace_.engine_for(uri));
  };
}

LanguageServer::Work LanguageServer::on_hover(const json& params) {
  std::string uri = text_document_uri(params);
  Position position = parse_position(member(params, "position"));
  return [this, uri, position](const std::atomic<bool>& cancel) -> json {
    if (auto notebook = notebooks_.notebook_of(uri))
      return notebook_hover(*notebook, uri, position, cancel);
    auto snap = store_.snapshot(uri);
    if (!snap) return nullptr;
    auto result = result_for(*snap, cancel);
    if (!result) throw RpcError(error_code::kRequestCancelled, "request cancelled");
    checks::LineIndex lines(*snap->text);
    uint32_t offset = to_offset(lines, position, encoding_);
    json hover = rule_hover(result->diagnostics, lines, offset, uri);
    return hover.is_null() ? memory_hover(*snap, lines, offset) : hover;
  };
}

json LanguageServer::rule_hover(const std::vector<checks::Diagnostic>& diagnostics,
                                const checks::LineIndex& lines, uint32_t offset,
                                const std::string& uri) const {
  std::vector<const checks::Diagnostic*> hits;
  for (const auto& d : diagnostics) {
    if (d.start <= offset && offset <= d.end) hits.push_back(&d);
  }
  if (hits.empty()) return nullptr;
  std::string markdown;
  std::set<std::string> codes;
  std::string base = workspace_.docs_base_for(uri);
  uint32_t start = hits.front()->start, end = hits.front()->end;
  for (const auto* d : hits) {
    if (!codes.insert(d->code).second) continue;
    if (!markdown.empty()) markdown += "\n\n---\n\n";
    std::string_view doc = checks::rule_doc(d->code);
    if (doc.empty()) {
      markdown += "**" + d->code + "** (" + d->slug + "): " + d->message;
    } else {
      // Relative links ([M7](../guide/M7.md)) made absolute: the editor shows the page away
      // from docs/.
      markdown += checks::absolute_doc_links(doc, "rules/", base);
    }
    if (!doc.empty()) {
      markdown += "\n\n[" + d->code + " documentation](" + checks::rule_url(d->code, base) + ")";
    }
    for (const auto& section : checks::split_sections(d->section)) {
      if (checks::guide_doc(section).empty()) continue;
      markdown += " · [guide " + section + "](" + checks::guide_url(section, base) + ")";
    }
    start = std::max(start, d->start);
    end = std::min(end, d->end);
  }
  if (end < start) end = start;
  return json{{"contents", {{"kind", "markdown"}, {"value", markdown}}},
              {"range", to_json(to_range(lines, start, end, encoding_))}};
}

// ---- notebook cells -------------------------------------------------------------------------

namespace {
// Directory of a file: URI, where a local model's config.json is looked up.
std::string base_dir_of(const std::string& uri) {
  auto path = uri_to_path(uri);
  return path ? path->parent_path().string() : std::string();
}
} // namespace

json LanguageServer::notebook_hover(const std::string& notebook, const std::string& cell,
                                    Position position, const std::atomic<bool>& cancel) {
  auto snap = notebooks_.snapshot(notebook);
  if (!snap) return nullptr;
  auto result = notebook_result_for(*snap, cancel);
  if (!result) throw RpcError(error_code::kRequestCancelled, "request cancelled");
  auto j = result->join_index(cell);
  if (!j) return nullptr;
  const std::string& text = *result->snap->cells[result->joined[*j]].text;
  checks::LineIndex lines(text);
  uint32_t offset = to_offset(lines, position, encoding_);
  json hover = rule_hover(result->cells.at(cell).diagnostics, lines, offset, notebook);
  if (!hover.is_null() || !result->tree || !*result->tree) return hover;
  // A model id: the estimate reads the whole notebook's code.
  const std::string& source = result->join.source();
  uint32_t at = result->join.start(*j) + offset;
  auto ref = checks::estimate::find_model_at(source, *result->tree, at);
  if (!ref) return nullptr;
  std::string markdown =
      checks::estimate::hover_markdown(source, *result->tree, at, base_dir_of(notebook));
  if (markdown.empty()) return nullptr;
  uint32_t from = result->join.start(*j), size = result->join.text_size(*j);
  auto local = [&](uint32_t o) { return std::min(o > from ? o - from : 0, size); };
  return json{{"contents", {{"kind", "markdown"}, {"value", markdown}}},
              {"range", to_json(to_range(lines, local(ref->start), local(ref->end), encoding_))}};
}

json LanguageServer::notebook_code_action(const std::string& notebook, const std::string& cell,
                                          const json& diagnostics,
                                          const std::vector<std::string>& only,
                                          const std::atomic<bool>& cancel) {
  auto engine = workspace_.engine_for(notebook);
  CodeActionInput in;
  in.uri = cell;
  in.diagnostics = diagnostics;
  in.only = only;
  in.encoding = encoding_;
  in.document_changes = document_changes_;
  auto snap = notebooks_.snapshot(notebook);
  auto result = snap ? notebook_result_for(*snap, cancel) : nullptr;
  if (snap && !result) throw RpcError(error_code::kRequestCancelled, "request cancelled");
  std::optional<size_t> j = result ? result->join_index(cell) : std::nullopt;
  if (j) {
    const NotebookCellSnapshot& c = result->snap->cells[result->joined[*j]];
    in.version = c.version;
    in.text = c.text.get();
    // Fix all: the safe fixes of the whole notebook, this cell's part of them.
    in.fixed_text = [&]() -> std::optional<std::string> {
      checks::FixOutcome outcome =
          checks::apply_fixes(*engine, result->join.source(), /*unsafe=*/false);
      auto texts = result->join.split(outcome.text);
      if (!texts) return std::nullopt;
      return (*texts)[*j];
    };
  }
  return code_actions(in, *engine);
}

// ---- memory estimate (guide M1, M9-M13) ------------------------------------------------------

json LanguageServer::memory_hover(const Snapshot& snap, const checks::LineIndex& lines,
                                  uint32_t offset) const {
  if (!snap.tree || !*snap.tree) return nullptr;
  std::string base = base_dir_of(snap.uri);
  // On a model load: its memory table, then the run's predicted peak. On a TrainingArguments-
  // family call: the run's predicted peak alone.
  std::string markdown;
  uint32_t start = 0, end = 0;
  if (auto ref = checks::estimate::find_model_at(*snap.text, *snap.tree, offset)) {
    markdown = checks::estimate::hover_markdown(*snap.text, *snap.tree, offset, base);
    if (markdown.empty()) return nullptr;
    start = ref->start;
    end = ref->end;
  } else if (auto call = checks::estimate::training_args_at(*snap.text, *snap.tree, offset)) {
    start = call->start;
    end = call->end;
  } else {
    return nullptr;
  }
  std::string peak = checks::estimate::fit_hover_markdown(*snap.text, *snap.tree, base);
  if (!peak.empty()) markdown += (markdown.empty() ? "" : "\n") + peak;
  if (markdown.empty()) return nullptr;
  return json{{"contents", {{"kind", "markdown"}, {"value", markdown}}},
              {"range", to_json(to_range(lines, start, end, encoding_))}};
}

LanguageServer::Work LanguageServer::on_inlay_hint(const json& params) {
  std::string uri = text_document_uri(params);
  Range range = parse_range(member(params, "range"));
  return [this, uri, range](const std::atomic<bool>&) -> json {
    json hints = json::array();
    auto snap = store_.snapshot(uri);
    if (!snap || !snap->tree || !*snap->tree) return hints;
    checks::LineIndex lines(*snap->text);
    uint32_t from = to_offset(lines, range.start, encoding_);
    uint32_t to = to_offset(lines, range.end, encoding_);
    for (const auto& [offset, label] :
         checks::estimate::inlay_hints(*snap->text, *snap->tree, base_dir_of(uri))) {
      if (offset < from || offset > to) continue;
      hints.push_back({{"position", to_json(to_range(lines, offset, offset, encoding_).start)},
                       {"label", label},
                       {"paddingLeft", true}});
    }
    return hints;
  };
}

} // namespace oomlint::lsp
