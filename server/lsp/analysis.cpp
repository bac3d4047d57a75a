#include "lsp/analysis.h"

#include "deepspeed_json.h"
#include "lsp/notebook.h"

namespace oomlint::lsp {

namespace {
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Analysis run(std::string_view uri, DocumentKind kind, std::string_view text, const ts::Tree* tree,
             const checks::Engine& engine, const std::atomic<bool>* cancel,
             const checks::FileContext* file) {
  Analysis out;
  auto was_cancelled = [&] { return cancel && cancel->load(); };
  switch (kind) {
  case DocumentKind::Python: {
    if (tree && *tree) {
      ts::Tree own = tree->clone(); // a tree is used by one thread at a time
      out.diagnostics = engine.check(text, own, cancel, false, file);
    } else {
      ts::Parser parser;
      ts::Tree fresh = parser.parse(text);
      if (fresh) out.diagnostics = engine.check(text, fresh, cancel, false, file);
    }
    break;
  }
  case DocumentKind::Notebook: {
    auto nb = extract_notebook(text, out.error);
    if (!nb) break;
    ts::Parser parser;
    ts::Tree fresh = parser.parse(nb->join.source());
    if (!fresh) break;
    for (auto& d : engine.check(nb->join.source(), fresh, cancel, false, file)) {
      out.diagnostics.push_back(map_to_json(*nb, std::move(d)));
    }
    break;
  }
  case DocumentKind::Other:
    if (ends_with(uri, ".json") && checks::is_deepspeed_json(text)) {
      out.diagnostics = checks::check_deepspeed_json(text, engine.settings());
    }
    break;
  }
  out.cancelled = was_cancelled();
  return out;
}
} // namespace

Analysis analyze(const Snapshot& snapshot, const checks::Engine& engine,
                 const std::atomic<bool>* cancel, const checks::FileContext* file) {
  return run(snapshot.uri, snapshot.kind, *snapshot.text, snapshot.tree.get(), engine, cancel,
             file);
}

Analysis analyze_text(std::string_view uri, std::string_view text, const checks::Engine& engine,
                      const std::atomic<bool>* cancel, const checks::FileContext* file) {
  return run(uri, document_kind(uri, ""), text, nullptr, engine, cancel, file);
}

} // namespace oomlint::lsp
