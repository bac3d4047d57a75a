// The protocol-free core: text (and optionally an already parsed tree) in, diagnostics with fixes
// out. One depth-first traversal dispatches each node to the rules subscribed to its kind.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostic.h"
#include "engine/prefilter.h"
#include "engine/rule.h"
#include "model/analysis.h"
#include "settings.h"
#include "ts.h"

namespace oomlint::checks {

class Engine {
public:
  explicit Engine(Settings settings);
  // An engine over a given rule set (tests); `settings` still selects among them.
  Engine(Settings settings, std::vector<const Rule*> rules);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const Settings& settings() const { return settings_; }
  // Enabled rules, sorted by code.
  const std::vector<const Rule*>& rules() const { return rules_; }

  // Prefilter: false when no enabled rule can match `text` (no need to parse it). With the
  // file's project, the facts that the project modules it imports may carry count too.
  bool may_match(std::string_view text, const FileContext* file = nullptr) const;
  // Prefilter per rule: active[i] tells whether rules()[i] can match `text` (its prefilter
  // holds).
  std::vector<char> active_rules(std::string_view text, const FileContext* file = nullptr) const;

  // Checks `text` (parses it; skips files that cannot match unless `no_prefilter`). `file` gives
  // its path and project, for what its imports of the project's own modules do.
  std::vector<Diagnostic> check(std::string_view text, bool no_prefilter = false,
                                const FileContext* file = nullptr) const;
  // Checks `text` with its tree (the LSP path, where the tree is kept and reparsed incrementally).
  // `cancel` is polled between nodes; a cancelled check returns what it has so far. Only the
  // rules whose prefilter holds run, unless `no_prefilter`.
  std::vector<Diagnostic> check(std::string_view text, const ts::Tree& tree,
                                const std::atomic<bool>* cancel = nullptr,
                                bool no_prefilter = false, const FileContext* file = nullptr) const;

private:
  Settings settings_;
  std::vector<const Rule*> rules_;
  // rules_by_symbol_[symbol] = indices into rules_
  std::vector<std::vector<size_t>> rules_by_symbol_;
  PrefilterIndex prefilter_; // the rules' prefilters, in the order of rules_
  bool unused_noqa_ = false; // OOM001 on (suppression.h)
  bool may_hold_suppression(std::string_view text) const;
  void build_dispatch();
  std::vector<Diagnostic> run(std::string_view text, const ts::Tree& tree,
                              const std::atomic<bool>* cancel, const std::vector<char>& active,
                              const FileContext* file) const;
};

} // namespace oomlint::checks
