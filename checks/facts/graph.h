// Which autograd graphs a tensor expression may hold: the one definition of "do these two losses
// share a graph?" (OOM204 asks it of a backward with `retain_graph=True` and the backwards after
// it). A graph is named by the call that built it (each model or function call makes its own
// nodes) and, for values this code cannot trace (a parameter, an attribute, a loop variable), by
// the name that holds them. `.detach()`, `.item()` and friends cut the graph.
#pragma once

#include <optional>
#include <set>
#include <string>

#include "engine/context.h"
#include "model/analysis.h"
#include "model/flow.h"

namespace oomlint::checks::facts {

namespace graph_detail {

inline bool cuts_graph(std::string_view tail) {
  return tail == "detach" || tail == "detach_" || tail == "item" || tail == "tolist" ||
         tail == "numpy" || tail == "size" || tail == "dim" || tail == "numel";
}

inline bool is_fresh_tensor(std::string_view q) {
  if (q.starts_with("numpy.")) return true;
  for (std::string_view f :
       {"torch.tensor",      "torch.as_tensor",  "torch.from_numpy", "torch.Tensor",
        "torch.FloatTensor", "torch.LongTensor", "torch.zeros",      "torch.ones",
        "torch.empty",       "torch.full",       "torch.rand",       "torch.randn",
        "torch.randint",     "torch.arange",     "torch.zeros_like", "torch.ones_like",
        "torch.randn_like",  "torch.rand_like",  "torch.empty_like", "torch.full_like"}) {
    if (q == f) return true;
  }
  return false;
}

// Adds what `e` may hold to `out`; false when it cannot tell (the caller then assumes sharing).
inline bool collect(const Context& cx, Node e, std::set<std::string>& out, int depth) {
  if (e.null()) return true;
  if (depth > 24 || out.size() > 256) return false;
  std::string_view k = e.kind();
  if (k == "integer" || k == "float" || k == "string" || k == "true" || k == "false" ||
      k == "none" || k == "comment" || k == "concatenated_string") {
    return true;
  }
  if (k == "call") {
    Node f = Semantics::callee(e);
    std::string_view tail = cx.sema().callee_tail(e);
    if (cuts_graph(tail)) return true;
    if (auto q = cx.sema().callee_name(e)) {
      // New tensors from data (`torch.tensor(rows)`, `np.array(x)`) hold no graph; any other
      // library function (`torch.cat`, `F.mse_loss`) passes on its inputs' graphs.
      if (is_fresh_tensor(*q)) return true;
    } else if (f.is("identifier")) {
      out.insert("@" + std::to_string(e.start())); // `model(x)`, `loss_fn(out, y)`
    } else if (f.is("attribute")) {
      Node obj = f.field("object");
      // `self.net(x)`, `self.critic.q1(x)`: a module of the object builds a new graph;
      // `loss.mean()`, `out.float().to(device)`: a method of a tensor passes on its graph.
      bool owner = (obj.is("identifier") && cx.text(obj) == "self") ||
                   (obj.is("attribute") && cx.text(obj.field("object")) == "self");
      if (owner) {
        out.insert("@" + std::to_string(e.start()));
      } else if (!collect(cx, obj, out, depth + 1)) {
        return false;
      }
    } else {
      return false;
    }
    Node args = Semantics::arguments(e);
    for (uint32_t i = 0, n = args.null() ? 0 : args.named_child_count(); i < n; ++i) {
      Node a = args.named_child(i);
      if (a.is("keyword_argument")) a = a.field("value");
      if (a.is("list_splat") || a.is("dictionary_splat")) return false;
      if (!collect(cx, a, out, depth + 1)) return false;
    }
    return true;
  }
  if (k == "identifier") {
    auto defs = cx.analysis().flow().reaching(cx.text(e), e);
    if (defs.empty()) {
      out.insert("name:" + std::string(cx.text(e)));
      return true;
    }
    for (const Binding* b : defs) {
      if (b->kind == Binding::Kind::Assign && !b->value.null() && b->value.start() < e.start()) {
        if (!collect(cx, b->value, out, depth + 1)) return false;
      } else if (b->kind == Binding::Kind::Param || b->kind == Binding::Kind::For ||
                 b->kind == Binding::Kind::Import || b->kind == Binding::Kind::Def ||
                 b->kind == Binding::Kind::Class) {
        out.insert("name:" + std::string(cx.text(e)));
      } else {
        return false; // `+=`, `with ... as`, a walrus...: not traced
      }
    }
    return true;
  }
  if (k == "attribute") {
    out.insert("name:" + std::string(cx.text(e)));
    return true;
  }
  if (k == "subscript") return collect(cx, e.field("value"), out, depth + 1);
  if (k == "parenthesized_expression" || k == "binary_operator" || k == "unary_operator" ||
      k == "expression_list" || k == "tuple" || k == "list" || k == "conditional_expression" ||
      k == "boolean_operator" || k == "comparison_operator") {
    for (uint32_t i = 0, n = e.named_child_count(); i < n; ++i) {
      if (!collect(cx, e.named_child(i), out, depth + 1)) return false;
    }
    return true;
  }
  return false; // comprehensions, lambdas, dicts...: not traced
}

} // namespace graph_detail

// The graphs `e` may hold (see the header), or nullopt when it cannot tell.
inline std::optional<std::set<std::string>> graph_sources(const Context& cx, Node e) {
  std::set<std::string> out;
  if (!graph_detail::collect(cx, e, out, 0)) return std::nullopt;
  return out;
}

// May `a` and `b` hold a common graph? True unless both are traced and disjoint.
inline bool may_share_graph(const Context& cx, Node a, Node b) {
  auto x = graph_sources(cx, a);
  auto y = graph_sources(cx, b);
  if (!x || !y) return true;
  for (const std::string& s : *x) {
    if (y->count(s)) return true;
  }
  return false;
}

} // namespace oomlint::checks::facts
