#include "engine/context.h"

#include <string_view>

namespace oomlint::checks {

namespace {

// What an ancestor of a kind is to Context::sync_memo(): a function, a node that ends a search
// for the enclosing loop, a node that may change the grad mode.
constexpr uint8_t kAncestorFunction = 1, kAncestorLoopStop = 2, kAncestorGrad = 4;

uint8_t ancestor_kind(std::string_view k) {
  bool function = k == "function_definition";
  bool loop_stop = function || k == "lambda" || k == "class_definition" || k == "for_statement" ||
                   k == "while_statement" || k == "list_comprehension" ||
                   k == "set_comprehension" || k == "dictionary_comprehension" ||
                   k == "generator_expression";
  bool grad = function || k == "with_statement";
  return static_cast<uint8_t>((function ? kAncestorFunction : 0) |
                              (loop_stop ? kAncestorLoopStop : 0) | (grad ? kAncestorGrad : 0));
}

// ancestor_kind() of every symbol, by name as Node::kind() would answer, whatever the symbol's
// type (computed once).
const std::vector<uint8_t>& ancestor_kinds() {
  static const std::vector<uint8_t> kinds = [] {
    const TSLanguage* lang = ts::python();
    uint32_t n = ts_language_symbol_count(lang);
    std::vector<uint8_t> out(n, 0);
    for (uint32_t s = 0; s < n; ++s) {
      const char* name = ts_language_symbol_name(lang, static_cast<TSSymbol>(s));
      out[s] = ancestor_kind(name ? name : "");
    }
    return out;
  }();
  return kinds;
}

} // namespace

Context::~Context() = default;

const Analysis& Context::analysis() const {
  if (!analysis_) {
    Node root = root_;
    if (root.null() && !ancestors_.empty()) root = ancestors_.front();
    analysis_ = std::make_unique<Analysis>(source_, root, sema_, file_ ? *file_ : FileContext{});
  }
  return *analysis_;
}

DiagnosticBuilder Context::report(uint32_t start, uint32_t end, std::string message) {
  if (!rule_) return DiagnosticBuilder(nullptr);
  const RuleMeta& m = rule_->meta();
  Diagnostic d;
  d.code = std::string(m.code);
  d.slug = std::string(m.slug);
  d.section = std::string(m.section);
  d.severity = m.severity;
  d.message = std::move(message);
  d.start = start;
  d.end = end;
  diagnostics_.push_back(std::move(d));
  return DiagnosticBuilder(&diagnostics_.back());
}

void Context::sync_memo() const {
  size_t n = ancestors_.size();
  // The same innermost ancestor means the same path from the root: nothing to do.
  if (memo_node_.size() == n && (n == 0 || memo_node_[n - 1] == ancestors_[n - 1])) return;
  // The memo holds a root path of the same tree; where it meets the current path at depth k,
  // it agrees on every depth above k too.
  size_t valid = std::min(memo_node_.size(), n);
  while (valid > 0 && !(memo_node_[valid - 1] == ancestors_[valid - 1]))
    --valid;
  memo_node_.resize(n);
  memo_loop_.resize(n);
  memo_grad_.resize(n);
  memo_function_.resize(n);
  const std::vector<uint8_t>& kinds = ancestor_kinds();
  for (size_t i = valid; i < n; ++i) {
    Node a = ancestors_[i];
    memo_node_[i] = a;
    int32_t up = static_cast<int32_t>(i) - 1;
    TSSymbol s = a.symbol();
    // Symbols outside the table (ERROR) are looked up by name.
    uint8_t kind = s < kinds.size() ? kinds[s] : ancestor_kind(a.kind());
    bool function = kind & kAncestorFunction;
    bool loop_stop = kind & kAncestorLoopStop;
    bool grad = kind & kAncestorGrad;
    int32_t self = static_cast<int32_t>(i);
    memo_loop_[i] = loop_stop ? self : (up >= 0 ? memo_loop_[static_cast<size_t>(up)] : -1);
    memo_grad_[i] = grad ? self : (up >= 0 ? memo_grad_[static_cast<size_t>(up)] : -1);
    memo_function_[i] = function ? self : (up >= 0 ? memo_function_[static_cast<size_t>(up)] : -1);
  }
}

Node Context::enclosing_function() const {
  sync_memo();
  if (ancestors_.empty()) return Node();
  int32_t i = memo_function_.back();
  return i < 0 ? Node() : ancestors_[static_cast<size_t>(i)];
}

int32_t Context::loop_at_or_above(int32_t i, Node node) const {
  while (i >= 0) {
    size_t at = static_cast<size_t>(i);
    Node a = ancestors_[at];
    std::string_view k = a.kind();
    if (k == "function_definition" || k == "lambda" || k == "class_definition") return -1;
    if (k == "for_statement") {
      // The iterable is evaluated once, before the loop.
      Node child = at + 1 < ancestors_.size() ? ancestors_[at + 1] : node;
      if (a.field("right") == child) {
        i = at > 0 ? memo_loop_[at - 1] : -1;
        continue;
      }
    }
    return i;
  }
  return -1;
}

Node Context::enclosing_loop(Node node) const {
  sync_memo();
  if (ancestors_.empty()) return Node();
  int32_t i = loop_at_or_above(memo_loop_.back(), node);
  return i < 0 ? Node() : ancestors_[static_cast<size_t>(i)];
}

std::vector<Node> Context::enclosing_loops(Node node) const {
  std::vector<Node> out;
  sync_memo();
  if (ancestors_.empty()) return out;
  for (int32_t i = loop_at_or_above(memo_loop_.back(), node); i >= 0;) {
    out.push_back(ancestors_[static_cast<size_t>(i)]);
    i = i > 0 ? loop_at_or_above(memo_loop_[static_cast<size_t>(i) - 1], node) : -1;
  }
  return out;
}

std::vector<Node> Context::decorators(Node function_def) const {
  std::vector<Node> out;
  // The decorated_definition is the function's parent; look for it among the enclosing
  // functions first (a jump per function, not a step per ancestor).
  Node parent;
  sync_memo();
  for (int32_t f = ancestors_.empty() ? -1 : memo_function_.back(); f >= 0;
       f = f > 0 ? memo_function_[static_cast<size_t>(f) - 1] : -1) {
    size_t at = static_cast<size_t>(f);
    if (ancestors_[at] == function_def) {
      if (at > 0) parent = ancestors_[at - 1];
      break;
    }
  }
  if (parent.null()) parent = function_def.parent();
  if (!parent.is("decorated_definition")) return out;
  for (uint32_t i = 0, n = parent.named_child_count(); i < n; ++i) {
    Node d = parent.named_child(i);
    if (d.is("decorator") && d.named_child_count() > 0) out.push_back(d.named_child(0));
  }
  return out;
}

bool Context::in_except_handler(std::initializer_list<std::string_view> exceptions) const {
  for (auto it = ancestors_.rbegin(); it != ancestors_.rend(); ++it) {
    if (it->is("function_definition")) return false;
    if (!it->is("except_clause")) continue;
    for (uint32_t i = 0, n = it->named_child_count(); i < n; ++i) {
      Node c = it->named_child(i);
      if (c.is("block")) break;
      std::vector<Node> candidates;
      if (c.is("as_pattern")) c = c.named_child(0);
      if (c.is("tuple") || c.is("parenthesized_expression")) {
        for (uint32_t j = 0, m = c.named_child_count(); j < m; ++j)
          candidates.push_back(c.named_child(j));
      } else {
        candidates.push_back(c);
      }
      for (Node e : candidates) {
        auto q = sema_.qualified_name(e);
        if (!q) continue;
        for (auto want : exceptions) {
          if (*q == want) return true;
        }
      }
    }
  }
  return false;
}

} // namespace oomlint::checks
