// OOM201 loss-accumulated-with-graph (M20): a loss tensor summed or appended across training or
// evaluation steps with its autograd graph (`total += loss`, `losses.append(loss)`).
//
// The rule collects candidates during the traversal and decides in finish(), once it knows how
// the accumulator is used in the rest of its function: a sum that is later backpropagated is
// deliberate (gradient accumulation by hand), and one that is used as a tensor afterwards gets a
// `.detach()` fix instead of `.item()`.
#include <algorithm>
#include <array>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "kit.h"

namespace oomlint::checks {
namespace {

// Methods of a Python list (or dict): calling them says nothing about holding a tensor.
bool is_container_method(std::string_view m) {
  return m == "append" || m == "extend" || m == "clear" || m == "pop" || m == "insert" ||
         m == "copy" || m == "index" || m == "count" || m == "remove" || m == "reverse" ||
         m == "sort" || m == "items" || m == "keys" || m == "values" || m == "get" ||
         m == "update" || m == "setdefault";
}

// Names are views of the source, which outlives the rule's state. A set of them that is built
// once and asked about once is a plain vector (duplicates do no harm); one that is asked about
// again and again is a hash set.
using Names = std::vector<std::string_view>;
using NameSet = std::unordered_set<std::string_view>;

// The name a value is known by: an identifier, or `self.x` for an attribute of self.
std::string_view name_of(const Context& cx, Node n) {
  if (n.is("identifier")) return cx.text(n);
  if (n.is("attribute") && n.field("object").is("identifier") &&
      cx.text(n.field("object")) == "self") {
    return cx.text(n);
  }
  return {};
}

// Names used in a subtree: identifiers (not attribute names) and `self.x` chains. Bounded by the
// subtree; nested functions and lambdas are skipped. `add(name)` is called for each.
template <class Add> void for_each_name(const Context& cx, Node root, Add&& add) {
  thread_local std::vector<Node> stack; // not reentrant: `add` never collects names itself
  stack.assign(1, root);
  while (!stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    if (n.is("lambda") || n.is("function_definition")) continue;
    if (n.is("identifier")) {
      add(cx.text(n));
      continue;
    }
    if (n.is("attribute")) {
      std::string_view self_name = name_of(cx, n);
      if (!self_name.empty()) add(self_name);
      stack.push_back(n.field("object")); // not the attribute name
      continue;
    }
    n.append_named_children(stack);
  }
}

void collect_names(const Context& cx, Node root, Names& out) {
  for_each_name(cx, root, [&](std::string_view name) { out.push_back(name); });
}

void collect_names(const Context& cx, Node root, NameSet& out) {
  for_each_name(cx, root, [&](std::string_view name) { out.insert(name); });
}

bool contains(const Names& names, std::string_view name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Does `names` hold one of `wanted`?
bool contains_name(const Names& names, const Names& wanted) {
  for (std::string_view w : wanted) {
    if (contains(names, w)) return true;
  }
  return false;
}

bool contains_name(const NameSet& names, const NameSet& wanted) {
  for (std::string_view w : wanted) {
    if (names.count(w)) return true;
  }
  return false;
}

bool contains_name(std::span<const std::string_view> names, const NameSet& wanted) {
  for (std::string_view n : names) {
    if (wanted.count(n)) return true;
  }
  return false;
}

struct Assign {
  uint32_t pos;
  bool resets; // a fresh value, not `x = x + ...`
};

// `left` is computed from the names dep_names[begin, end) of its scope.
struct Dep {
  std::string_view left;
  uint32_t begin, end;
};

struct ScopeInfo {
  std::string_view function_name;
  bool has_backward = false;
  bool has_step = false;
  std::unordered_map<std::string_view, std::vector<Assign>> assigns;
  std::vector<Dep> deps; // left <- right
  Names dep_names;
  NameSet backward_names; // names in a backward / autograd.grad call
  NameSet returned;
  NameSet tensor_used; // used as a tensor later on
};

struct Candidate {
  uint32_t start, end;
  uint32_t scope;
  std::string_view accumulator; // name of the total / list / `self.x`
  std::string statement;        // short text for the message
  Node loss;                    // the accumulated loss expression
  bool self_attribute;          // Lightning-style `self.x` accumulator: always `.detach()`
  bool helper = false;          // kept by a helper (`record(history, loss)`): no fix, the
                                // helper may use it as a tensor
};

struct State : RuleState {
  std::unordered_map<uint32_t, ScopeInfo> scopes;
  NameSet called_in_no_grad;
  std::vector<Candidate> candidates;
  Names targets, used; // on_assignment's scratch space
};

uint32_t scope_key(const Context& cx) {
  Node f = cx.enclosing_function();
  return f.null() ? 0 : f.start();
}

ScopeInfo& scope_info(Context& cx, State& st) {
  uint32_t key = scope_key(cx);
  auto [it, fresh] = st.scopes.try_emplace(key);
  if (fresh) {
    Node f = cx.enclosing_function();
    if (!f.null()) it->second.function_name = cx.text(f.field("name"));
  }
  return it->second;
}

// Identifiers on the left of an assignment (`a`, `a, b`, `(a, b)`, `self.x`).
void left_names(const Context& cx, Node left, Names& out) {
  std::string_view n = name_of(cx, left);
  if (!n.empty()) {
    out.push_back(n);
    return;
  }
  if (left.is("pattern_list") || left.is("tuple_pattern") || left.is("list_pattern")) {
    for (uint32_t i = 0, c = left.named_child_count(); i < c; ++i) {
      left_names(cx, left.named_child(i), out);
    }
  }
}

// Does the value hold a loss tensor with its graph: a loss (the deep analysis follows names,
// tuples unpacked from the user's loss functions, `outputs.loss`, arithmetic) or a dict, list or
// tuple written out with one inside (`outputs.append({"loss": loss, ...})`)?
bool carries_loss_graph(const Context& cx, Node value) {
  const Analysis& a = cx.analysis();
  auto holds = [&](Node e) {
    uint8_t t = a.tensor(e);
    return (t & Analysis::kLoss) && (t & Analysis::kGraph);
  };
  if (holds(value)) return true;
  if (value.is("dictionary")) {
    for (Node p = value.first_child(); !p.null(); p = p.next_sibling()) {
      if (p.is("pair") && holds(p.field("value"))) return true;
    }
  }
  if (value.is("tuple") || value.is("list")) {
    for (Node e = value.first_child(); !e.null(); e = e.next_sibling()) {
      if (e.named() && holds(e)) return true;
    }
  }
  return false;
}

// Is `name` (a list or a total) assigned afresh or cleared anywhere inside the loop?
bool reset_in_loop(const Context& cx, Node loop, std::string_view name) {
  bool found = false;
  visit_subtree(loop.field("body"), [&](Node n) {
    if (found) return false;
    if (n.is("assignment")) {
      Node left = n.field("left");
      Node right = n.field("right");
      if (left.is("identifier") && cx.text(left) == name && !right.null()) {
        // `total = total + loss` keeps accumulating; anything else starts over.
        bool reads_itself = false;
        visit_subtree(right, [&](Node r) {
          if (r.is("identifier") && cx.text(r) == name) reads_itself = true;
          return !reads_itself;
        });
        found = !reads_itself;
      }
    } else if (n.is("call") && cx.sema().callee_tail(n) == "clear" &&
               cx.text(Semantics::receiver(n)) == name) {
      found = true;
    } else if (n.is("delete_statement")) {
      for (Node c = n.first_child(); !c.null(); c = c.next_sibling()) {
        if (c.named() && cx.text(c).starts_with(name)) found = true;
      }
    }
    return !found;
  });
  return found;
}

// Edits that take the accumulated expression off the graph: `loss` -> `loss.item()`,
// `loss * n` -> `(loss * n).item()`.
std::optional<Edit> off_graph_edit(const Context& cx, Node e, std::string_view method) {
  std::string call = "." + std::string(method) + "()";
  if (e.is("identifier") || e.is("attribute") || e.is("call") || e.is("subscript") ||
      e.is("parenthesized_expression")) {
    return Edit{e.end(), e.end(), call};
  }
  if (e.is("binary_operator") || e.is("unary_operator")) {
    return Edit{e.start(), e.end(), "(" + std::string(cx.text(e)) + ")" + call};
  }
  return std::nullopt;
}

class LossAccumulatedWithGraph final : public RuleBase<LossAccumulatedWithGraph> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM201",
      .slug = "loss-accumulated-with-graph",
      .section = "M20",
      .severity = Severity::Warning,
      .fix = FixAvailability::Sometimes,
      .summary = "A loss tensor accumulated across steps together with its autograd graph",
  };
  static constexpr NodeKind kKinds[] = {"assignment", "augmented_assignment", "call",
                                        "return_statement"};
  // A loss (every loss the model recognises is spelled with one of these: `nn.MSELoss`,
  // `F.kl_div`, `criterion`, `outputs.loss`; in code, or the string key of `outputs["loss"]`,
  // whose text between the quotes Semantics::string_value reads as exactly `loss`), where it
  // accumulates (a step loop, or Lightning's `training_step`), and how (`+=`, `x = x + ...` or
  // `.append(...)`, in code, or a project helper that keeps what it is given).
  static Prefilter needs() {
    return requires_all(code("loss") | code("Loss") | code("criterion") | code("cross_entropy") |
                            code("kl_div") | code_or_string("\"loss\"") | code_or_string("'loss'") |
                            imported_fact(FunctionFacts::ReturnsLoss),
                        facts::step_loop_terms() | code_identifier("training_step"),
                        code("+") | code("append") | imported_fact(FunctionFacts::Accumulates));
  }

  void check(Node node, Context& cx) const override {
    auto& st = cx.state<State>();
    if (node.is("return_statement")) {
      collect_names(cx, node, scope_info(cx, st).returned);
      return;
    }
    if (node.is("call")) {
      on_call(node, cx, st);
      return;
    }
    on_assignment(node, cx, st);
  }

  void finish(Context& cx) const override {
    auto& st = cx.state<State>();
    for (const auto& c : st.candidates) {
      ScopeInfo& sc = st.scopes[c.scope];
      // Everything computed from the accumulator in this function.
      NameSet derived{c.accumulator};
      for (bool grew = true; grew;) {
        grew = false;
        for (const Dep& d : sc.deps) {
          std::span<const std::string_view> right(sc.dep_names.data() + d.begin, d.end - d.begin);
          if (!derived.count(d.left) && contains_name(right, derived)) {
            derived.insert(d.left);
            grew = true;
          }
        }
      }
      // Summed on purpose to be backpropagated (`sum(losses).backward()`).
      if (contains_name(sc.backward_names, derived)) continue;
      bool trains = sc.has_backward || sc.has_step;
      std::string_view fn = sc.function_name;
      bool evaluates = fn.find("eval") != std::string_view::npos ||
                       fn.find("valid") != std::string_view::npos ||
                       fn.find("test") != std::string_view::npos;
      // A helper that builds one loss from several parts and hands it back to its caller.
      if (!trains && !evaluates && contains_name(sc.returned, derived)) continue;
      // An evaluation function that its caller runs under torch.no_grad().
      if (!trains && !fn.empty() && st.called_in_no_grad.count(fn)) continue;

      bool as_tensor = c.self_attribute || contains_name(sc.tensor_used, derived);
      std::string_view method = as_tensor ? "detach" : "item";
      std::string msg = "`" + c.statement + "` keeps the autograd graph of every step alive, " +
                        "so memory grows step after step: accumulate `." + std::string(method) +
                        "()` of the loss instead (M20)";
      auto d = cx.report(c.start, c.end, std::move(msg));
      if (c.helper) continue;
      if (auto e = off_graph_edit(cx, c.loss, method)) {
        d.fix("Accumulate `." + std::string(method) + "()` of the loss", Applicability::Safe, {*e});
      }
    }
  }

private:
  void on_call(Node call, Context& cx, State& st) const {
    ScopeInfo& sc = scope_info(cx, st);
    const Semantics& m = cx.sema();
    std::string_view tail = m.callee_tail(call);
    Node f = Semantics::callee(call);
    auto q = m.callee_name(call);
    if (facts::in_no_grad(cx) && (f.is("identifier") || f.is("attribute"))) {
      st.called_in_no_grad.insert(tail);
    }
    if (tail == "backward" ||
        (q && (*q == "torch.autograd.backward" || *q == "torch.autograd.grad"))) {
      if (tail == "backward") sc.has_backward = true;
      collect_names(cx, call, sc.backward_names);
    }
    if (tail == "step" && f.is("attribute")) sc.has_step = true;
    // Used as a tensor: a tensor method on it, or passed to a torch function.
    if (f.is("attribute") && !is_container_method(tail)) {
      std::string_view obj = name_of(cx, f.field("object"));
      if (!obj.empty()) sc.tensor_used.insert(obj);
    }
    if (q && q->starts_with("torch.")) {
      collect_names(cx, Semantics::arguments(call), sc.tensor_used);
    }
    // record(history, loss): a helper of the file or the project that keeps the loss it is
    // given in the container it is given (or in its object's state).
    if (auto hf = cx.analysis().call_facts(call); hf && hf->has(FunctionFacts::Accumulates)) {
      Node value = Semantics::positional(call, hf->accum_value);
      Node target = hf->accum_into >= 0 ? Semantics::positional(call, hf->accum_into)
                    : f.is("attribute") ? f.field("object")
                                        : Node();
      if (!value.null() && !target.null()) consider(cx, st, sc, call, target, value);
      return;
    }
    // losses.append(loss)
    if (tail != "append" || !f.is("attribute")) return;
    Node target = f.field("object");
    Node value = Semantics::positional(call, 0);
    if (value.null() || !Semantics::positional(call, 1).null()) return;
    consider(cx, st, sc, call, target, value);
  }

  void on_assignment(Node a, Context& cx, State& st) const {
    ScopeInfo& sc = scope_info(cx, st);
    Node left = a.field("left");
    Node right = a.field("right");
    if (right.null()) return;
    Names& names = st.targets;
    names.clear();
    left_names(cx, left, names);
    Names& used = st.used;
    used.clear();
    collect_names(cx, right, used);
    if (!names.empty()) {
      // The targets share one copy of the names on the right.
      auto begin = static_cast<uint32_t>(sc.dep_names.size());
      sc.dep_names.insert(sc.dep_names.end(), used.begin(), used.end());
      auto end = static_cast<uint32_t>(sc.dep_names.size());
      for (std::string_view n : names)
        sc.deps.push_back(Dep{n, begin, end});
    }
    for (std::string_view n : names) {
      if (a.is("assignment")) sc.assigns[n].push_back(Assign{a.start(), !contains(used, n)});
    }
    if (a.is("augmented_assignment")) {
      std::string_view op = cx.text(a.field("operator"));
      if (op == "+=") consider(cx, st, sc, a, left, right);
      return;
    }
    // total = total + loss / total = loss + total
    if (!right.is("binary_operator") || cx.text(right.field("operator")) != "+") return;
    std::string_view target = name_of(cx, left);
    if (target.empty()) return;
    Node l = right.field("left");
    Node r = right.field("right");
    if (name_of(cx, l) == target) {
      consider(cx, st, sc, a, left, r);
    } else if (name_of(cx, r) == target) {
      consider(cx, st, sc, a, left, l);
    }
  }

  // `stmt` accumulates `value` into `target`; record it as a candidate when `value` is a loss
  // with its graph, computed on each step of a loop that the accumulator outlives.
  void consider(Context& cx, State& st, ScopeInfo& sc, Node stmt, Node target, Node value) const {
    const Semantics& m = cx.sema();
    if (!carries_loss_graph(cx, value) || facts::runs_without_grad(cx, stmt)) return;
    std::string_view acc = name_of(cx, target);
    if (acc.empty() && target.is("subscript")) acc = name_of(cx, target.field("value"));
    if (acc.empty()) return;
    Names value_names;
    collect_names(cx, value, value_names);
    if (contains(value_names, acc)) return; // `loss += loss_aux * loss`: one expression
    bool self_attribute = acc.starts_with("self.");
    Node loop = cx.enclosing_loop(stmt);
    if (loop.null()) {
      // Lightning's training_step runs once per step: a `self.x` accumulator outlives it.
      if (!self_attribute || sc.function_name != "training_step" ||
          !(m.imports("lightning") || m.imports("pytorch_lightning"))) {
        return;
      }
    } else {
      if (!(loop.is("for_statement") || loop.is("while_statement")) ||
          !facts::is_step_loop(cx, loop)) {
        return;
      }
      // The loss is computed on each pass of this loop.
      Names in_loop;
      if (loop.is("for_statement")) collect_names(cx, loop.field("left"), in_loop);
      for (std::string_view n : value_names) {
        auto it = sc.assigns.find(n);
        if (it == sc.assigns.end()) continue;
        for (const auto& as : it->second) {
          if (as.pos >= loop.start() && as.pos < stmt.start()) in_loop.push_back(n);
        }
      }
      if (!contains_name(in_loop, value_names)) return;
      // The accumulator is created before the loop and not reset inside it before this point:
      // `loss = ce; loss += aux` builds one step's loss and is not an accumulation.
      bool before = self_attribute;
      auto it = sc.assigns.find(acc);
      if (it != sc.assigns.end()) {
        for (const auto& as : it->second) {
          if (as.pos < loop.start()) before = true;
          if (as.resets && as.pos >= loop.start() && as.pos < stmt.start()) return;
        }
      }
      if (!before) return;
      // Cleared or made anew inside the loop (every few steps, for a backward of the window):
      // it holds a window of steps, not the whole loop.
      if (reset_in_loop(cx, loop, acc)) return;
    }
    std::string statement(cx.text(stmt));
    if (statement.size() > 60 || statement.find('\n') != std::string::npos) {
      statement = std::string(acc) + (stmt.is("call") ? ".append(...)" : " += ...");
    }
    bool helper = stmt.is("call") && m.callee_tail(stmt) != "append";
    st.candidates.push_back(Candidate{stmt.start(), stmt.end(), scope_key(cx), acc, statement,
                                      value, self_attribute, helper});
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(LossAccumulatedWithGraph)
