#include "model/semantics.h"

#include <algorithm>

#include <charconv>

namespace oomlint::checks {

namespace {

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.ends_with(suffix);
}

std::string_view last_part(std::string_view qualified) {
  auto dot = qualified.rfind('.');
  return dot == std::string_view::npos ? qualified : qualified.substr(dot + 1);
}

// `get_loss`, `build_loss`, `create_loss`...: functions that make a loss module, not a loss value.
bool is_factory_name(std::string_view name) {
  for (std::string_view p : {"get_", "build_", "create_", "make_", "init_", "setup_", "load_"}) {
    if (name.starts_with(p)) return true;
  }
  return false;
}

// Names that people give to the loss function object in training scripts.
bool looks_like_loss_fn_name(std::string_view name) {
  return name == "criterion" || name == "loss_fn" || name == "loss_func" ||
         name == "loss_function" || name == "compute_loss" || name == "loss_fct" ||
         name == "lossfn" || (name.ends_with("_loss") && !is_factory_name(name)) ||
         name.ends_with("_criterion");
}

// torch.nn.functional functions that return a loss tensor.
bool is_functional_loss(std::string_view fn) {
  return fn.find("loss") != std::string_view::npos || fn == "cross_entropy" ||
         fn == "binary_cross_entropy" || fn == "binary_cross_entropy_with_logits" || fn == "kl_div";
}

// Methods that take a tensor off the autograd graph or out of the GPU.
bool is_graph_breaking_method(std::string_view m) {
  return m == "item" || m == "detach" || m == "cpu" || m == "tolist" || m == "numpy" ||
         m == "detach_" || m == "backward";
}

// Methods that keep a loss a loss (same graph, new view or reduction).
bool is_graph_keeping_method(std::string_view m) {
  return m == "mean" || m == "sum" || m == "clone" || m == "to" || m == "float" || m == "squeeze" ||
         m == "unsqueeze" || m == "view" || m == "reshape" || m == "cuda" || m == "half" ||
         m == "bfloat16" || m == "double" || m == "abs" || m == "sqrt" || m == "mul" ||
         m == "div" || m == "add";
}

} // namespace

std::optional<std::string> Semantics::resolve(Node expr) const {
  // `a.b.c`: the identifier `a` at the bottom of the attribute chain, resolved through the
  // bindings, then `.b.c` as written.
  Node n = expr;
  while (n.is("attribute"))
    n = n.field("object");
  if (!n.is("identifier")) return std::nullopt;
  auto it = bindings_.find(text(n));
  if (it == bindings_.end()) return std::nullopt;
  std::string out = it->second;
  if (!(n == expr)) {
    // The rest of the chain is the source text after the identifier, minus spaces, comments
    // and line breaks that may sit around the dots; rebuilt from the attribute names.
    std::string_view rest = source_.substr(n.end(), expr.end() - n.end());
    if (rest.find_first_of(" \t\r\n\\#") == std::string_view::npos) {
      out += rest;
    } else {
      std::vector<std::string_view> parts;
      for (Node a = expr; a.is("attribute"); a = a.field("object"))
        parts.push_back(text(a.field("attribute")));
      for (auto p = parts.rbegin(); p != parts.rend(); ++p) {
        out += '.';
        out += *p;
      }
    }
  }
  return out;
}

Semantics::NameMemo& Semantics::memo_for(Node n) const {
  if (memo_root_.null()) {
    memo_root_ = n;
    for (Node p = n.parent(); !p.null(); p = p.parent())
      memo_root_ = p;
  }
  size_t i = n.index_from(memo_root_);
  if (i >= memo_.size()) memo_.resize(std::max<size_t>({1024, i + 1, memo_.size() * 2}));
  return memo_[i];
}

std::optional<std::string_view> Semantics::remember(Node n, std::optional<std::string> q) const {
  NameMemo& e = memo_for(n);
  e.generation = generation_;
  if (!q) {
    e.name = nullptr;
    return std::nullopt;
  }
  names_.push_back(std::move(*q));
  e.name = &names_.back();
  return std::string_view(names_.back());
}

std::optional<std::string_view> Semantics::recalled(const NameMemo& e) const {
  if (!e.name) return std::nullopt;
  return std::string_view(*e.name);
}

std::optional<std::string_view> Semantics::qualified_name(Node expr) const {
  // Only an identifier or an attribute chain can name an import: answer the rest at once.
  if (!expr.is("identifier") && !expr.is("attribute")) return std::nullopt;
  const NameMemo& e = memo_for(expr);
  if (e.generation == generation_) return recalled(e);
  return remember(expr, resolve(expr));
}

std::optional<std::string_view> Semantics::callee_name(Node call) const {
  if (!call.is("call")) return std::nullopt;
  // Remembered under the call itself, which saves finding its callee again.
  const NameMemo& e = memo_for(call);
  if (e.generation == generation_) return recalled(e);
  // The callee's own entry holds the name; the call's points at the same string.
  Node f = callee(call);
  const std::string* name = qualified_name(f) ? memo_for(f).name : nullptr;
  NameMemo& ce = memo_for(call);
  ce.generation = generation_;
  ce.name = name;
  return recalled(ce);
}

bool Semantics::is_call_to(Node call, std::initializer_list<std::string_view> names) const {
  auto q = callee_name(call);
  if (!q) return false;
  for (auto n : names) {
    if (*q == n) return true;
  }
  return false;
}

bool Semantics::imports(std::string_view prefix) const {
  ImportsAnswer* memo = nullptr;
  for (ImportsAnswer& a : imports_memo_) {
    if (a.prefix == prefix) memo = &a;
  }
  if (memo && memo->generation == generation_) return memo->answer;
  bool answer = false;
  for (const auto& [local, qualified] : bindings_) {
    if (qualified == prefix || (qualified.size() > prefix.size() && qualified.starts_with(prefix) &&
                                qualified[prefix.size()] == '.')) {
      answer = true;
      break;
    }
  }
  if (!memo) memo = &imports_memo_.emplace_back(ImportsAnswer{std::string(prefix), 0, false});
  memo->generation = generation_;
  memo->answer = answer;
  return answer;
}

std::optional<std::string> Semantics::local_name_for(std::string_view qualified) const {
  std::optional<std::string> best;
  for (const auto& [local, q] : bindings_) {
    if (q != qualified) continue;
    if (local == last_part(qualified)) return local;
    if (!best || local < *best) best = local;
  }
  return best;
}

Node Semantics::keyword(Node call, std::string_view name) const {
  Node args = arguments(call);
  if (!args.is("argument_list")) return Node();
  // One walk over the siblings: named_child(i) would search from the first one each time.
  for (Node a = args.first_child(); !a.null(); a = a.next_sibling()) {
    if (a.named() && a.is("keyword_argument") && text(a.field("name")) == name) {
      return a.field("value");
    }
  }
  return Node();
}

Node Semantics::positional(Node call, uint32_t index) {
  Node args = arguments(call);
  if (!args.is("argument_list")) return Node();
  uint32_t seen = 0;
  for (Node a = args.first_child(); !a.null(); a = a.next_sibling()) {
    if (!a.named() || a.is("keyword_argument") || a.is("comment")) continue;
    if (a.is("list_splat") || a.is("dictionary_splat")) return Node();
    if (seen++ == index) return a;
  }
  return Node();
}

uint32_t Semantics::argument_count(Node call) {
  Node args = arguments(call);
  uint32_t n = 0;
  if (args.null()) return n;
  for (uint32_t i = 0, c = args.named_child_count(); i < c; ++i)
    n += !args.named_child(i).is("comment");
  return n;
}

std::string_view Semantics::callee_tail(Node call) const {
  if (!call.is("call")) return {};
  NameMemo& e = memo_for(call);
  if (e.tail_start == kTailUnknown) {
    Node f = callee(call), t;
    if (f.is("attribute")) {
      t = f.field("attribute");
    } else if (f.is("identifier")) {
      t = f;
    }
    e.tail_start = t.start();
    e.tail_end = t.end();
  }
  return source_.substr(e.tail_start, e.tail_end - e.tail_start);
}

Node Semantics::receiver(Node call) {
  Node f = callee(call);
  return f.is("attribute") ? f.field("object") : Node();
}

std::optional<std::string_view> Semantics::string_value(Node n) const {
  if (!n.is("string")) return std::nullopt;
  uint32_t begin = 0, end = 0;
  for (uint32_t i = 0, c = n.child_count(); i < c; ++i) {
    Node ch = n.child(i);
    if (ch.is("interpolation")) return std::nullopt;
    if (ch.is("string_start")) begin = ch.end();
    if (ch.is("string_end")) end = ch.start();
  }
  if (begin == 0 || end < begin) return std::nullopt;
  Node start = n.child(0);
  std::string_view prefix = text(start);
  for (char c : prefix) {
    if (c == 'f' || c == 'F' || c == 'b' || c == 'B') return std::nullopt;
  }
  return source_.substr(begin, end - begin);
}

std::optional<bool> Semantics::bool_value(Node n) {
  if (n.is("true")) return true;
  if (n.is("false")) return false;
  return std::nullopt;
}

std::optional<long long> Semantics::int_value(Node n) const {
  if (!n.is("integer")) return std::nullopt;
  std::string digits;
  for (char c : text(n)) {
    if (c != '_') digits += c;
  }
  int base = 10;
  std::string_view v = digits;
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
    base = 16;
    v.remove_prefix(2);
  }
  long long out = 0;
  auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), out, base);
  if (ec != std::errc() || ptr != v.data() + v.size()) return std::nullopt;
  return out;
}

bool Semantics::is_loss_callee(Node f) const {
  if (f.is("call")) {
    // nn.CrossEntropyLoss()(logits, y)
    auto q = callee_name(f);
    return q && q->starts_with("torch.nn.") && ends_with(*q, "Loss");
  }
  if (auto q = qualified_name(f)) {
    if (q->starts_with("torch.nn.functional.")) return is_functional_loss(last_part(*q));
    return false; // some other imported callable: not known to return a loss
  }
  std::string key(text(f));
  if (loss_fn_names_.count(key)) return loss_fn_names_.at(key);
  std::string_view tail = f.is("attribute") ? text(f.field("attribute")) : text(f);
  if (!f.is("attribute") && !f.is("identifier")) return false;
  return looks_like_loss_fn_name(tail);
}

bool Semantics::is_loss_name(std::string_view name) const {
  return is_loss_name_in(current_scope_, name);
}

bool Semantics::is_loss_name_in(uint32_t scope, std::string_view name) const {
  auto it = loss_names_.find(ScopedName{scope, name});
  return it != loss_names_.end() && it->second;
}

uint32_t Semantics::scope_of(Node n) const {
  uint32_t s = n.start(), e = n.end();
  if (static_cast<int64_t>(s) > position_) {
    // Ahead of the traversal: not every function around it is known yet.
    for (Node p = n.parent(); !p.null(); p = p.parent()) {
      if (p.is("function_definition")) return p.start();
    }
    return 0;
  }
  // The last function that starts at or before `n`; the innermost one around `n` is it or one
  // of the functions around it. A node is not its own scope.
  auto it = std::upper_bound(functions_.begin(), functions_.end(), s,
                             [](uint32_t v, const FunctionRange& f) { return v < f.start; });
  int32_t i = static_cast<int32_t>(it - functions_.begin()) - 1;
  while (i >= 0) {
    const FunctionRange& f = functions_[static_cast<size_t>(i)];
    if (f.start <= s && e <= f.end && !(f.start == s && f.end == e)) return f.start;
    i = f.parent;
  }
  return 0;
}

bool Semantics::is_loss_expr(Node e) const {
  // The scope comes from the node itself: a rule may ask about a node when the model's current
  // scope is that of a nested function it has just left.
  return e.null() ? false : loss_expr(e, scope_of(e));
}

bool Semantics::loss_expr(Node root, uint32_t scope) const {
  // Iterative, over the alternatives that may carry the loss: a long chain such as
  // `a + b + c + ...` nests as deep as it is long and would overflow the stack in a recursion.
  std::vector<Node>& todo = loss_todo_;
  todo.assign(1, root);
  while (!todo.empty()) {
    Node e = todo.back();
    todo.pop_back();
    if (e.null()) continue;
    std::string_view kind = e.kind();
    if (kind == "parenthesized_expression") {
      todo.push_back(e.named_child(0));
    } else if (kind == "identifier") {
      if (is_loss_name_in(scope, text(e))) return true;
    } else if (kind == "attribute") {
      // outputs.loss; not self.loss / args.loss, which are attributes of the user's own objects.
      if (text(e.field("attribute")) != "loss") continue;
      Node obj = e.field("object");
      if (obj.is("call")) return true; // model(**batch).loss
      if (!obj.is("identifier")) continue;
      std::string_view o = text(obj);
      if (o != "self" && o != "args" && o != "config" && o != "cfg" && o != "hparams" &&
          o != "opt" && o != "options") {
        return true;
      }
    } else if (kind == "subscript") {
      auto key = string_value(e.field("subscript"));
      if (key && *key == "loss" && !e.field("value").is("subscript")) return true;
    } else if (kind == "unary_operator") {
      todo.push_back(e.field("argument"));
    } else if (kind == "binary_operator") {
      std::string_view op = text(e.field("operator"));
      if (op != "+" && op != "-" && op != "*" && op != "/") continue;
      todo.push_back(e.field("right"));
      todo.push_back(e.field("left"));
    } else if (kind == "call") {
      Node f = callee(e);
      if (f.is("identifier")) {
        std::string_view name = text(f);
        if (name == "float" || name == "int" || name == "round" || name == "str") continue;
      }
      if (f.is("attribute")) {
        std::string_view m = text(f.field("attribute"));
        if (is_graph_breaking_method(m)) continue;
        if (is_loss_callee(f)) return true;
        if (is_graph_keeping_method(m)) todo.push_back(f.field("object"));
        continue;
      }
      if (is_loss_callee(f)) return true;
    }
  }
  return false;
}

void Semantics::bind(std::string_view local, std::string qualified) {
  auto it = bindings_.find(local);
  if (it != bindings_.end()) {
    if (it->second == qualified) return;
    it->second = std::move(qualified);
  } else {
    bindings_.emplace(std::string(local), std::move(qualified));
  }
  ++generation_;
}

void Semantics::unbind(std::string_view local) {
  auto it = bindings_.find(local);
  if (it == bindings_.end()) return;
  bindings_.erase(it);
  ++generation_;
}

void Semantics::bind_import(Node stmt) {
  if (stmt.is("import_statement")) {
    for (uint32_t i = 0, n = stmt.named_child_count(); i < n; ++i) {
      Node c = stmt.named_child(i);
      if (c.is("dotted_name")) {
        // `import torch.nn` binds `torch`
        std::string_view full = text(c);
        std::string_view root = full.substr(0, full.find('.'));
        bind(root, std::string(root));
      } else if (c.is("aliased_import")) {
        bind(text(c.field("alias")), std::string(text(c.field("name"))));
      }
    }
    return;
  }
  if (stmt.is("import_from_statement")) {
    Node module = stmt.field("module_name");
    if (!module.is("dotted_name")) return; // relative imports never name torch & co.
    std::string mod(text(module));
    for (uint32_t i = 0, n = stmt.named_child_count(); i < n; ++i) {
      Node c = stmt.named_child(i);
      if (c == module) continue;
      if (c.is("dotted_name")) {
        bind(text(c), mod + "." + std::string(text(c)));
      } else if (c.is("aliased_import")) {
        bind(text(c.field("alias")), mod + "." + std::string(text(c.field("name"))));
      }
    }
  }
}

bool Semantics::grad_switch(Node stmt, std::optional<bool>* enabled) const {
  if (!stmt.is("expression_statement") || stmt.named_child_count() != 1) return false;
  Node call = stmt.named_child(0);
  if (!call.is("call") || callee_tail(call) != "set_grad_enabled") return false;
  auto q = callee_name(call);
  if (!q || (*q != "torch.set_grad_enabled" && *q != "torch.autograd.set_grad_enabled")) {
    return false;
  }
  Node mode = positional(call, 0);
  if (mode.null()) mode = keyword(call, "mode");
  *enabled = bool_value(mode);
  return true;
}

bool Semantics::reenables_grad(Node root) const {
  std::vector<Node> stack{root};
  while (!stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    if (n.is("identifier") && text(n) == "enable_grad") return true;
    if (n.is("call") && callee_tail(n) == "set_grad_enabled" &&
        bool_value(positional(n, 0)) != false) {
      return true;
    }
    n.append_named_children(stack);
  }
  return false;
}

// Is `block` the body of `if __name__ == "__main__":`?
static bool is_main_guard_body(const Semantics& m, Node block) {
  Node stmt = block.parent();
  if (!stmt.is("if_statement") || !(stmt.field("consequence") == block)) return false;
  Node cond = stmt.field("condition");
  for (uint32_t i = 0, n = cond.is("comparison_operator") ? cond.named_child_count() : 0; i < n;
       ++i) {
    if (m.text(cond.named_child(i)) == "__name__") return true;
  }
  return false;
}

void Semantics::prescan_module(Node module) {
  // Module-level imports, including those inside top-level if/try blocks; and module-level
  // statements that turn autograd off for the whole program.
  bool grad_off = false;
  std::vector<Node> stack{module};
  while (!stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    if (n.null()) continue;
    for (Node s = n.first_child(); !s.null(); s = s.next_sibling()) {
      if (!s.named()) continue;
      std::string_view k = s.kind();
      std::optional<bool> enabled;
      if (k == "import_statement" || k == "import_from_statement") {
        bind_import(s);
      } else if (k == "expression_statement") {
        if ((n == module || is_main_guard_body(*this, n)) && grad_switch(s, &enabled) &&
            enabled == false) {
          grad_off = true;
        }
      } else if (k == "if_statement" || k == "try_statement" || k == "block" ||
                 k == "else_clause" || k == "elif_clause" || k == "except_clause" ||
                 k == "finally_clause") {
        stack.push_back(s);
      }
    }
  }
  grad_off_everywhere_ = grad_off && !reenables_grad(module);
}

void Semantics::record_assignment(Node a, Node function) {
  Node left = a.field("left");
  Node right = a.field("right");
  if (right.null()) return;
  current_scope_ = function.null() ? 0 : function.start();
  if (left.is("identifier")) {
    std::string_view name = text(left);
    bool loss = loss_expr(right, current_scope_);
    if (a.is("augmented_assignment")) loss = loss || is_loss_name(name);
    loss_names_[ScopedName{current_scope_, name}] = loss;
    if (a.is("assignment")) {
      // Rebinding an imported name shadows it; `ec = torch.cuda.empty_cache` aliases it.
      if (right.is("attribute") || right.is("identifier")) {
        if (auto q = qualified_name(right)) {
          bind(name, std::string(*q));
        } else {
          unbind(name);
        }
      } else {
        unbind(name);
      }
    }
  }
  if ((left.is("identifier") || left.is("attribute")) && a.is("assignment")) {
    // criterion = nn.CrossEntropyLoss() / self.loss_fn = F.cross_entropy
    bool loss_fn = false;
    if (right.is("call")) {
      auto q = callee_name(right);
      loss_fn = q && q->starts_with("torch.nn.") && ends_with(*q, "Loss");
    } else if (auto q = qualified_name(right)) {
      loss_fn = q->starts_with("torch.nn.functional.") && is_functional_loss(last_part(*q));
    }
    std::string key(text(left));
    if (loss_fn) {
      loss_fn_names_[key] = true;
    } else if (loss_fn_names_.count(key)) {
      loss_fn_names_[key] = false;
    }
  }
}

void Semantics::enter(Node node, Node function, bool class_member) {
  current_scope_ = function.null() ? 0 : function.start();
  std::string_view k = node.kind();
  if (k == "function_definition") {
    while (!open_functions_.empty() &&
           functions_[static_cast<size_t>(open_functions_.back())].end <= node.start()) {
      open_functions_.pop_back();
    }
    int32_t parent = open_functions_.empty() ? -1 : open_functions_.back();
    functions_.push_back({node.start(), node.end(), parent});
    open_functions_.push_back(static_cast<int32_t>(functions_.size() - 1));
  }
  if (k == "import_statement" || k == "import_from_statement") {
    bind_import(node);
  } else if (k == "assignment" || k == "augmented_assignment") {
    record_assignment(node, function);
  } else if (k == "expression_statement") {
    std::optional<bool> enabled;
    if (grad_switch(node, &enabled)) grad_switches_.push_back({node, enabled});
  } else if ((k == "function_definition" || k == "class_definition") && !class_member) {
    // A definition shadows an imported name of the same spelling (for the rest of the file: the
    // model keeps one scope, and silence is the safe side).
    // A module-level definition shadows an imported name of the same spelling.
    unbind(text(node.field("name")));
  }
}

} // namespace oomlint::checks
