// The protocol layer: a binder from method names to handlers, the lifecycle (initialize,
// shutdown, exit), document sync, diagnostics (push, pull, workspace), code actions, hover and
// settings. Transport-free: messages come in through handle_raw()/handle(), go out through the
// Sender. Analysis runs on the Scheduler; with zero workers, tests drive it with run_pending().
//
// Project-wide analysis: every document is checked with its project (checks::ProjectIndex, one
// per project root, kept in a workspace ProjectRegistry), as `oomlint check` does. Open Python
// documents' text wins over the file on disk; an edit to a module re-checks the open documents
// that import it (directly or not), and so does a change on disk that the client's file watcher
// reports. After `initialized`, a background thread summarises the workspace's modules at low
// priority, with $/progress when the client takes it.
//
// Notebooks (LSP 3.17 notebookDocument/sync): the code cells of a notebook are checked as one
// module in cell order, joined as `oomlint check` joins an .ipynb (cli::CellJoin); diagnostics
// are published per cell text document, and hover, code actions and pull diagnostics answer on
// cell URIs with positions in the cell.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "cli/notebook.h"
#include "line_index.h"
#include "lsp/analysis.h"
#include "lsp/document_store.h"
#include "lsp/logger.h"
#include "lsp/notebook_documents.h"
#include "lsp/protocol.h"
#include "lsp/scheduler.h"
#include "lsp/workspace.h"
#include "model/project.h"

namespace oomlint::lsp {

struct ServerOptions {
  SchedulerOptions scheduler;
  LogLevel stderr_level = LogLevel::Info;
  // Summarise the workspace's modules in the background after `initialized` (the client can turn
  // it off with the initialization option `indexWorkspace: false`).
  bool index_workspace = true;
  // Bounds of that indexing: at most this many files, none larger than this.
  size_t index_max_files = 20000;
  uintmax_t index_max_file_bytes = uintmax_t{1} << 20;
  // Open documents larger than this are not analysed: the client is told once, with
  // window/showMessage, as clangd and Pyright do (the initialization option `maxFileSize`, in
  // bytes, changes it).
  size_t max_document_bytes = 5 * 1000 * 1000; // as `oomlint check --max-file-size`
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
  // Back to the state right after construction, with the same sender and options: queued work
  // dropped, background indexing stopped, every document closed, no workspace folder, every
  // client capability and setting forgotten, request ids counted from 1 again. What it sends
  // after a reset is what a new server would send for the same messages (a fuzzing harness
  // keeps one server instead of building one per input). Call it from the reading thread.
  void reset();
  // Whether `message` may be handled before a message that came earlier and is still being
  // parsed (a large didOpen or didChange): a request about a document that is already open,
  // shutdown, exit, or a cancellation. Reads no document.
  bool may_overtake(const json& message) const;
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
  // Sends a request to the client; returns its id.
  std::string request_client(const std::string& method, json params);
  void on_client_reply(const json& message);
  void show_message(int type, const std::string& message);

  // Handlers.
  json on_initialize(const json& params);
  void on_initialized();
  void on_did_open(const json& params);
  void on_did_change(const json& params);
  void on_did_close(const json& params);
  void on_did_save(const json& params);
  void on_notebook_did_open(const json& params);
  void on_notebook_did_change(const json& params);
  void on_notebook_did_close(const json& params);
  void on_did_change_configuration(const json& params);
  void on_did_change_watched_files(const json& params);
  void on_did_change_workspace_folders(const json& params);
  Work on_code_action(const json& params);
  Work on_hover(const json& params);
  Work on_inlay_hint(const json& params);
  // Hover on a model id: the memory estimate table (null when the offset is on none).
  json memory_hover(const Snapshot& snap, const checks::LineIndex& lines, uint32_t offset) const;
  // Hover on diagnostics: their rules' pages (null when the offset is on none).
  json rule_hover(const std::vector<checks::Diagnostic>& diagnostics,
                  const checks::LineIndex& lines, uint32_t offset, const std::string& uri) const;
  // The same requests on a notebook cell (`cell` is its text document's URI).
  json notebook_code_action(const std::string& notebook, const std::string& cell,
                            const json& diagnostics, const std::vector<std::string>& only,
                            const std::atomic<bool>& cancel);
  json notebook_hover(const std::string& notebook, const std::string& cell, Position position,
                      const std::atomic<bool>& cancel);
  Work on_document_diagnostic(const json& params);
  Work on_workspace_diagnostic(const json& params);

  void apply_init_options(const json& options);
  void schedule_diagnostics(const std::string& uri);
  void schedule_notebook(const std::string& uri);
  void recheck_open_documents();

  // The project of a document, with the registry that owns it (kept alive while in use) and the
  // project epoch read before the analysis starts.
  struct ProjectRef {
    std::shared_ptr<checks::ProjectRegistry> registry;
    checks::FileContext file;
    uint64_t epoch = 0;
    const checks::FileContext* context() const { return file.project ? &file : nullptr; }
  };
  ProjectRef project_for(const std::string& uri);
  std::shared_ptr<checks::ProjectRegistry> registry();
  // An open document's text goes to its project (nullopt: closed, the file on disk wins again).
  void push_text(const std::string& uri, std::optional<std::string> text);
  // Module files changed (their text, or on disk): bump the epoch, then re-check the open
  // documents that depend on them (all of them when `structure`: files appeared or vanished, so
  // imports may resolve elsewhere). `except` is re-checked by its caller.
  void modules_changed(const std::vector<std::filesystem::path>& files, bool structure,
                       const std::string& except = "");
  // A new registry (a root marker appeared or vanished): open documents' text pushed again.
  void reset_projects();

  // Background indexing of the workspace's modules.
  void start_indexing();
  void stop_indexing();
  void index_workspace(const std::atomic<bool>& cancel);
  // Diagnostics of an open document (cached per version and settings generation).
  struct Result {
    int64_t version = 0;
    uint64_t generation = 0;
    std::vector<checks::Diagnostic> diagnostics;
    json lsp;
    uint64_t epoch = 0;                      // project epoch when the analysis started
    std::vector<std::filesystem::path> deps; // the project files the document imports
  };
  // Was nothing the result was computed from changed since (its imports' text, the project)?
  bool fresh(const Result& result);
  std::shared_ptr<const Result> result_for(const Snapshot& snap, const std::atomic<bool>& cancel);
  std::string result_id(const Result& result) const;
  // A notebook's result: the joined code cells and each cell's diagnostics (offsets and LSP
  // ranges in the cell).
  struct CellResult {
    int64_t version = 0; // of the cell's text document
    std::vector<checks::Diagnostic> diagnostics;
    json lsp = json::array();
  };
  struct NotebookResult : Result {
    std::shared_ptr<const NotebookSnapshot> snap;
    cli::CellJoin join;
    std::vector<size_t> joined; // index in snap->cells of each cell of the join
    std::shared_ptr<const ts::Tree> tree;
    std::map<std::string, CellResult> cells; // by cell URI
    // The position in the join of the cell `uri` (nullopt: not a checked cell).
    std::optional<size_t> join_index(const std::string& uri) const;
  };
  std::shared_ptr<const NotebookResult> notebook_result_for(const NotebookSnapshot& snap,
                                                            const std::atomic<bool>& cancel);

  Sender send_;
  std::mutex send_mutex_;
  Logger logger_;
  Scheduler scheduler_;
  DocumentStore store_;
  NotebookStore notebooks_;
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
  bool work_done_progress_ = false;
  bool index_workspace_ = true;
  std::atomic<size_t> max_document_bytes_{0}; // options_.max_document_bytes, or the client's
  int next_request_id_ = 1;

  std::mutex requests_mutex_;
  std::map<std::string, std::string> request_keys_; // request id (as JSON) -> scheduler key
  uint64_t request_seq_ = 0;

  std::mutex results_mutex_;
  std::map<std::string, std::shared_ptr<const Result>> results_;
  std::map<std::string, std::shared_ptr<const NotebookResult>> notebook_results_;
  // What was last published for each open notebook's cells: notebook URI -> cell URI ->
  // (cell version, items).
  std::map<std::string, std::map<std::string, std::pair<int64_t, json>>> notebook_published_;

  ServerOptions options_;
  std::mutex project_mutex_;
  std::shared_ptr<checks::ProjectRegistry> projects_;
  uint64_t project_epoch_ = 1;   // bumped by every change of a module
  uint64_t structure_epoch_ = 0; // results older than this are stale, whatever they import
  std::map<std::filesystem::path, uint64_t> changed_at_; // module -> epoch of its last change

  std::thread indexer_;
  std::atomic<bool> index_cancel_{false};
  std::atomic<bool> index_done_{false};
  std::mutex progress_mutex_;
  std::string progress_request_; // id of our window/workDoneProgress/create request
  bool progress_ready_ = false;  // the client accepted it
};

} // namespace oomlint::lsp
