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
  static constexpr NodeKind kKinds[] = {"call", "class_definition"};
  static Prefilter needs() { return requires_all(anywhere("per_device_train_batch_size")); }

  void check(Node node, Context& cx) const override {
    if (node.is("class_definition")) return subclass_defaults(node, cx);
    const Semantics& m = cx.sema();
    if (!facts::is_training_arguments_call(m, node)) return;
    if (cx.analysis().is_dead(node)) return;
    // Literals, or what the code fixes (an argparse default, a module constant).
    Node batch = keyword_argument(m, node, "per_device_train_batch_size");
    if (batch.null()) return;
    auto b = cx.analysis().constant(batch.field("value"));
    auto accum = cx.analysis().constant(m.keyword(node, "gradient_accumulation_steps"));
    report_if_long(cx, batch, b, accum);
  }

private:
  static void report_if_long(Context& cx, Node at, const std::optional<Const>& batch,
                             const std::optional<Const>& accum) {
    if (!batch || batch->kind != Const::Kind::Int || batch->i != 1) return;
    if (!accum || accum->kind != Const::Kind::Int || accum->i < kLongAccumulation) return;
    cx.report(at, "micro-batch of 1 with " + std::to_string(accum->i) +
                      " accumulation steps: each step keeps the GPU mostly idle; raise "
                      "`per_device_train_batch_size` as far as memory allows and divide "
                      "`gradient_accumulation_steps` by the same factor (M5)");
  }

  // A TrainingArguments subclass (a dataclass the script parses with HfArgumentParser) whose own
  // field defaults are a micro-batch of 1 and a long accumulation.
  static void subclass_defaults(Node cls, Context& cx) {
    bool family = false;
    Node supers = cls.field("superclasses");
    for (Node b = supers.first_child(); !b.null(); b = b.next_sibling()) {
      if (!b.named()) continue;
      auto q = cx.sema().qualified_name(b);
      family = family || (q && facts::is_training_arguments_class(*q));
    }
    if (!family) return;
    Node batch_field;
    std::optional<Const> batch, accum;
    Node body = cls.field("body");
    for (Node st = body.first_child(); !st.null(); st = st.next_sibling()) {
      if (!st.is("expression_statement") || !st.named_child(0).is("assignment")) continue;
      Node a = st.named_child(0);
      std::string_view name = cx.text(a.field("left"));
      Node v = a.field("right");
      if (v.is("call") && cx.sema().callee_tail(v) == "field") v = cx.sema().keyword(v, "default");
      if (name == "per_device_train_batch_size") {
        batch = cx.analysis().constant(v);
        batch_field = a;
      } else if (name == "gradient_accumulation_steps") {
        accum = cx.analysis().constant(v);
      }
    }
    if (!batch_field.null()) report_if_long(cx, batch_field, batch, accum);
  }

public:
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(BatchSizeOneLongAccumulation)
