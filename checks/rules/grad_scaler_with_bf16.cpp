// OOM062 grad-scaler-with-bf16 (M6): a GradScaler in a script whose autocast runs in bfloat16.
#include <array>
#include <cctype>
#include <string>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

struct State : RuleState {
  std::vector<Node> scalers; // GradScaler(...) constructor calls
  std::string name;          // `name = GradScaler(...)`, when there is exactly one
  Node statement;            // that statement
  uint32_t uses = 0;         // identifiers spelled `name` seen after the constructor
  bool fixable = true;
  std::vector<Edit> edits;      // rewrites of the uses
  std::vector<Node> comments;   // mentions of the name there do not block the fix
  bool bf16 = false;            // an autocast with dtype=torch.bfloat16
  bool other_precision = false; // an autocast in float16, or with a dtype we cannot see
};

bool is_grad_scaler(std::string_view q) {
  return q == "torch.cuda.amp.GradScaler" || q == "torch.amp.GradScaler" ||
         q == "torch.GradScaler" || q == "torch.cuda.amp.grad_scaler.GradScaler" ||
         q == "torch.amp.grad_scaler.GradScaler";
}

bool is_autocast(std::string_view q) {
  return q == "torch.autocast" || q == "torch.amp.autocast" || q == "torch.cuda.amp.autocast" ||
         q == "torch.amp.autocast_mode.autocast" || q == "torch.cpu.amp.autocast";
}

// Counts `name` as a whole word in `src` (identifiers, but also strings and comments).
uint32_t count_word(std::string_view src, std::string_view name) {
  uint32_t n = 0;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t p = src.find(name); p != std::string_view::npos; p = src.find(name, p + 1)) {
    bool left = p == 0 || !word(src[p - 1]);
    bool right = p + name.size() >= src.size() || !word(src[p + name.size()]);
    if (left && right) ++n;
  }
  return n;
}

// The statement that is exactly `call` (an expression statement), or null.
Node call_statement(std::span<const Node> anc, size_t call_index) {
  if (call_index == 0) return Node();
  Node stmt = anc[call_index - 1];
  if (!stmt.is("expression_statement") || stmt.named_child_count() != 1) return Node();
  return stmt;
}

bool is_primary(Node n) {
  return n.is("identifier") || n.is("attribute") || n.is("call") || n.is("subscript") ||
         n.is("parenthesized_expression");
}

class GradScalerWithBf16 final : public RuleBase<GradScalerWithBf16> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM062",
      .slug = "grad-scaler-with-bf16",
      .section = "M6",
      .severity = Severity::Info,
      .fix = FixAvailability::Sometimes,
      .summary = "`GradScaler` used with bfloat16 autocast, which needs no loss scaling",
  };
  static constexpr NodeKind kKinds[] = {"call", "identifier", "comment"};
  static Prefilter needs() { return requires_all(anywhere("GradScaler")); }

  void check(Node node, Context& cx) const override {
    auto& st = cx.state<State>();
    if (node.is("comment")) {
      st.comments.push_back(node);
      return;
    }
    if (node.is("identifier")) {
      if (!st.name.empty() && cx.text(node) == st.name) use(node, cx, st);
      return;
    }
    const Semantics& m = cx.sema();
    auto q = m.callee_name(node);
    if (!q) return;
    if (is_autocast(*q)) {
      note_autocast(node, *q, m, st);
    } else if (is_grad_scaler(*q)) {
      note_scaler(node, cx, st);
    }
  }

  void finish(Context& cx) const override {
    auto& st = cx.state<State>();
    if (st.scalers.empty() || !st.bf16 || st.other_precision) return;
    // Every mention of the name outside comments must be a use the fix rewrites (a mention in a
    // string, or one the traversal met before the constructor, blocks it).
    uint32_t in_comments = 0;
    for (Node c : st.comments)
      in_comments += count_word(cx.text(c), st.name);
    bool fixable = st.fixable && st.scalers.size() == 1 && !st.name.empty() &&
                   count_word(cx.source(), st.name) == st.uses + 1 + in_comments;
    for (Node call : st.scalers) {
      auto d =
          cx.report(call, "`GradScaler` with bfloat16 autocast: bf16 keeps fp32's exponent range, "
                          "so gradients do not underflow and loss scaling only adds work; drop the "
                          "scaler and call `loss.backward()` / `optimizer.step()` directly (M6)");
      if (!fixable) continue;
      auto del = delete_statement(cx.source(), st.statement);
      if (!del) continue;
      std::vector<Edit> edits = st.edits;
      edits.insert(edits.end(), del->begin(), del->end());
      d.fix("Remove the `GradScaler` and its calls", Applicability::Unsafe, std::move(edits));
    }
  }

private:
  static void note_autocast(Node call, std::string_view q, const Semantics& m, State& st) {
    Node enabled = m.keyword(call, "enabled");
    if (Semantics::bool_value(enabled) == false) return;
    Node dtype = m.keyword(call, "dtype");
    if (dtype.null()) dtype = Semantics::positional(call, 1);
    if (dtype.null()) {
      // torch.cuda.amp.autocast() and torch.autocast("cuda") default to float16.
      st.other_precision = true;
      return;
    }
    auto d = m.qualified_name(dtype);
    if (d && *d == "torch.bfloat16" && q != "torch.cpu.amp.autocast") {
      st.bf16 = true;
    } else {
      st.other_precision = true;
    }
  }

  static void note_scaler(Node call, Context& cx, State& st) {
    const Semantics& m = cx.sema();
    // enabled=use_fp16 (or anything but a literal True) means the scaler is switched per run.
    Node enabled = m.keyword(call, "enabled");
    if (!enabled.null() && Semantics::bool_value(enabled) != true) return;
    if (!Semantics::positional(call, 4).null()) return; // enabled given positionally
    st.scalers.push_back(call);
    Node assign = cx.parent();
    auto anc = cx.ancestors();
    Node stmt = anc.size() >= 2 ? anc[anc.size() - 2] : Node();
    if (st.scalers.size() == 1 && assign.is("assignment") && assign.field("right") == call &&
        assign.field("left").is("identifier") && stmt.is("expression_statement") &&
        stmt.named_child_count() == 1) {
      st.name = std::string(cx.text(assign.field("left")));
      st.statement = stmt;
    } else {
      st.fixable = false;
    }
  }

  // One use of the scaler's name: record the rewrite, or mark the fix impossible.
  static void use(Node ident, Context& cx, State& st) {
    ++st.uses;
    auto anc = cx.ancestors();
    size_t n = anc.size();
    // ident -> attribute (object) -> call (function)
    if (n < 2 || !anc[n - 1].is("attribute") || !(anc[n - 1].field("object") == ident) ||
        !anc[n - 2].is("call") || !(anc[n - 2].field("function") == anc[n - 1])) {
      st.fixable = false;
      return;
    }
    Node call = anc[n - 2];
    std::string_view method = cx.text(anc[n - 1].field("attribute"));
    Node arg0 = Semantics::positional(call, 0);
    Node args = Semantics::arguments(call);
    uint32_t argc = args.null() ? 0 : args.named_child_count();
    if (method == "scale" && argc == 1 && !arg0.null() && n >= 4 && anc[n - 3].is("attribute") &&
        cx.text(anc[n - 3].field("attribute")) == "backward" && anc[n - 4].is("call")) {
      // scaler.scale(loss).backward() -> loss.backward()
      std::string text(cx.text(arg0));
      if (!is_primary(arg0)) text = "(" + text + ")";
      st.edits.push_back(replace(call, text));
      return;
    }
    Node stmt = call_statement(anc, n - 2);
    if (stmt.null()) {
      st.fixable = false;
      return;
    }
    if (method == "step" && argc == 1 && (arg0.is("identifier") || arg0.is("attribute"))) {
      // scaler.step(optimizer) -> optimizer.step()
      st.edits.push_back(replace(call, std::string(cx.text(arg0)) + ".step()"));
      return;
    }
    if ((method == "update" && argc == 0) || (method == "unscale_" && argc == 1)) {
      if (auto del = delete_statement(cx.source(), stmt)) {
        st.edits.insert(st.edits.end(), del->begin(), del->end());
        return;
      }
    }
    st.fixable = false;
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(GradScalerWithBf16)
