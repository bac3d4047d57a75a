// Open documents: text, version and (for Python) the tree-sitter tree, kept in step with
// incremental edits (splice the text, ts_tree_edit, reparse with the old tree). Hands out
// immutable snapshots to the analysis threads.
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
#include "ts.h"

namespace oomlint::lsp {

enum class DocumentKind { Python, Notebook, Other };
DocumentKind document_kind(std::string_view uri, std::string_view language_id);

struct Snapshot {
  std::string uri;
  int64_t version = 0;
  DocumentKind kind = DocumentKind::Python;
  std::shared_ptr<const std::string> text;
  std::shared_ptr<const ts::Tree> tree; // Python documents only; may be empty
};

struct ContentChange {
  std::optional<Range> range; // none: the whole text is replaced
  std::string text;
};

// Splices one change into `text` and, when `tree` is given, tells the tree (ts_tree_edit).
// Out-of-range positions are clamped; a reversed range is treated as empty at its start.
void apply_change(std::string& text, ts::Tree* tree, const ContentChange& change,
                  PositionEncoding enc);

class DocumentStore {
public:
  // Python documents up to this size are parsed when opened, and then reparsed incrementally
  // after each edit; a larger one keeps no tree (its snapshots have none) until an edit leaves
  // it this small, so no open or edit parses megabytes on the caller's thread.
  static constexpr size_t kEagerParseBytes = size_t{512} << 10;

  void open(const std::string& uri, const std::string& language_id, int64_t version,
            std::string text);
  // false when the document is not open.
  bool change(const std::string& uri, int64_t version, const std::vector<ContentChange>& changes,
              PositionEncoding enc);
  bool close(const std::string& uri);
  // Closes every document.
  void clear();
  bool is_open(const std::string& uri) const;
  std::shared_ptr<const Snapshot> snapshot(const std::string& uri) const;
  std::vector<std::string> uris() const;
  // Runs `fn` under the store's lock if `uri` is open at `version` (so a close or a newer change
  // cannot slip in between the check and what `fn` does); returns whether it ran.
  bool if_current(const std::string& uri, int64_t version, const std::function<void()>& fn) const;

private:
  struct Document {
    int64_t version = 0;
    DocumentKind kind = DocumentKind::Python;
    std::string text;
    ts::Tree tree;
    mutable std::shared_ptr<const Snapshot> snapshot; // cached until the next change
  };
  mutable std::mutex mutex_;
  std::map<std::string, Document> docs_;
  ts::Parser parser_;
};

} // namespace oomlint::lsp
