#include "lsp/document_store.h"

#include <algorithm>
#include <cstring>

#include "line_index.h"
#include "lsp/convert.h"

namespace oomlint::lsp {

namespace {
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// tree-sitter points count rows by '\n' and columns in bytes.
TSPoint point_at(std::string_view text, uint32_t offset) {
  std::string_view head = text.substr(0, offset);
  uint32_t row = static_cast<uint32_t>(std::count(head.begin(), head.end(), '\n'));
  size_t nl = head.rfind('\n');
  uint32_t column = nl == std::string_view::npos ? offset : offset - static_cast<uint32_t>(nl) - 1;
  return TSPoint{row, column};
}

TSPoint point_after(TSPoint start, std::string_view inserted) {
  uint32_t rows = static_cast<uint32_t>(std::count(inserted.begin(), inserted.end(), '\n'));
  if (rows == 0) return TSPoint{start.row, start.column + static_cast<uint32_t>(inserted.size())};
  size_t nl = inserted.rfind('\n');
  return TSPoint{start.row + rows, static_cast<uint32_t>(inserted.size() - nl - 1)};
}
} // namespace

DocumentKind document_kind(std::string_view uri, std::string_view language_id) {
  if (ends_with(uri, ".ipynb")) return DocumentKind::Notebook;
  if (language_id == "python" || ends_with(uri, ".py") || ends_with(uri, ".pyi")) {
    return DocumentKind::Python;
  }
  return DocumentKind::Other;
}

void apply_change(std::string& text, ts::Tree* tree, const ContentChange& change,
                  PositionEncoding enc) {
  if (!change.range) {
    if (tree && *tree) {
      // A full replacement: tell the tree everything changed so a reparse stays correct.
      TSInputEdit e{};
      e.start_byte = 0;
      e.old_end_byte = static_cast<uint32_t>(text.size());
      e.new_end_byte = static_cast<uint32_t>(change.text.size());
      e.start_point = {0, 0};
      e.old_end_point = point_at(text, e.old_end_byte);
      e.new_end_point = point_at(change.text, e.new_end_byte);
      tree->edit(e);
    }
    text = change.text;
    return;
  }
  checks::LineIndex lines(text);
  uint32_t start = to_offset(lines, change.range->start, enc);
  uint32_t end = to_offset(lines, change.range->end, enc);
  if (end < start) end = start;
  if (tree && *tree) {
    // A CR right before the edit reads as a line break or not depending on the byte after it
    // (see ts::Parser::parse): include it in the edit so the reparse looks at it again.
    uint32_t from = start > 0 && text[start - 1] == '\r' ? start - 1 : start;
    TSInputEdit e{};
    e.start_byte = from;
    e.old_end_byte = end;
    e.new_end_byte = start + static_cast<uint32_t>(change.text.size());
    e.start_point = point_at(text, from);
    e.old_end_point = point_at(text, end);
    e.new_end_point = point_after(point_at(text, start), change.text);
    tree->edit(e);
  }
  text.replace(start, end - start, change.text);
}

void DocumentStore::open(const std::string& uri, const std::string& language_id, int64_t version,
                         std::string text) {
  std::lock_guard lock(mutex_);
  Document doc;
  doc.version = version;
  doc.kind = document_kind(uri, language_id);
  doc.text = std::move(text);
  // A large document is not parsed here, on the thread that reads messages: its analysis parses
  // it on a worker (lsp::analyze without a tree), and so it stays until it is small again.
  if (doc.kind == DocumentKind::Python && doc.text.size() <= kEagerParseBytes) {
    doc.tree = parser_.parse(doc.text);
  }
  docs_[uri] = std::move(doc);
}

bool DocumentStore::change(const std::string& uri, int64_t version,
                           const std::vector<ContentChange>& changes, PositionEncoding enc) {
  std::lock_guard lock(mutex_);
  auto it = docs_.find(uri);
  if (it == docs_.end()) return false;
  Document& doc = it->second;
  bool python = doc.kind == DocumentKind::Python;
  for (const auto& c : changes)
    apply_change(doc.text, python && doc.tree ? &doc.tree : nullptr, c, enc);
  if (python && (doc.tree || doc.text.size() <= kEagerParseBytes)) {
    ts::Tree fresh = parser_.parse(doc.text, doc.tree ? &doc.tree : nullptr);
    doc.tree = std::move(fresh);
  }
  doc.version = version;
  doc.snapshot.reset();
  return true;
}

void DocumentStore::clear() {
  std::lock_guard lock(mutex_);
  docs_.clear();
}

bool DocumentStore::close(const std::string& uri) {
  std::lock_guard lock(mutex_);
  return docs_.erase(uri) > 0;
}

bool DocumentStore::is_open(const std::string& uri) const {
  std::lock_guard lock(mutex_);
  return docs_.count(uri) > 0;
}

std::shared_ptr<const Snapshot> DocumentStore::snapshot(const std::string& uri) const {
  std::lock_guard lock(mutex_);
  auto it = docs_.find(uri);
  if (it == docs_.end()) return nullptr;
  const Document& doc = it->second;
  if (!doc.snapshot) {
    auto s = std::make_shared<Snapshot>();
    s->uri = uri;
    s->version = doc.version;
    s->kind = doc.kind;
    s->text = std::make_shared<const std::string>(doc.text);
    if (doc.tree) s->tree = std::make_shared<const ts::Tree>(doc.tree.clone());
    doc.snapshot = std::move(s);
  }
  return doc.snapshot;
}

std::vector<std::string> DocumentStore::uris() const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  for (const auto& [uri, doc] : docs_)
    out.push_back(uri);
  return out;
}

bool DocumentStore::if_current(const std::string& uri, int64_t version,
                               const std::function<void()>& fn) const {
  std::lock_guard lock(mutex_);
  auto it = docs_.find(uri);
  if (it == docs_.end() || it->second.version != version) return false;
  fn();
  return true;
}

} // namespace oomlint::lsp
