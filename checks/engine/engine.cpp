#include "engine/engine.h"

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "engine/context.h"
#include "line_index.h"
#include "registry.h"
#include "suppression.h"
#include "ts_arena.h"

namespace oomlint::checks {

namespace {

struct EngineSymbols {
  std::vector<uint8_t> sema_kinds; // 1 where Semantics::enter wants the node
  std::vector<uint8_t> function_kinds;
  std::vector<uint8_t> comment_kinds;
  // Kinds that may hold a function definition (compound statements, blocks, the module).
  // Nothing else can, so inside any other node every enclosing function is already known.
  std::vector<uint8_t> container_kinds;

  EngineSymbols() {
    const TSLanguage* lang = ts::python();
    uint32_t n = ts_language_symbol_count(lang);
    sema_kinds.assign(n, 0);
    function_kinds.assign(n, 0);
    comment_kinds.assign(n, 0);
    container_kinds.assign(n, 0);
    for (uint32_t s = 0; s < n; ++s) {
      const char* symbol_name = ts_language_symbol_name(lang, static_cast<TSSymbol>(s));
      std::string_view name = symbol_name ? symbol_name : "";
      if (ts_language_symbol_type(lang, static_cast<TSSymbol>(s)) != TSSymbolTypeRegular) continue;
      if (name == "import_statement" || name == "import_from_statement" || name == "assignment" ||
          name == "augmented_assignment" || name == "function_definition" ||
          name == "class_definition" || name == "expression_statement") {
        sema_kinds[s] = 1;
      }
      if (name == "function_definition") function_kinds[s] = 1;
      if (name == "comment") comment_kinds[s] = 1;
      static constexpr std::string_view kContainers[] = {"module",
                                                         "block",
                                                         "class_definition",
                                                         "function_definition",
                                                         "decorated_definition",
                                                         "if_statement",
                                                         "elif_clause",
                                                         "else_clause",
                                                         "for_statement",
                                                         "while_statement",
                                                         "try_statement",
                                                         "except_clause",
                                                         "except_group_clause",
                                                         "finally_clause",
                                                         "with_statement",
                                                         "match_statement",
                                                         "case_clause"};
      for (auto c : kContainers) {
        if (name == c) container_kinds[s] = 1;
      }
    }
  }
};

const EngineSymbols& engine_symbols() {
  static const EngineSymbols symbols;
  return symbols;
}

} // namespace

std::string_view to_string(Severity s) {
  switch (s) {
  case Severity::Error:
    return "error";
  case Severity::Warning:
    return "warning";
  case Severity::Info:
    return "info";
  }
  return "warning";
}

std::string_view to_string(Applicability a) {
  return a == Applicability::Safe ? "safe" : "unsafe";
}

Engine::Engine(Settings settings)
    : Engine(std::move(settings),
             std::vector<const Rule*>(all_rules().begin(), all_rules().end())) {}

Engine::Engine(Settings settings, std::vector<const Rule*> rules) : settings_(std::move(settings)) {
  for (const Rule* r : rules) {
    if (settings_.is_enabled(r->meta().code)) rules_.push_back(r);
  }
  unused_noqa_ = reports_unused_noqa(settings_);
  build_dispatch();
}

void Engine::build_dispatch() {
  std::vector<const Prefilter*> prefilters;
  for (const Rule* r : rules_)
    prefilters.push_back(&r->prefilter());
  prefilter_ = PrefilterIndex(prefilters);
  const TSLanguage* lang = ts::python();
  uint32_t n = ts_language_symbol_count(lang);
  rules_by_symbol_.assign(n, {});
  std::unordered_multimap<std::string_view, uint32_t> symbols; // a name may have several ids
  symbols.reserve(n);
  for (uint32_t s = 0; s < n; ++s) {
    if (ts_language_symbol_type(lang, static_cast<TSSymbol>(s)) != TSSymbolTypeRegular) continue;
    symbols.emplace(ts_language_symbol_name(lang, static_cast<TSSymbol>(s)), s);
  }
  for (size_t i = 0; i < rules_.size(); ++i) {
    for (NodeKind kind : rules_[i]->node_kinds()) {
      auto [first, last] = symbols.equal_range(kind.name());
      if (first == last) {
        throw std::logic_error("rule " + std::string(rules_[i]->meta().code) +
                               " asks for node kind `" + std::string(kind.name()) +
                               "`, which no symbol of the Python grammar has");
      }
      for (auto it = first; it != last; ++it)
        rules_by_symbol_[it->second].push_back(i);
    }
  }
}

Engine::~Engine() = default;

std::vector<char> Engine::active_rules(std::string_view text, const FileContext* file) const {
  if (!file || !file->project || file->path.empty()) return prefilter_.active(text);
  return prefilter_.active(text, [&] { return file->project->imported_facts(file->path, text); });
}

// OOM001 needs a parse wherever a suppression comment may be.
bool Engine::may_hold_suppression(std::string_view text) const {
  if (!unused_noqa_) return false;
  for (std::string_view word : {"noqa", "NOQA", "oomlint:", "OOMLINT:"}) {
    if (text.find(word) != std::string_view::npos) return true;
  }
  return false;
}

bool Engine::may_match(std::string_view text, const FileContext* file) const {
  if (may_hold_suppression(text)) return true;
  auto active = active_rules(text, file);
  return std::find(active.begin(), active.end(), 1) != active.end();
}

std::vector<Diagnostic> Engine::check(std::string_view text, bool no_prefilter,
                                      const FileContext* file) const {
  if (rules_.empty() && !unused_noqa_) return {};
  std::vector<char> active =
      no_prefilter ? std::vector<char>(rules_.size(), 1) : active_rules(text, file);
  if (std::find(active.begin(), active.end(), 1) == active.end() && !may_hold_suppression(text))
    return {};
  // The tree is read once and thrown away: it is parsed into the thread's arena
  // (grammars/ts_arena.h), and dropped with the arena instead of freed block by block.
  ts::Tree tree;
  bool in_arena = false;
  {
    ts::ArenaScope scope;
    in_arena = scope.active();
    ts::Parser parser;
    tree = parser.parse(text);
  }
  if (!tree) return {};
  std::vector<Diagnostic> out = run(text, tree, nullptr, active, file);
  if (in_arena) {
    tree.abandon();
    ts::reset_thread_arena();
  }
  return out;
}

std::vector<Diagnostic> Engine::check(std::string_view text, const ts::Tree& tree,
                                      const std::atomic<bool>* cancel, bool no_prefilter,
                                      const FileContext* file) const {
  return run(text, tree, cancel,
             no_prefilter ? std::vector<char>(rules_.size(), 1) : active_rules(text, file), file);
}

std::vector<Diagnostic> Engine::run(std::string_view text, const ts::Tree& tree,
                                    const std::atomic<bool>* cancel,
                                    const std::vector<char>& active,
                                    const FileContext* file) const {
  const EngineSymbols& sym = engine_symbols();
  Node root = tree.root();
  if (root.null()) return {};
  Semantics sema(text);
  sema.prescan_module(root);
  Context cx(text, sema, settings_, root, file);
  cx.set_rule_count(rules_.size());
  std::vector<Node>& ancestors = cx.ancestor_stack();
  std::vector<Node> functions; // innermost function definitions
  std::vector<Node> comments;

  // The tree's index lists the nodes depth-first in preorder: walking it in order is the
  // traversal. Before a node is visited, the ancestors that do not contain it are closed.
  size_t visited = 0;
  bool cancelled = false;
  for (Node node = root; !node.null();) {
    Node parent = node.parent();
    while (!ancestors.empty() && !(ancestors.back() == parent)) {
      if (!functions.empty() && ancestors.back() == functions.back()) functions.pop_back();
      ancestors.pop_back();
    }
    TSSymbol s = node.symbol();
    // ERROR nodes (symbol 65535) are outside the tables and count as containers. Inside a node
    // that holds no function definition, the semantics knows every function around any byte of it.
    bool container = s >= sym.container_kinds.size() || sym.container_kinds[s];
    sema.advance(container ? static_cast<int64_t>(node.start()) - 1
                           : static_cast<int64_t>(node.end()) - 1);
    if (s < sym.sema_kinds.size()) {
      if (sym.sema_kinds[s]) {
        size_t up = ancestors.size();
        if (up > 0 && ancestors[up - 1].is("decorated_definition")) --up;
        bool class_member =
            up >= 2 && ancestors[up - 1].is("block") && ancestors[up - 2].is("class_definition");
        sema.enter(node, functions.empty() ? Node() : functions.back(), class_member);
      }
      if (sym.comment_kinds[s]) comments.push_back(node);
    }
    if (s < rules_by_symbol_.size()) {
      if (!rules_by_symbol_[s].empty()) cx.set_node(node);
      for (size_t i : rules_by_symbol_[s]) {
        if (!active[i]) continue;
        cx.set_rule(rules_[i], i);
        rules_[i]->check(node, cx);
      }
    }
    if (cancel && (++visited & 1023) == 0 && cancel->load(std::memory_order_relaxed)) {
      cancelled = true;
      break;
    }
    if (node.child_count() > 0) {
      ancestors.push_back(node);
      if (s < sym.function_kinds.size() && sym.function_kinds[s]) functions.push_back(node);
      node = node.first_child();
      continue;
    }
    // The next node in preorder: the next sibling of the node or of its nearest ancestor that
    // has one (the index keeps no "next in preorder" link, but ancestors are at hand).
    Node next = node.next_sibling();
    for (size_t up = ancestors.size(); next.null() && up > 0; --up)
      next = ancestors[up - 1].next_sibling();
    node = next;
  }
  sema.advance(INT64_MAX);

  ancestors.clear();
  if (!cancelled) {
    for (size_t i = 0; i < rules_.size(); ++i) {
      if (!active[i]) continue;
      cx.set_rule(rules_[i], i);
      rules_[i]->finish(cx);
    }
  }

  std::vector<Diagnostic> out = std::move(cx.diagnostics());
  LineIndex lines(text);
  Suppressions sup(text, lines, comments);
  std::erase_if(out, [&](const Diagnostic& d) { return sup.suppressed(d); });
  if (unused_noqa_ && !cancelled) {
    auto unused = sup.unused(text, settings_);
    std::move(unused.begin(), unused.end(), std::back_inserter(out));
  }
  for (auto& d : out) {
    d.start = std::min<uint32_t>(d.start, static_cast<uint32_t>(text.size()));
    d.end = std::clamp<uint32_t>(d.end, d.start, static_cast<uint32_t>(text.size()));
    d.start_pos = {lines.line_of(d.start) + 1, lines.codepoint_column(d.start) + 1};
    d.end_pos = {lines.line_of(d.end) + 1, lines.codepoint_column(d.end) + 1};
  }
  std::sort(out.begin(), out.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.start, a.code, a.end) < std::tie(b.start, b.code, b.end);
  });
  // Two subscriptions of one rule can report the same range twice; keep one.
  out.erase(std::unique(out.begin(), out.end(),
                        [](const Diagnostic& a, const Diagnostic& b) {
                          return a.start == b.start && a.end == b.end && a.code == b.code &&
                                 a.message == b.message;
                        }),
            out.end());
  return out;
}

} // namespace oomlint::checks
