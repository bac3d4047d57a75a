// OOM052 batch-size-one-long-accumulation (M5): `per_device_train_batch_size=1` with
// `gradient_accumulation_steps` of 16 or more in a TrainingArguments-family call.
#include <array>

#include "kit.h"

namespace oomlint::checks {
namespace {

constexpr long long kLongAccumulation = 16;

// The keyword_argument node whose name is `name`, or null.
Node keyword_argument(const Semantics& m, Node call, std::string_view name) {
  Node args = Semantics::arguments(call);
  for (uint32_t i = 0, n = args.null() ? 0 : args.named_child_count(); i < n; ++i) {
    Node a = args.named_child(i);
    if (a.is("keyword_argument") && m.text(a.field("name")) == name) return a;
  }
  return Node();
}

class BatchSizeOneLongAccumulation final : public RuleBase<BatchSizeOneLongAccumulation> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM052",
      .slug = "batch-size-one-long-accumulation",
      .section = "M5",
      .severity = Severity::Info,
      .fix = FixAvailability::None,
      .summary = "micro-batch of 1 with 16 or more accumulation steps leaves the GPU underused",
  };
  static constexpr NodeKind kKinds[] = {"call"};
  static Prefilter needs() { return requires_all(anywhere("per_device_train_batch_size")); }

  void check(Node call, Context& cx) const override {
    const Semantics& m = cx.sema();
    if (!facts::is_training_arguments_call(m, call)) return;
    Node batch = keyword_argument(m, call, "per_device_train_batch_size");
    if (batch.null() || m.int_value(batch.field("value")) != 1) return;
    auto accum = m.int_value(m.keyword(call, "gradient_accumulation_steps"));
    if (!accum || *accum < kLongAccumulation) return;
    cx.report(batch, "micro-batch of 1 with " + std::to_string(*accum) +
                         " accumulation steps: each step keeps the GPU mostly idle; raise "
                         "`per_device_train_batch_size` as far as memory allows and divide "
                         "`gradient_accumulation_steps` by the same factor (M5)");
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(BatchSizeOneLongAccumulation)
