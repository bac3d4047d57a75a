// Notebook documents synchronised with LSP 3.17 `notebookDocument/*`: each open notebook's cells
// in order (kind and cell text document URI) and the text of every cell text document, kept in
// step with didOpen, didChange (cell structure, cell data, incremental cell text edits) and
// didClose. Each notification is applied whole or not at all: a malformed one (a missing field,
// an unknown cell, a structure change out of range) throws RpcError and leaves the notebook as it
// was. Hands out immutable snapshots to the analysis threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "lsp/protocol.h"

namespace oomlint::lsp {

struct NotebookCellSnapshot {
  std::string uri;                         // the cell text document's URI
  bool code = true;                        // NotebookCellKind 2 (code); 1 is markup
  std::string language;                    // its text document's languageId
  int64_t version = 0;                     // its text document's version
  std::shared_ptr<const std::string> text; // null when its text document is not open
  // Analysed with the notebook's other code cells: a code cell in Python with its text.
  bool analysed() const { return code && text && (language.empty() || language == "python"); }
};

struct NotebookSnapshot {
  std::string uri;
  std::string type; // notebookType, e.g. "jupyter-notebook"
  int64_t version = 0;
  std::vector<NotebookCellSnapshot> cells; // in notebook order
};

class NotebookStore {
public:
  // notebookDocument/didOpen params. Opening an open notebook again replaces it.
  void open(const json& params);
  // notebookDocument/didChange params; false when the notebook is not open. The URIs of the
  // cell text documents it closed go to `closed`.
  bool change(const json& params, PositionEncoding enc, std::vector<std::string>& closed);
  // The URIs of the cells that were open (empty when the notebook was not).
  std::vector<std::string> close(const std::string& uri);
  // Forgets every notebook (LanguageServer::reset()).
  void clear();

  bool is_open(const std::string& uri) const;
  std::shared_ptr<const NotebookSnapshot> snapshot(const std::string& uri) const;
  // The notebook that a cell text document belongs to.
  std::optional<std::string> notebook_of(const std::string& cell_uri) const;
  std::vector<std::string> uris() const;
  // Runs `fn` under the store's lock if the notebook is open at `version`; returns whether it
  // ran.
  bool if_current(const std::string& uri, int64_t version, const std::function<void()>& fn) const;

private:
  struct CellText {
    std::string language;
    int64_t version = 0;
    std::shared_ptr<const std::string> text;
  };
  struct Cell {
    bool code = true;
    std::string uri;
  };
  struct Notebook {
    std::string type;
    int64_t version = 0;
    std::vector<Cell> cells;
    std::map<std::string, CellText> texts; // cell URI -> its text document
    mutable std::shared_ptr<const NotebookSnapshot> snapshot;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Notebook> notebooks_;
  std::map<std::string, std::string> cell_owner_; // cell URI -> notebook URI
};

} // namespace oomlint::lsp
