// OOM203 empty-cache-in-loop (M20): torch.cuda.empty_cache() inside a training/eval step loop,
// or `torch_empty_cache_steps=1` in TrainingArguments (the Trainer empties the cache every step).
#include <array>

#include "kit.h"

namespace oomlint::checks {
namespace {

// Inside `if step % N == 0:` the call is deliberately periodic (what HF's
// torch_empty_cache_steps does); that is a choice, not the every-step mistake.
bool is_periodic(const Context& cx, Node loop) {
  auto anc = cx.ancestors();
  for (size_t i = anc.size(); i-- > 0 && !(anc[i] == loop);) {
    Node n = anc[i];
    if (n.is("if_statement") || n.is("elif_clause")) {
      std::string_view cond = cx.text(n.field("condition"));
      if (cond.find('%') != std::string_view::npos) return true;
    }
  }
  return false;
}

class EmptyCacheInLoop final : public RuleBase<EmptyCacheInLoop> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM203",
      .slug = "empty-cache-in-loop",
      .section = "M20",
      .severity = Severity::Warning,
      .fix = FixAvailability::Sometimes,
      .summary = "`torch.cuda.empty_cache()` called on every training or evaluation step",
  };
  static constexpr NodeKind kKinds[] = {"call"};
  // The call (or the `torch_empty_cache_steps=` keyword), in code.
  static Prefilter needs() { return requires_all(code("empty_cache")); }

  void check(Node call, Context& cx) const override {
    if (facts::is_training_arguments_call(cx.sema(), call)) {
      check_training_arguments(call, cx);
      return;
    }
    if (!cx.sema().is_call_to(call, {"torch.cuda.empty_cache", "torch.cuda.memory.empty_cache"})) {
      return;
    }
    Node loop = cx.enclosing_loop(call);
    if (loop.null() || !facts::is_step_loop(cx, loop)) return;
    // Recovery after an OOM (or any error) is the one place where freeing the cache is the point.
    for (Node a : cx.ancestors()) {
      if (a.is("except_clause")) return;
    }
    if (is_periodic(cx, loop)) return;
    auto d =
        cx.report(call, "`empty_cache()` runs on every step: it frees no live tensor, only hands "
                        "cached blocks back to the driver, and slows each step (M20)");
    Node stmt = cx.parent();
    if (stmt.is("expression_statement") && stmt.named_child_count() == 1) {
      if (auto edits = delete_statement(cx.source(), stmt)) {
        d.fix("Remove the `empty_cache()` call", Applicability::Unsafe, std::move(*edits));
      }
    }
  }

private:
  // `torch_empty_cache_steps=1`: the Trainer calls empty_cache() after every optimizer step.
  static void check_training_arguments(Node call, Context& cx) {
    Node value = cx.sema().keyword(call, "torch_empty_cache_steps");
    if (value.null() || cx.sema().int_value(value) != 1) return;
    Node argument = value.parent();
    auto d = cx.report(argument,
                       "`torch_empty_cache_steps=1` makes the Trainer call `empty_cache()` after "
                       "every step: it frees no live tensor and slows each step; drop it, or use a "
                       "period of hundreds of steps if fragmentation is the problem (M20)");
    if (argument.is("keyword_argument")) {
      if (auto edits = remove_argument(argument)) {
        d.fix("Remove `torch_empty_cache_steps=1`", Applicability::Unsafe, std::move(*edits));
      }
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(EmptyCacheInLoop)
