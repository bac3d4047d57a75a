#include "lsp/notebook_documents.h"

#include "lsp/document_store.h"

namespace oomlint::lsp {

namespace {

// A NotebookCell: {kind, document, ...}.
std::pair<bool, std::string> parse_cell(const json& c) {
  require_object(c, "notebook cell");
  int64_t kind = get_int(c, "kind");
  if (kind != 1 && kind != 2) {
    throw RpcError(error_code::kInvalidParams, "a notebook cell's `kind` must be 1 or 2");
  }
  return {kind == 2, get_string(c, "document")};
}

const json& array_member(const json& obj, std::string_view key) {
  const json& v = member(obj, key);
  if (!v.is_array()) {
    throw RpcError(error_code::kInvalidParams, "`" + std::string(key) + "` must be a list");
  }
  return v;
}

} // namespace

void NotebookStore::open(const json& params) {
  require_object(params, "params");
  const json& doc = require_object(member(params, "notebookDocument"), "notebookDocument");
  std::string uri = get_string(doc, "uri");
  Notebook nb;
  nb.type = opt_string(doc, "notebookType").value_or("");
  nb.version = get_int(doc, "version");
  for (const json& c : array_member(doc, "cells")) {
    auto [code, cell_uri] = parse_cell(c);
    nb.cells.push_back(Cell{code, std::move(cell_uri)});
  }
  if (const json* items = find_member(params, "cellTextDocuments")) {
    if (!items->is_array())
      throw RpcError(error_code::kInvalidParams, "`cellTextDocuments` must be a list");
    for (const json& item : *items) {
      require_object(item, "cell text document");
      CellText t;
      t.language = opt_string(item, "languageId").value_or("");
      t.version = get_int(item, "version");
      t.text = std::make_shared<const std::string>(get_string(item, "text"));
      nb.texts[get_string(item, "uri")] = std::move(t);
    }
  }
  std::lock_guard lock(mutex_);
  if (auto old = notebooks_.find(uri); old != notebooks_.end()) {
    for (const auto& [cell, _] : old->second.texts)
      cell_owner_.erase(cell);
  }
  for (const auto& [cell, _] : nb.texts)
    cell_owner_[cell] = uri;
  notebooks_[uri] = std::move(nb);
}

bool NotebookStore::change(const json& params, PositionEncoding enc,
                           std::vector<std::string>& closed) {
  require_object(params, "params");
  const json& doc = require_object(member(params, "notebookDocument"), "notebookDocument");
  std::string uri = get_string(doc, "uri");
  int64_t version = get_int(doc, "version");
  const json& change = require_object(member(params, "change"), "change");

  std::lock_guard lock(mutex_);
  auto it = notebooks_.find(uri);
  if (it == notebooks_.end()) return false;
  // Applied to a copy (cell texts are shared until edited), kept only when all of it applies.
  Notebook nb = it->second;
  nb.snapshot.reset();
  nb.version = version;
  std::vector<std::string> opened, gone;
  if (const json* cells = find_member(change, "cells")) {
    require_object(*cells, "change.cells");
    // In the order the reference implementation (vscode-languageserver) applies them:
    // structure, then data, then text.
    if (const json* structure = find_member(*cells, "structure")) {
      require_object(*structure, "change.cells.structure");
      const json& array = require_object(member(*structure, "array"), "structure.array");
      int64_t start = get_int(array, "start");
      int64_t count = get_int(array, "deleteCount");
      auto size = static_cast<int64_t>(nb.cells.size());
      if (start < 0 || count < 0 || start > size || count > size - start) {
        throw RpcError(error_code::kInvalidParams, "cell structure change out of range (start " +
                                                       std::to_string(start) + ", deleteCount " +
                                                       std::to_string(count) + ", " +
                                                       std::to_string(size) + " cells)");
      }
      std::vector<Cell> added;
      if (const json* add = find_member(array, "cells")) {
        if (!add->is_array())
          throw RpcError(error_code::kInvalidParams, "`array.cells` must be a list");
        for (const json& c : *add) {
          auto [code, cell_uri] = parse_cell(c);
          added.push_back(Cell{code, std::move(cell_uri)});
        }
      }
      nb.cells.erase(nb.cells.begin() + start, nb.cells.begin() + start + count);
      nb.cells.insert(nb.cells.begin() + start, added.begin(), added.end());
      if (const json* open = find_member(*structure, "didOpen")) {
        if (!open->is_array())
          throw RpcError(error_code::kInvalidParams, "`structure.didOpen` must be a list");
        for (const json& item : *open) {
          require_object(item, "cell text document");
          CellText t;
          t.language = opt_string(item, "languageId").value_or("");
          t.version = get_int(item, "version");
          t.text = std::make_shared<const std::string>(get_string(item, "text"));
          std::string cell_uri = get_string(item, "uri");
          auto owner = cell_owner_.find(cell_uri);
          if (owner != cell_owner_.end() && owner->second != uri) {
            throw RpcError(error_code::kInvalidParams,
                           "cell " + cell_uri + " is already open in " + owner->second);
          }
          nb.texts[cell_uri] = std::move(t);
          opened.push_back(std::move(cell_uri));
        }
      }
      if (const json* close = find_member(*structure, "didClose")) {
        if (!close->is_array())
          throw RpcError(error_code::kInvalidParams, "`structure.didClose` must be a list");
        for (const json& item : *close) {
          require_object(item, "cell text document");
          std::string cell_uri = get_string(item, "uri");
          if (nb.texts.erase(cell_uri) == 0) {
            throw RpcError(error_code::kInvalidParams, "didClose of an unknown cell " + cell_uri);
          }
          gone.push_back(std::move(cell_uri));
        }
      }
    }
    if (const json* data = find_member(*cells, "data")) {
      if (!data->is_array())
        throw RpcError(error_code::kInvalidParams, "`change.cells.data` must be a list");
      for (const json& c : *data) {
        auto [code, cell_uri] = parse_cell(c);
        bool found = false;
        for (Cell& cell : nb.cells) {
          if (cell.uri == cell_uri) {
            cell.code = code;
            found = true;
          }
        }
        if (!found)
          throw RpcError(error_code::kInvalidParams, "data for an unknown cell " + cell_uri);
      }
    }
    if (const json* text = find_member(*cells, "textContent")) {
      if (!text->is_array())
        throw RpcError(error_code::kInvalidParams, "`change.cells.textContent` must be a list");
      for (const json& t : *text) {
        require_object(t, "textContent item");
        const json& id = require_object(member(t, "document"), "document");
        std::string cell_uri = get_string(id, "uri");
        auto cell = nb.texts.find(cell_uri);
        if (cell == nb.texts.end()) {
          throw RpcError(error_code::kInvalidParams, "text change for an unknown cell " + cell_uri);
        }
        std::string body = *cell->second.text;
        for (const json& c : array_member(t, "changes")) {
          require_object(c, "content change");
          ContentChange cc;
          cc.text = get_string(c, "text");
          if (const json* r = find_member(c, "range")) cc.range = parse_range(*r);
          apply_change(body, nullptr, cc, enc);
        }
        cell->second.text = std::make_shared<const std::string>(std::move(body));
        cell->second.version = get_int(id, "version");
      }
    }
  }
  for (const auto& cell : gone)
    cell_owner_.erase(cell);
  for (const auto& cell : opened)
    cell_owner_[cell] = uri;
  it->second = std::move(nb);
  closed.insert(closed.end(), gone.begin(), gone.end());
  return true;
}

void NotebookStore::clear() {
  std::lock_guard lock(mutex_);
  notebooks_.clear();
  cell_owner_.clear();
}

std::vector<std::string> NotebookStore::close(const std::string& uri) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> cells;
  auto it = notebooks_.find(uri);
  if (it == notebooks_.end()) return cells;
  for (const auto& [cell, _] : it->second.texts) {
    cell_owner_.erase(cell);
    cells.push_back(cell);
  }
  notebooks_.erase(it);
  return cells;
}

bool NotebookStore::is_open(const std::string& uri) const {
  std::lock_guard lock(mutex_);
  return notebooks_.count(uri) > 0;
}

std::shared_ptr<const NotebookSnapshot> NotebookStore::snapshot(const std::string& uri) const {
  std::lock_guard lock(mutex_);
  auto it = notebooks_.find(uri);
  if (it == notebooks_.end()) return nullptr;
  const Notebook& nb = it->second;
  if (!nb.snapshot) {
    auto snap = std::make_shared<NotebookSnapshot>();
    snap->uri = uri;
    snap->type = nb.type;
    snap->version = nb.version;
    for (const Cell& c : nb.cells) {
      NotebookCellSnapshot cell;
      cell.uri = c.uri;
      cell.code = c.code;
      if (auto t = nb.texts.find(c.uri); t != nb.texts.end()) {
        cell.language = t->second.language;
        cell.version = t->second.version;
        cell.text = t->second.text;
      }
      snap->cells.push_back(std::move(cell));
    }
    nb.snapshot = std::move(snap);
  }
  return nb.snapshot;
}

std::optional<std::string> NotebookStore::notebook_of(const std::string& cell_uri) const {
  std::lock_guard lock(mutex_);
  auto it = cell_owner_.find(cell_uri);
  if (it == cell_owner_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> NotebookStore::uris() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [uri, _] : notebooks_)
    out.push_back(uri);
  return out;
}

bool NotebookStore::if_current(const std::string& uri, int64_t version,
                               const std::function<void()>& fn) const {
  std::lock_guard lock(mutex_);
  auto it = notebooks_.find(uri);
  if (it == notebooks_.end() || it->second.version != version) return false;
  fn();
  return true;
}

} // namespace oomlint::lsp
