// OOM112 manual-attention (M11): attention written out by hand, softmax(q @ k^T / sqrt(d)),
// instead of torch.nn.functional.scaled_dot_product_attention.
#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

constexpr int kMaxDepth = 4;

// Words in a file that show its author uses (or offers) a fused attention kernel: the hand-written
// path is then a deliberate fallback or reference, not an oversight. They are also the rule's
// exclusions: the prefilter does not parse such a file for this rule.
constexpr std::array<std::string_view, 6> kFusedMarkers{
    "scaled_dot_product_attention", "flash_attn",     "xformers",
    "memory_efficient_attention",   "flex_attention", "output_attentions"};

Node unparen(Node n) {
  while (n.is("parenthesized_expression") && n.named_child_count() == 1)
    n = n.named_child(0);
  return n;
}

std::optional<long long> signed_int(const Context& cx, Node n) {
  n = unparen(n);
  if (n.is("unary_operator") && cx.text(n.field("operator")) == "-") {
    auto v = cx.sema().int_value(n.field("argument"));
    if (v) return -*v;
    return std::nullopt;
  }
  return cx.sema().int_value(n);
}

bool has_letter(std::string_view s, char lower) {
  for (char c : s) {
    if (std::tolower(static_cast<unsigned char>(c)) == lower) return true;
  }
  return false;
}

class Analyzer {
public:
  Analyzer(const Context& cx, Node scope) : cx_(cx), m_(cx.sema()), scope_(scope) {}

  // Is `e` a matrix of attention scores: q @ k^T, possibly scaled, masked, biased or cast?
  bool is_scores(Node e, int depth) const {
    e = unparen(e);
    if (depth > kMaxDepth || e.null()) return false;
    if (e.is("binary_operator")) {
      std::string_view op = cx_.text(e.field("operator"));
      Node l = e.field("left"), r = e.field("right");
      if (op == "@") return is_key_transposed(r, l, depth);
      if (op == "/" || op == "*" || op == "+" || op == "-") {
        return is_scores(l, depth + 1) || is_scores(r, depth + 1);
      }
      return false;
    }
    if (e.is("identifier")) {
      for (Node rhs : assigned_values(e)) {
        if (is_scores(rhs, depth + 1)) return true;
      }
      return false;
    }
    if (!e.is("call")) return false;
    if (auto q = m_.callee_name(e)) {
      if (*q == "torch.matmul" || *q == "torch.bmm") {
        return is_key_transposed(Semantics::positional(e, 1), Semantics::positional(e, 0), depth);
      }
      if (*q == "torch.baddbmm") {
        return is_key_transposed(Semantics::positional(e, 2), Semantics::positional(e, 1), depth);
      }
      if (*q == "torch.einsum") return is_qk_einsum(e, /*equation_first=*/true);
      if (*q == "einops.einsum") return is_qk_einsum(e, /*equation_first=*/false);
      if (*q == "torch.where") {
        return is_scores(Semantics::positional(e, 1), depth + 1) ||
               is_scores(Semantics::positional(e, 2), depth + 1);
      }
      return false;
    }
    Node f = Semantics::callee(e);
    if (!f.is("attribute")) return false;
    std::string_view method = cx_.text(f.field("attribute"));
    Node obj = f.field("object");
    if (method == "matmul" || method == "bmm") {
      return is_key_transposed(Semantics::positional(e, 0), obj, depth);
    }
    if (method == "masked_fill" || method == "masked_fill_" || method == "float" ||
        method == "half" || method == "to" || method == "type" || method == "type_as" ||
        method == "div" || method == "div_" || method == "mul" || method == "mul_" ||
        method == "add" || method == "add_" || method == "clamp" || method == "contiguous" ||
        method == "view" || method == "reshape" || method == "unsqueeze" || method == "squeeze") {
      return is_scores(obj, depth + 1);
    }
    return false;
  }

private:
  // `k` transposed over its last two dimensions: k.transpose(-2, -1), k.mT, k.permute(0, 1, 3, 2),
  // torch.transpose(k, -1, -2); weaker forms (k.T, k.t(), k.transpose(1, 2)) also name a
  // query and a key, since they are as common for similarity matrices of embeddings.
  bool is_key_transposed(Node k, Node q, int depth) const {
    k = unparen(k);
    if (depth > kMaxDepth || k.null()) return false;
    bool strong = false, weak = false;
    Node base;
    if (k.is("attribute")) {
      std::string_view a = cx_.text(k.field("attribute"));
      base = k.field("object");
      strong = a == "mT";
      weak = a == "T";
    } else if (k.is("identifier")) {
      for (Node rhs : assigned_values(k)) {
        if (is_key_transposed(rhs, q, depth + 1)) return true;
      }
      return false;
    } else if (k.is("call")) {
      Node f = Semantics::callee(k);
      Node a0, a1;
      auto q_name = m_.callee_name(k);
      if (q_name && *q_name == "torch.transpose") {
        base = Semantics::positional(k, 0);
        a0 = Semantics::positional(k, 1);
        a1 = Semantics::positional(k, 2);
      } else if (!q_name && f.is("attribute")) {
        std::string_view method = cx_.text(f.field("attribute"));
        base = f.field("object");
        if (method == "transpose") {
          a0 = Semantics::positional(k, 0);
          a1 = Semantics::positional(k, 1);
        } else if (method == "t") {
          weak = Semantics::argument_count(k) == 0;
        } else if (method == "permute") {
          strong = permutes_last_dim(k);
        }
      }
      if (!a0.null() && !a1.null()) {
        auto x = signed_int(cx_, a0), y = signed_int(cx_, a1);
        if (x && y) {
          long long lo = std::min(*x, *y), hi = std::max(*x, *y);
          strong = (lo == -2 && hi == -1) || (lo == 2 && hi == 3);
          weak = (lo == 1 && hi == 2) || (lo == 0 && hi == 1);
        }
      }
    }
    if (strong) return true;
    if (weak && !base.null() && !q.null()) {
      return has_letter(cx_.text(base), 'k') && has_letter(cx_.text(q), 'q');
    }
    // The other layout: the query transposed instead, `bmm(q.permute(0, 2, 1), k)` over
    // (b, c, hw) tensors (VQGAN's spatial attention), named as a query and a key.
    return !q.null() && is_query_transposed(q, depth) && has_letter(cx_.text(k), 'k') &&
           has_letter(cx_.text(q), 'q');
  }

  // `q.permute(0, 2, 1)` / `q.transpose(1, 2)`, directly or through an assignment.
  bool is_query_transposed(Node q, int depth) const {
    q = unparen(q);
    if (depth > kMaxDepth || q.null()) return false;
    if (q.is("identifier")) {
      for (Node rhs : assigned_values(q)) {
        if (is_query_transposed(rhs, depth + 1)) return true;
      }
      return false;
    }
    if (!q.is("call") || m_.callee_name(q)) return false;
    Node f = Semantics::callee(q);
    if (!f.is("attribute")) return false;
    std::string_view method = cx_.text(f.field("attribute"));
    if (method == "permute") return Semantics::argument_count(q) == 3 && permutes_last_dim(q);
    if (method == "transpose") {
      auto x = signed_int(cx_, Semantics::positional(q, 0));
      auto y = signed_int(cx_, Semantics::positional(q, 1));
      return x && y && std::min(*x, *y) == 1 && std::max(*x, *y) == 2;
    }
    return is_query_transposed(f.field("object"), depth + 1);
  }

  // permute(0, 1, 3, 2) / permute(0, 2, 3, 1): the last dimension (the features) moves away.
  bool permutes_last_dim(Node call) const {
    Node args = Semantics::arguments(call);
    uint32_t n = args.named_child_count();
    if (n < 3) return false;
    std::optional<long long> last;
    for (uint32_t i = 0; i < n; ++i) {
      last = m_.int_value(args.named_child(i));
      if (!last) return false;
    }
    return *last != static_cast<long long>(n) - 1;
  }

  // "bhid,bhjd->bhij": two operands contracted over their shared last index, giving a
  // query-by-key matrix.
  bool is_qk_einsum(Node call, bool equation_first) const {
    Node args = Semantics::arguments(call);
    uint32_t n = args.named_child_count();
    if (n != 3) return false;
    auto eq = m_.string_value(args.named_child(equation_first ? 0 : n - 1));
    if (!eq) return false;
    auto arrow = eq->find("->");
    if (arrow == std::string_view::npos) return false;
    std::string_view inputs = eq->substr(0, arrow), output = eq->substr(arrow + 2);
    auto comma = inputs.find(',');
    if (comma == std::string_view::npos || inputs.find(',', comma + 1) != std::string_view::npos) {
      return false;
    }
    auto a = indices(inputs.substr(0, comma), equation_first);
    auto b = indices(inputs.substr(comma + 1), equation_first);
    auto o = indices(output, equation_first);
    if (a.size() < 2 || b.size() < 2 || o.size() < 2) return false;
    auto contains = [](const std::vector<std::string>& v, const std::string& s) {
      for (const auto& x : v) {
        if (x == s) return true;
      }
      return false;
    };
    const std::string& key = o.back();
    const std::string& query = o[o.size() - 2];
    // Contracted: an index of both operands that the output drops (the features, last in
    // "bhid,bhjd" or before the positions in the channels-first "bhdi,bhdj").
    bool contracted = false;
    for (const auto& d : a) {
      if (contains(b, d) && !contains(o, d)) contracted = true;
    }
    return contracted && contains(b, key) && !contains(a, key) && contains(a, query) &&
           !contains(b, query);
  }

  // Index names of one einsum operand: characters for torch.einsum, words for einops.
  static std::vector<std::string> indices(std::string_view s, bool single_chars) {
    std::vector<std::string> out;
    std::string word;
    for (char c : s) {
      if (c == '.') continue;
      bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
      if (single_chars) {
        if (!space) out.emplace_back(1, c);
        continue;
      }
      if (space) {
        if (!word.empty()) out.push_back(word);
        word.clear();
      } else {
        word += c;
      }
    }
    if (!word.empty()) out.push_back(word);
    return out;
  }

  // Right-hand sides of `name = ...` in the same scope, before `use`.
  std::vector<Node> assigned_values(Node use) const {
    std::vector<Node> out;
    if (scope_.null()) return out;
    std::string_view name = cx_.text(use);
    std::vector<Node> stack{scope_};
    while (!stack.empty()) {
      Node n = stack.back();
      stack.pop_back();
      if (n.start() >= use.start()) continue;
      std::string_view k = n.kind();
      if ((k == "function_definition" || k == "class_definition" || k == "lambda") &&
          !(n == scope_)) {
        continue;
      }
      if (k == "assignment") {
        Node left = n.field("left"), right = n.field("right");
        if (left.is("identifier") && cx_.text(left) == name && !right.null() &&
            n.end() <= use.start()) {
          out.push_back(right);
        }
      }
      n.append_named_children(stack);
    }
    return out;
  }

  const Context& cx_;
  const Semantics& m_;
  Node scope_;
};

// The tensor a softmax is taken over, and whether it runs over the last dimension.
Node softmax_input(const Context& cx, Node call) {
  const Semantics& m = cx.sema();
  auto last_dim = [&](Node dim) {
    if (dim.null()) return true;
    auto v = signed_int(cx, dim);
    return v && (*v == -1 || *v == 2 || *v == 3);
  };
  if (auto q = m.callee_name(call)) {
    if (*q == "torch.softmax" || *q == "torch.nn.functional.softmax" ||
        *q == "torch.special.softmax") {
      Node input = Semantics::positional(call, 0);
      if (input.null()) input = m.keyword(call, "input");
      Node dim = m.keyword(call, "dim");
      if (dim.null()) dim = Semantics::positional(call, 1);
      return last_dim(dim) ? input : Node();
    }
    return Node();
  }
  Node f = Semantics::callee(call);
  if (f.is("call")) {
    // nn.Softmax(dim=-1)(scores)
    if (!m.is_call_to(f, {"torch.nn.Softmax", "torch.nn.modules.activation.Softmax"})) {
      return Node();
    }
    Node dim = m.keyword(f, "dim");
    if (dim.null()) dim = Semantics::positional(f, 0);
    return last_dim(dim) ? Semantics::positional(call, 0) : Node();
  }
  if (!f.is("attribute") || !m.imports("torch")) return Node();
  std::string_view method = cx.text(f.field("attribute"));
  Node obj = f.field("object");
  if (method == "softmax" && !(obj.is("identifier") && cx.text(obj) == "self")) {
    // scores.softmax(dim=-1)
    Node dim = m.keyword(call, "dim");
    if (dim.null()) dim = Semantics::positional(call, 0);
    return last_dim(dim) ? obj : Node();
  }
  // self.softmax(scores), where self.softmax = nn.Softmax(dim=-1); also under another name
  // (`self.attend = nn.Softmax(dim=-1)`), found through the class's attributes.
  if (obj.is("identifier") && cx.text(obj) == "self") {
    if (method.find("softmax") != std::string_view::npos) return Semantics::positional(call, 0);
    Ref cls = cx.analysis().class_of(f);
    if (cls.kind == Ref::Kind::Library &&
        (cls.name == "torch.nn.Softmax" || cls.name == "torch.nn.modules.activation.Softmax")) {
      return Semantics::positional(call, 0);
    }
  }
  return Node();
}

// After the softmax, are the weights used for something other than the product with the values
// (`attn @ v`, matmul / bmm / einsum), a dropout, a cast or a reshape: multiplied by a learned
// span mask, blended with another softmax, handed to a hook for Grad-CAM? SDPA cannot do that.
bool weights_used_otherwise(const Context& cx, Node scope, Node call) {
  Node stmt = call.parent();
  while (!stmt.null() && !stmt.is("assignment") && !stmt.is("expression_statement")) {
    stmt = stmt.parent();
  }
  if (!stmt.is("assignment") || !stmt.field("left").is("identifier")) return false;
  std::vector<std::string_view> names{cx.text(stmt.field("left"))};
  bool other = false;
  auto is_name = [&](Node e) {
    e = unparen(e);
    if (!e.is("identifier")) return false;
    for (auto n : names) {
      if (cx.text(e) == n) return true;
    }
    return false;
  };
  visit_subtree(scope, [&](Node n) {
    if (other) return false;
    if (n.end() <= stmt.end()) return false;
    if (!is_name(n)) return true;
    // A use of the weights: what takes them?
    Node p = n.parent();
    while (p.is("parenthesized_expression"))
      p = p.parent();
    if (p.is("binary_operator") && cx.text(p.field("operator")) == "@") return false;
    if (p.is("argument_list")) {
      Node c = p.parent();
      std::string_view tail = cx.sema().callee_tail(c);
      if (tail == "matmul" || tail == "bmm" || tail == "einsum") return false; // with the values
      if (tail.find("drop") != std::string_view::npos ||
          tail.find("softmax") != std::string_view::npos) {
        // attn = self.attn_drop(attn): the weights go on under that name.
        Node a = c.parent();
        if (a.is("assignment") && a.field("left").is("identifier")) {
          names.push_back(cx.text(a.field("left")));
        }
        return false;
      }
    }
    if (p.is("attribute")) {
      std::string_view m = cx.text(p.field("attribute"));
      Node c = p.parent();
      if (c.is("call") && (m == "matmul" || m == "bmm")) return false; // with the values
      if (c.is("call") && (m == "type_as" || m == "to" || m == "float" || m == "half" ||
                           m == "contiguous" || m == "view" || m == "reshape" || m == "transpose" ||
                           m == "permute" || m.find("drop") != std::string_view::npos)) {
        Node a = c.parent();
        if (a.is("assignment") && a.field("left").is("identifier")) {
          names.push_back(cx.text(a.field("left")));
        }
        return false;
      }
    }
    if (p.is("assignment") && p.field("left") == n) return false;          // rebound
    if (p.is("return_statement") || p.is("expression_list")) return false; // weights_are_kept
    other = true;
    return false;
  });
  return other;
}

// Is the query one position: built from `x[:, 0:1]` / `x[:, :1]` (CrossViT's class-token
// attention)?
bool single_query(const Context& cx, Node scope) {
  bool found = false;
  visit_subtree(scope, [&](Node n) {
    if (found) return false;
    if (n.is("assignment") && n.field("left").is("identifier")) {
      std::string_view name = cx.text(n.field("left"));
      if (name == "q" || name == "query" || name.starts_with("q_")) {
        std::string text = cx.code_text(n.field("right"), false);
        std::erase(text, ' ');
        found = text.find("[:,0:1") != std::string::npos || text.find("[:,:1") != std::string::npos;
      }
    }
    return !found;
  });
  return found;
}

// The attention weights are an output of their own (returned, or stored on the module for
// inspection): scaled_dot_product_attention does not return them, so the manual path is needed.
bool weights_are_kept(const Context& cx, Node scope, Node call) {
  if (scope.null()) return false;
  if (weights_used_otherwise(cx, scope, call)) return true;
  // The name the softmax result is bound to: the nearest enclosing assignment.
  std::string_view weights;
  auto anc = cx.ancestors();
  for (size_t i = anc.size(); i-- > 0;) {
    Node a = anc[i];
    if (a.is("assignment")) {
      if (a.field("left").is("identifier")) weights = cx.text(a.field("left"));
      break;
    }
    if (a.is("expression_statement") || a == scope) break;
  }
  std::vector<Node> stack{scope};
  while (!stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    std::string_view k = n.kind();
    if ((k == "function_definition" || k == "class_definition" || k == "lambda") && !(n == scope)) {
      continue;
    }
    if (k == "return_statement" || k == "yield") {
      Node v = n.named_child_count() > 0 ? unparen(n.named_child(0)) : Node();
      if (v.null()) continue;
      auto direct = [&](Node e) {
        e = unparen(e);
        return (!weights.empty() && e.is("identifier") && cx.text(e) == weights) || e == call;
      };
      if (direct(v)) return true;
      if (v.is("expression_list") || v.is("tuple")) {
        for (uint32_t i = 0, c = v.named_child_count(); i < c; ++i) {
          if (direct(v.named_child(i))) return true;
        }
      }
      continue;
    }
    if (k == "assignment" && !weights.empty()) {
      // self.attn_map = attn
      Node left = n.field("left"), right = unparen(n.field("right"));
      if (left.is("attribute") && right.is("identifier") && cx.text(right) == weights) {
        return true;
      }
    }
    n.append_named_children(stack);
  }
  return false;
}

class ManualAttention final : public RuleBase<ManualAttention> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM112",
      .slug = "manual-attention",
      .section = "M11",
      .severity = Severity::Warning,
      .fix = FixAvailability::None,
      .summary = "attention computed by hand (softmax over `q @ k.transpose(-2, -1)`) instead of "
                 "`F.scaled_dot_product_attention`",
  };
  static constexpr NodeKind kKinds[] = {"call"};
  // A softmax (`softmax`, `nn.Softmax`, `self.*softmax*`) and scores built by `@`, `matmul`,
  // `bmm` / `baddbmm` or `einsum` (Analyzer::is_scores), in code: an `@` in a docstring is no
  // matrix product. Scores other than an einsum's also need the key transposed
  // (Analyzer::is_key_transposed): an attribute `mT` or `T`, a method `transpose`, `t` or
  // `permute`, or torch.transpose, each a whole identifier, so that decorators (`@property`)
  // alone do not make a file with a softmax match. No fused kernel anywhere in the file.
  static Prefilter needs() {
    Prefilter p = requires_all(code("softmax") | code("Softmax"),
                               code("@") | code("matmul") | code("bmm") | code("einsum"),
                               code_identifier("einsum") | code_identifier("mT") |
                                   code_identifier("T") | code_identifier("t") |
                                   code_identifier("transpose") | code_identifier("permute"));
    for (std::string_view marker : kFusedMarkers)
      p.excluding(anywhere(marker));
    return p;
  }

  void check(Node call, Context& cx) const override {
    Node input = softmax_input(cx, call);
    if (input.null()) return;
    for (std::string_view marker : kFusedMarkers) {
      if (cx.source().find(marker) != std::string_view::npos) return;
    }
    // Attention lives in a model's forward; a softmax over toy tensors at module level (a
    // notebook's worked example) trains nothing.
    Node scope = cx.enclosing_function();
    if (scope.null()) return;
    Analyzer an(cx, scope);
    if (!an.is_scores(input, 0)) return;
    // A single query (the class token, `x[:, 0:1]`): scores grow linearly with the length.
    if (single_query(cx, scope)) return;
    if (weights_are_kept(cx, scope, call)) return;
    cx.report(call,
              "attention computed by hand: the softmax over `q @ k^T` materialises the whole "
              "batch x heads x seq x seq score matrix and keeps it and its softmax for backward; "
              "`torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=..., "
              "is_causal=...)` gives the same result with fused kernels that never store it (M11)");
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(ManualAttention)
