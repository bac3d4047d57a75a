// The source model the rules share: what names resolve to (imports and aliases), which names
// hold a loss tensor, and helpers for calls and their arguments. It is filled during the one
// traversal of the tree (imports at module level are pre-scanned so that functions defined
// above their imports still resolve).
#pragma once

#include <deque>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ts.h"

namespace oomlint::checks {

using ts::Node;

class Semantics {
public:
  explicit Semantics(std::string_view source) : source_(source) {}

  std::string_view text(Node n) const { return n.text(source_); }
  std::string_view source() const { return source_; }

  // Qualified name of an expression made of an imported name and attributes:
  // with `import torch as T`, `T.cuda.empty_cache` -> "torch.cuda.empty_cache"; with
  // `from torch.cuda import empty_cache as ec`, `ec` -> "torch.cuda.empty_cache".
  // Returns nullopt when the root name is not bound by an import (a local variable, a
  // function of the user's own, a parameter...). The view lives as long as the model.
  // Remembered per node until the bindings change: several rules ask it of the same call.
  std::optional<std::string_view> qualified_name(Node expr) const;
  // qualified_name of a call's callee.
  std::optional<std::string_view> callee_name(Node call) const;
  // True when `call` is a call whose callee resolves to one of `names`.
  bool is_call_to(Node call, std::initializer_list<std::string_view> names) const;
  // Changes whenever the bindings do (never 0): an answer that depends on them is stale when
  // it was found under another generation.
  uint32_t generation() const { return generation_; }
  // True when some import binds a module or name under `prefix` ("torch", "transformers").
  bool imports(std::string_view prefix) const;
  // A local name bound to exactly `qualified` (`import torch as T` -> "T" for "torch"), for
  // fixes that must spell a module the way the file does; prefers the plain spelling. nullopt
  // when nothing is bound to it.
  std::optional<std::string> local_name_for(std::string_view qualified) const;

  // Loss dataflow: does this expression evaluate to a loss tensor that still carries its graph?
  // Recognises loss calls (`F.cross_entropy`, `torch.nn.functional.*_loss`, an instance of a
  // torch.nn `*Loss` class, `criterion(...)`, `loss_fn(...)`), `outputs.loss`, `model(x).loss`,
  // `outputs["loss"]`, names bound to any of these, and arithmetic on them. `.item()`,
  // `.detach()`, `.cpu()`, `float()` and friends end it.
  bool is_loss_expr(Node expr) const;
  bool is_loss_name(std::string_view name) const;

  // Call helpers. `call` is a `call` node.
  // A call is `function arguments` and nothing else, so these take its first and last child
  // rather than searching the children by field name. No other node has these fields.
  static Node callee(Node call) { return call.is("call") ? call.child(0) : Node(); }
  static Node arguments(Node call) {
    if (!call.is("call")) return Node();
    uint32_t n = call.child_count();
    return n >= 2 ? call.child(n - 1) : Node();
  }
  // Value of keyword argument `name`, or a null node.
  Node keyword(Node call, std::string_view name) const;
  // The i-th positional argument (0-based), or a null node.
  static Node positional(Node call, uint32_t i);
  // How many arguments, positional or keyword, the call's argument list holds: its named
  // children without comments (`model.eval(  # switch\n)` has none). 0 for a non-call.
  static uint32_t argument_count(Node call);
  // The final attribute name of a callee (`x.y.backward` -> "backward"), or the identifier.
  std::string_view callee_tail(Node call) const;
  // The object a method is called on (`opt.step()` -> `opt`), or a null node.
  static Node receiver(Node call);
  // The unquoted value of a plain string literal (no f-string interpolation), or nullopt.
  std::optional<std::string_view> string_value(Node n) const;
  // Literal True/False, or nullopt.
  static std::optional<bool> bool_value(Node n);
  // Integer literal value, or nullopt.
  std::optional<long long> int_value(Node n) const;

  // Grad mode set by a statement: `torch.set_grad_enabled(False)` written as a statement (not as
  // a `with`) turns autograd off for the code that runs after it, until another one turns it
  // back on. `enabled` is the literal argument, nullopt when it is not a literal. Recorded as the
  // traversal enters them, so a node sees every switch written before it.
  struct GradSwitch {
    Node statement;
    std::optional<bool> enabled;
  };
  const std::vector<GradSwitch>& grad_switches() const { return grad_switches_; }
  // A statement at module level (or under `if __name__ == "__main__":`) turns autograd off and
  // nothing in the file turns it back on (`set_grad_enabled` with anything but False,
  // `enable_grad`): every function of the file runs without autograd. Known after
  // prescan_module.
  bool grad_off_everywhere() const { return grad_off_everywhere_; }

  // ---- driven by the engine during the traversal ----
  void prescan_module(Node module);
  // Called for every node in pre-order before rules see it. `function` is the innermost
  // enclosing function definition (null at module level); `class_member` tells whether the node
  // is a statement of a class body (a method binds no name in the scopes that imports live in).
  void enter(Node node, Node function, bool class_member);
  // Every function definition that starts at or before byte `known_through` has been entered.
  void advance(int64_t known_through) { position_ = known_through; }

private:
  void bind_import(Node stmt);
  void bind(std::string_view local, std::string qualified);
  void unbind(std::string_view local);
  std::optional<std::string> resolve(Node expr) const; // qualified_name without the memo
  void record_assignment(Node assignment, Node function);
  // The literal mode of a `torch.set_grad_enabled(...)` statement: true when `stmt` is one (then
  // `*enabled` is its literal argument, nullopt if none).
  bool grad_switch(Node stmt, std::optional<bool>* enabled) const;
  // Does anything in the tree turn autograd back on? (Names are read as written: on this side a
  // false "yes" only keeps reports.)
  bool reenables_grad(Node root) const;
  bool is_loss_callee(Node callee) const;
  bool is_loss_name_in(uint32_t scope, std::string_view name) const;
  bool loss_expr(Node e, uint32_t scope) const;
  // Start byte of the innermost function definition around `n` (0 at module level).
  uint32_t scope_of(Node n) const;

  std::string_view source_;
  // Looked up by string_view without building a std::string (C++20 heterogeneous lookup).
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, std::string, NameHash, std::equal_to<>> bindings_;
  // Bumped whenever bindings_ changes; a remembered name from an older generation is stale.
  uint32_t generation_ = 1;
  // imports()'s answers for the current generation (rules ask it of most calls).
  struct ImportsAnswer {
    std::string prefix;
    uint32_t generation;
    bool answer;
  };
  mutable std::vector<ImportsAnswer> imports_memo_;
  // qualified_name's memo, one entry per node of the tree, indexed by the node's place in the
  // tree's index (Node::index_from): every node a model is asked about is of one tree, whose
  // root is found from the first one. `generation` 0 means "not known"; `name` points into
  // names_, null for "not an imported name". names_ is a deque so that its strings stay put.
  // A call's entry also keeps its callee_tail (which does not depend on the bindings).
  struct NameMemo {
    uint32_t generation = 0;
    uint32_t tail_start = kTailUnknown, tail_end = 0;
    const std::string* name = nullptr;
  };
  static constexpr uint32_t kTailUnknown = UINT32_MAX;
  NameMemo& memo_for(Node n) const; // the entry of `n` (invalidates others when it grows)
  std::optional<std::string_view> remember(Node n, std::optional<std::string> q) const;
  std::optional<std::string_view> recalled(const NameMemo& e) const;
  mutable Node memo_root_;
  mutable std::vector<NameMemo> memo_;
  mutable std::deque<std::string> names_;
  // Names assigned a loss tensor, keyed by the start byte of the enclosing function (0 at module
  // level) and the name (a view of the source).
  struct ScopedName {
    uint32_t scope;
    std::string_view name;
    bool operator==(const ScopedName&) const = default;
  };
  struct ScopedNameHash {
    size_t operator()(const ScopedName& k) const {
      return std::hash<std::string_view>{}(k.name) ^ (size_t{k.scope} * 0x9E3779B97F4A7C15ull);
    }
  };
  std::unordered_map<ScopedName, bool, ScopedNameHash> loss_names_;
  std::unordered_map<std::string, bool> loss_fn_names_; // names bound to a loss module/function
  mutable std::vector<Node> loss_todo_; // loss_expr's work list (it does not recurse into itself)
  uint32_t current_scope_ = 0;
  // Every function definition entered so far, in source order, with the index of the one
  // around it (-1 at module level): scope_of walks up from the last one that starts before a
  // node instead of asking tree-sitter for parents (each of which is a walk down from the root).
  struct FunctionRange {
    uint32_t start, end;
    int32_t parent;
  };
  std::vector<FunctionRange> functions_;
  std::vector<int32_t> open_functions_;
  int64_t position_ = -1; // nothing known until the engine says so
  std::vector<GradSwitch> grad_switches_;
  bool grad_off_everywhere_ = false;
};

} // namespace oomlint::checks
