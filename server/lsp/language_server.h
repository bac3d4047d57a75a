// The protocol layer: a binder from method names to handlers, the lifecycle (initialize,
// shutdown, exit), document sync, diagnostics (push, pull, workspace), code actions, hover and
// settings. Transport-free: messages come in through handle_raw()/handle(), go out through the
// Sender. Analysis runs on the Scheduler; with zero workers, tests drive it with run_pending().
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "line_index.h"
#include "lsp/analysis.h"
#include "lsp/document_store.h"
#include "lsp/logger.h"
#include "lsp/protocol.h"
#include "lsp/scheduler.h"
#include "lsp/workspace.h"

namespace oomlint::lsp {

struct ServerOptions {
  SchedulerOptions scheduler;
  LogLevel stderr_level = LogLevel::Info;
};

class LanguageServer {
public:
  using Sender = std::function<void(const json&)>;
  LanguageServer(Sender send, ServerOptions options);
  ~LanguageServer();
  LanguageServer(const LanguageServer&) = delete;
  LanguageServer& operator=(const LanguageServer&) = delete;

  // One message body (JSON text).
  void handle_raw(std::string_view body);
  void handle(const json& message);
  // A frame the reader had to reject.
  void bad_frame(const std::string& error);
  // The stream ended without an exit notification.
  void end_of_stream();

  bool exited() const { return exited_; }
  // 0 after shutdown then exit, 1 otherwise.
  int exit_code() const { return shutdown_ ? 0 : 1; }
  // Runs (synchronous mode) or waits for (threaded mode) all queued work.
  void run_pending() { scheduler_.run_pending(); }
  PositionEncoding encoding() const { return encoding_; }

private:
  using RequestHandler = std::function<void(const json& id, const json& params)>;
  using NotificationHandler = std::function<void(const json& params)>;
  // A request whose work runs on the scheduler; `prepare` validates params on the reading
  // thread (bad params -> InvalidParams) and returns the work.
  using Work = std::function<json(const std::atomic<bool>& cancel)>;
  using Prepare = std::function<Work(const json& params, const json& id)>;

  void bind_request(const std::string& method, std::function<json(const json&)> fn);
  void bind_async(const std::string& method, Prepare prepare);
  void bind_notification(const std::string& method, NotificationHandler fn);

  void handle_request(const json& id, const std::string& method, const json& params);
  void handle_notification(const std::string& method, const json& params);
  void reply(const json& id, json result);
  void reply_error(const json& id, int code, const std::string& message);
  void notify(const std::string& method, json params);
  void request_client(const std::string& method, json params);
  void show_message(int type, const std::string& message);

  // Handlers.
  json on_initialize(const json& params);
  void on_initialized();
  void on_did_open(const json& params);
  void on_did_change(const json& params);
  void on_did_close(const json& params);
  void on_did_save(const json& params);
  void on_did_change_configuration(const json& params);
  void on_did_change_watched_files(const json& params);
  void on_did_change_workspace_folders(const json& params);
  Work on_code_action(const json& params);
  Work on_hover(const json& params);
  Work on_inlay_hint(const json& params);
  // Hover on a model id: the memory estimate table (null when the offset is on none).
  json memory_hover(const Snapshot& snap, const checks::LineIndex& lines, uint32_t offset) const;
  Work on_document_diagnostic(const json& params);
  Work on_workspace_diagnostic(const json& params);

  void apply_init_options(const json& options);
  void schedule_diagnostics(const std::string& uri);
  void recheck_open_documents();
  // Diagnostics of an open document (cached per version and settings generation).
  struct Result {
    int64_t version = 0;
    uint64_t generation = 0;
    std::vector<checks::Diagnostic> diagnostics;
    json lsp;
  };
  std::shared_ptr<const Result> result_for(const Snapshot& snap, const std::atomic<bool>& cancel);
  std::string result_id(uint64_t generation, const Snapshot& snap) const;

  Sender send_;
  std::mutex send_mutex_;
  Logger logger_;
  Scheduler scheduler_;
  DocumentStore store_;
  Workspace workspace_;

  std::map<std::string, RequestHandler> requests_;
  std::map<std::string, NotificationHandler> notifications_;

  bool initialized_ = false;
  bool shutdown_ = false;
  bool exited_ = false;
  PositionEncoding encoding_ = PositionEncoding::Utf16;
  bool document_changes_ = false;
  bool watch_dynamic_ = false;
  bool push_diagnostics_ = true;
  bool diagnostic_refresh_ = false;
  int next_request_id_ = 1;

  std::mutex requests_mutex_;
  std::map<std::string, std::string> request_keys_; // request id (as JSON) -> scheduler key
  uint64_t request_seq_ = 0;

  std::mutex results_mutex_;
  std::map<std::string, std::shared_ptr<const Result>> results_;
};

} // namespace oomlint::lsp
