// What a rule sees while it checks a node: the source, the semantic model of the file, the
// settings, the node's ancestors and a few structural questions about them, and report(). The
// domain questions (is this a step loop? does autograd run here? is this a model call?) live in
// checks/facts/, which answers them from this context and the semantic model.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "diagnostic.h"
#include "engine/prefilter.h"
#include "engine/rule.h"
#include "model/analysis.h"
#include "model/semantics.h"
#include "settings.h"
#include "ts.h"

namespace oomlint::checks {

// Adds the fix to a reported diagnostic.
class DiagnosticBuilder {
public:
  explicit DiagnosticBuilder(Diagnostic* d) : d_(d) {}
  DiagnosticBuilder& fix(std::string title, Applicability a, std::vector<Edit> edits) {
    if (d_) d_->fix = Fix{std::move(title), a, std::move(edits)};
    return *this;
  }
  // Overrides the rule's default severity for this diagnostic (one rule, two consequences).
  DiagnosticBuilder& severity(Severity s) {
    if (d_) d_->severity = s;
    return *this;
  }

private:
  Diagnostic* d_;
};

class Context {
public:
  Context(std::string_view source, const Semantics& sema, const Settings& settings,
          Node root = Node(), const FileContext* file = nullptr)
      : source_(source), sema_(sema), settings_(settings), root_(root), file_(file) {}
  ~Context();

  std::string_view source() const { return source_; }
  std::string_view text(Node n) const { return n.text(source_); }
  // A node's text as the prefilter sees it: comments and triple-quoted strings (prose), and
  // one-line strings unless `strings`, blanked out with spaces (offsets still hold). A rule that
  // reads words out of a node's text reads them here, with `strings` as its prefilter term for
  // those words is placed (code_or_string(): true, code(): false), so that a word in a comment
  // neither makes the rule fire nor escapes the prefilter.
  std::string code_text(Node n, bool strings) const {
    return blank_outside(text(n), strings ? Where::String : Where::Code);
  }
  // What names resolve to, bindings, loss dataflow (model/semantics.h).
  const Semantics& sema() const { return sema_; }
  const Settings& settings() const { return settings_; }
  // The deep analysis of the file (model/analysis.h): flow, constants, what names refer to across
  // the project, function summaries. Built on the first question.
  const Analysis& analysis() const;

  // The node being checked, and its ancestors outermost first (the module is first). Both empty
  // in finish().
  Node node() const { return node_; }
  std::span<const Node> ancestors() const { return ancestors_; }
  Node parent() const { return ancestors_.empty() ? Node() : ancestors_.back(); }

  // Innermost enclosing function definition, or null.
  Node enclosing_function() const;
  // Innermost loop (for, while, or comprehension) around `node` (the node being checked or one
  // of its descendants) in the same function, or null. A node in the iterable of a `for` is not
  // inside that loop.
  Node enclosing_loop(Node node) const;
  // Every such loop, innermost first.
  std::vector<Node> enclosing_loops(Node node) const;
  // Calls f(scope, below) for each enclosing `with` statement and function definition,
  // innermost first, where `below` is the ancestor just under `scope` (for a `with`, its block
  // when the node is in its body; null when `scope` is the innermost ancestor); stops and returns
  // true when f does.
  template <class F> bool any_with_or_function(F&& f) const;
  // Inside an `except` clause that catches one of the given qualified exception names.
  bool in_except_handler(std::initializer_list<std::string_view> exceptions) const;
  // Decorators of a function_definition (its decorated_definition parent), as expressions.
  std::vector<Node> decorators(Node function_def) const;

  DiagnosticBuilder report(Node node, std::string message) {
    return report(node.start(), node.end(), std::move(message));
  }
  DiagnosticBuilder report(uint32_t start, uint32_t end, std::string message);

  // The rule's own per-file state.
  template <class T> T& state() {
    if (!states_[rule_index_]) states_[rule_index_] = std::make_unique<T>();
    return static_cast<T&>(*states_[rule_index_]);
  }
  // Per-file state that every rule (and fact) asking for the same type T shares: for facts that
  // several rules derive from the same nodes, so that they are derived once.
  template <class T> T& shared() const {
    static const char key = 0; // one per T
    for (auto& [k, s] : shared_) {
      if (k == &key) return static_cast<T&>(*s);
    }
    shared_.emplace_back(&key, std::make_unique<T>());
    return static_cast<T&>(*shared_.back().second);
  }

  // ---- used by the engine ----
  void set_rule(const Rule* rule, size_t index) {
    rule_ = rule;
    rule_index_ = index;
  }
  void set_node(Node node) { node_ = node; }
  void set_rule_count(size_t n) { states_.resize(n); }
  std::vector<Node>& ancestor_stack() { return ancestors_; }
  std::vector<Diagnostic>& diagnostics() { return diagnostics_; }

private:
  std::string_view source_;
  const Semantics& sema_;
  const Settings& settings_;
  Node root_;
  const FileContext* file_;
  mutable std::unique_ptr<Analysis> analysis_;
  const Rule* rule_ = nullptr;
  size_t rule_index_ = 0;
  std::vector<Node> ancestors_;
  Node node_;
  std::vector<Diagnostic> diagnostics_;
  std::vector<std::unique_ptr<RuleState>> states_;
  mutable std::vector<std::pair<const void*, std::unique_ptr<RuleState>>> shared_;
  // Per ancestor depth i: the nearest ancestor at or above i that ends a loop search (a loop,
  // comprehension, function, lambda or class), that may change the grad mode (a `with` or a
  // function), and that is a function; -1 when none. Kept in step with ancestors_ lazily, so
  // the questions above jump between those ancestors instead of walking every one: a deeply
  // nested expression would otherwise cost time quadratic in its depth.
  mutable std::vector<Node> memo_node_;
  mutable std::vector<int32_t> memo_loop_, memo_grad_, memo_function_;
  void sync_memo() const;
  // The index of the innermost loop at or above ancestor i that `node` is inside, or -1.
  int32_t loop_at_or_above(int32_t i, Node node) const;
};

template <class F> bool Context::any_with_or_function(F&& f) const {
  sync_memo();
  for (int32_t g = ancestors_.empty() ? -1 : memo_grad_.back(); g >= 0;
       g = g > 0 ? memo_grad_[static_cast<size_t>(g) - 1] : -1) {
    size_t at = static_cast<size_t>(g);
    Node below = at + 1 < ancestors_.size() ? ancestors_[at + 1] : Node();
    if (f(ancestors_[at], below)) return true;
  }
  return false;
}

} // namespace oomlint::checks
