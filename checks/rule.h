// The rule API. A rule is a stateless object shared by all threads: it names the node kinds it
// wants, the byte tokens a file must contain for it to possibly match, and checks one node at a
// time through a Context. It never walks the tree itself.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "diagnostic.h"
#include "model.h"
#include "settings.h"
#include "ts.h"

namespace oomlint::checks {

struct RuleMeta {
  std::string_view code;    // "OOM203"
  std::string_view slug;    // "empty-cache-in-loop"
  std::string_view section; // "M20" (or "M9/M10")
  Severity severity;
  FixAvailability fix;
  std::string_view summary; // one line, for tables and `oomlint rule --all`
};

class Context;

// Per-file scratch space of one rule (for rules that decide at the end of the file).
struct RuleState {
  virtual ~RuleState() = default;
};

class Rule {
public:
  virtual ~Rule() = default;
  virtual const RuleMeta& meta() const = 0;
  // Grammar node kinds this rule is called for, e.g. {"call"}. "module" is the whole file.
  virtual std::span<const std::string_view> node_kinds() const = 0;
  // The prefilter: byte strings a file must contain for this rule to be able to fire. Every
  // entry must occur; an entry may list alternatives separated by '|' ("eval|train(" occurs when
  // either does). `<` before an alternative means it must start a word, `>` after it that it must
  // end one, with words as outputs::words_of() splits them: at bytes other than ASCII letters and
  // digits (so at `_`), and between a lower-case letter and an upper-case one (`<val>` occurs in
  // `val_loader` and `valLoader`, not in `value` or `interval`; marked alternatives need two bytes
  // besides the marks). A marked alternative also ignores ASCII case, as words_of() lower-cases
  // (`<val>` occurs in `VAL_LOADER` and `ValLoader`). A leading backtick keeps an alternative to
  // code (`` `<backward> `` does not occur in comments or strings; f-strings count as code), a
  // leading `~` to code and one-line strings (not comments or triple-quoted strings, where
  // docstrings are: for words that may sit in a subscript, `loaders["val"]`). Marks combine in that
  // order (`` `<step> ``). `=` before an alternative (after the backtick or `~`, in place of `<`
  // and `>`) asks for a whole identifier, case included: `` `=autocast `` occurs in
  // `torch.autocast(` and `from torch import autocast as ac`, not in `is_autocast_enabled`,
  // `_autocast_to` or `autocast2`. It is for a rule that can only fire through an identifier token
  // (or a keyword such as `False`, which the lexer reads the same way) of that spelling, such as a
  // name it resolves through the imports (an alias still names the original in its import). The
  // bytes around the match must not be ASCII letters, digits or `_`, unless the run of them before
  // it starts as a token that tree-sitter ends early in broken code (a number, `1autocast`; see
  // IdentifierStarts in engine.cpp); a byte >= 0x80 counts as a boundary (it may be white space
  // such as U+200B to the lexer), so in doubt the mark finds the alternative. `=` is a mark only
  // before a letter or `_` (`==0` is read as written), and one byte after it is enough
  // (`` `=t `` for a method `t()`). A file that lacks one is not checked by this rule, and a file
  // that no rule needs is not parsed at all. Empty means "always check". The fixture and corpus
  // tests run with and without the prefilter and require identical diagnostics, so a too-strong
  // entry fails a test rather than silently hiding findings. A rule that reads words out of a
  // node's text reads them through Context::code_text(), so that they come from where its
  // marked entries look (a comment inside a loop's iterable is no word of the loop).
  virtual std::span<const std::string_view> needs() const = 0;
  // The prefilter's other half: byte strings (plain, no marks) any one of which, anywhere in a
  // file, means this rule cannot fire there (it checks the same strings itself, so that a run
  // without the prefilter gives the same result). Empty by default.
  virtual std::span<const std::string_view> excludes() const { return {}; }
  virtual void check(Node node, Context& cx) const = 0;
  // Called once after the traversal; for rules that need the whole file.
  virtual void finish(Context&) const {}
};

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
  Context(std::string_view source, const SemanticModel& model, const Settings& settings)
      : source_(source), model_(model), settings_(settings) {}

  std::string_view source() const { return source_; }
  std::string_view text(Node n) const { return n.text(source_); }
  // A node's text as the marks of Rule::needs() see it: comments and triple-quoted strings
  // (prose), and one-line strings unless `strings`, blanked out with spaces; f-strings are code.
  // A rule that reads a node's text as words or substrings (a loop's iterable, a call's
  // receiver) reads this, with `strings` as the needs() entry for those words is marked (`~`:
  // true, a backtick: false): a word in a comment then neither makes the rule fire nor escapes
  // the prefilter. The bytes stay where they were (spaces in place), so offsets still hold.
  std::string code_text(Node n, bool strings) const;
  const SemanticModel& model() const { return model_; }
  const Settings& settings() const { return settings_; }

  // Ancestors of the node being checked, outermost first (the module is first). Empty in finish().
  std::span<const Node> ancestors() const { return ancestors_; }
  Node parent() const { return ancestors_.empty() ? Node() : ancestors_.back(); }

  // Innermost enclosing function definition, or null.
  Node enclosing_function() const;
  // Innermost loop (for, while, or comprehension) around the node in the same function, or null.
  // A node in the iterable of a `for` is not inside that loop.
  Node enclosing_loop(Node node) const;
  // A loop that runs training or evaluation steps: its own body (not a nested loop's) calls
  // `.backward(...)` or an optimizer's / scaler's `.step(...)`, or it iterates over a data loader
  // (the iterable's code_text(), one-line strings included, names a loader or batches). An epoch
  // loop around a step loop is not one.
  bool is_step_loop(Node loop) const;
  // Does the receiver of a `.step()` name an optimizer or a scaler? Its code_text() with one-line
  // strings holds `opt` or `scaler` (`opt`, `self.optimizer`, `scaler`, `optimizers["adam"]`,
  // `getattr(trainer, "optim")`; a word in a comment does not count): a rule whose report depends
  // on it needs `~opt|~scaler`.
  bool names_optimizer(Node receiver) const;
  // Inside `with torch.no_grad()` / `torch.inference_mode()` / `torch.set_grad_enabled(False)`,
  // or in a function decorated with one of them; or after a `torch.set_grad_enabled(False)`
  // statement in the same block or a block around it in the same function (unless a later one
  // turns autograd back on first), or anywhere in a function of a file that turns autograd off
  // at module level for good.
  bool in_no_grad() const;
  // Inside an `except` clause that catches one of the given qualified exception names.
  bool in_except_handler(std::initializer_list<std::string_view> exceptions) const;
  // Decorators of a function_definition (its decorated_definition parent), as expressions.
  std::vector<Node> decorators(Node function_def) const;

  DiagnosticBuilder report(Node node, std::string message) {
    return report(node.start(), node.end(), std::move(message));
  }
  DiagnosticBuilder report(uint32_t start, uint32_t end, std::string message);

  template <class T> T& state() {
    if (!states_[rule_index_]) states_[rule_index_] = std::make_unique<T>();
    return static_cast<T&>(*states_[rule_index_]);
  }
  // Per-file state that every rule asking for the same type T (a RuleState) shares: for facts
  // that several rules derive from the same nodes, so that they are derived once.
  template <class T> T& shared() {
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
  // The node the rules are about to check (the one below ancestors_).
  void set_node(Node node) { node_ = node; }
  void set_rule_count(size_t n) { states_.resize(n); }
  std::vector<Node>& ancestor_stack() { return ancestors_; }
  std::vector<Diagnostic>& diagnostics() { return diagnostics_; }

private:
  std::string_view source_;
  const SemanticModel& model_;
  const Settings& settings_;
  const Rule* rule_ = nullptr;
  size_t rule_index_ = 0;
  std::vector<Node> ancestors_;
  Node node_;
  std::vector<Diagnostic> diagnostics_;
  std::vector<std::unique_ptr<RuleState>> states_;
  std::vector<std::pair<const void*, std::unique_ptr<RuleState>>> shared_;
  mutable std::unordered_map<uint32_t, bool> step_loops_;
  // Per ancestor depth i: the nearest ancestor at or above i that ends a loop search (a loop,
  // comprehension, function, lambda or class), that may change the grad mode (a `with` or a
  // function), and that is a function; -1 when none. Kept in step with ancestors_ lazily, so
  // the questions above jump between those ancestors instead of walking every one: a deeply
  // nested expression would otherwise cost time quadratic in its depth.
  mutable std::vector<Node> memo_node_;
  mutable std::vector<int32_t> memo_loop_, memo_grad_, memo_function_;
  void sync_memo() const;
  bool in_no_grad_uncached() const;
  // Has a `torch.set_grad_enabled(False)` statement turned autograd off where the node runs?
  // (SemanticModel::grad_switches, grad_off_everywhere.)
  bool grad_switched_off() const;
  // in_no_grad() depends on the ancestors alone, and so on the innermost one: the last answer
  // and the ancestor it was for (several rules ask it of the same node and of siblings).
  // The answer also depends on the bindings (what `torch.no_grad` names), so on their generation.
  mutable Node no_grad_for_;
  mutable uint32_t no_grad_generation_ = 0; // 0: nothing known
  // And on the grad switches written before the node: two statements of one block have the
  // same innermost ancestor, and a `torch.set_grad_enabled(False)` between them changes the
  // answer for the second.
  mutable size_t no_grad_switches_ = 0;
  mutable bool no_grad_ = false;
};

} // namespace oomlint::checks

// Registers a rule type: put it at the end of the rule's .cpp. The build scans checks/rules/*.cpp
// for this macro and generates the registry, so adding a rule needs no other edit.
#define OOMLINT_REGISTER_RULE(Type)                                                                \
  const ::oomlint::checks::Rule& oomlint_rule_##Type() {                                           \
    static const Type instance;                                                                    \
    return instance;                                                                               \
  }
