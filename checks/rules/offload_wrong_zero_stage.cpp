// OOM091 offload-wrong-zero-stage (M9/M10): a DeepSpeed config written as a Python dict literal
// whose offload settings the chosen ZeRO stage ignores. JSON files: checks/deepspeed_json.cpp.
#include <array>
#include <string>

#include "kit.h"

namespace oomlint::checks {
namespace {

// The pair of a dict literal with string key `key`, or null.
Node pair_for(const Semantics& m, Node dict, std::string_view key) {
  for (uint32_t i = 0, n = dict.named_child_count(); i < n; ++i) {
    Node p = dict.named_child(i);
    if (p.is("pair") && m.string_value(p.field("key")) == key) return p;
  }
  return Node();
}

bool has_splat(Node dict) {
  for (uint32_t i = 0, n = dict.named_child_count(); i < n; ++i) {
    if (dict.named_child(i).is("dictionary_splat")) return true;
  }
  return false;
}

// The literal `device` of an offload section: nullopt when absent, not a dict, or not a literal.
std::optional<std::string> offload_device(const Semantics& m, Node pair, bool* unknown) {
  if (pair.null()) return std::nullopt;
  Node v = pair.field("value");
  if (!v.is("dictionary") || has_splat(v)) {
    *unknown = true;
    return std::nullopt;
  }
  Node dev = pair_for(m, v, "device");
  if (dev.null()) return std::nullopt; // DeepSpeed's default device is "none"
  auto s = m.string_value(dev.field("value"));
  if (!s) {
    *unknown = true;
    return std::nullopt;
  }
  return std::string(*s);
}

class OffloadWrongZeroStage final : public RuleBase<OffloadWrongZeroStage> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM091",
      .slug = "offload-wrong-zero-stage",
      .section = "M9/M10",
      .severity = Severity::Warning,
      .fix = FixAvailability::None,
      .summary = "DeepSpeed offload that the configured ZeRO stage ignores",
  };
  static constexpr NodeKind kKinds[] = {"dictionary"};
  static Prefilter needs() { return requires_all(anywhere("zero_optimization")); }

  void check(Node dict, Context& cx) const override {
    const Semantics& m = cx.sema();
    Node zero_pair = pair_for(m, dict, "zero_optimization");
    if (zero_pair.null()) return;
    Node zero = zero_pair.field("value");
    if (!zero.is("dictionary") || has_splat(zero)) return;
    // A Python config is often completed later (`cfg["zero_optimization"]["stage"] = args.stage`):
    // without a literal stage the rule cannot judge.
    Node stage_pair = pair_for(m, zero, "stage");
    if (stage_pair.null()) return;
    auto stage = m.int_value(stage_pair.field("value"));
    if (!stage) return;
    bool unknown = false;
    Node param_pair = pair_for(m, zero, "offload_param");
    Node optim_pair = pair_for(m, zero, "offload_optimizer");
    auto param = offload_device(m, param_pair, &unknown);
    auto optim = offload_device(m, optim_pair, &unknown);
    for (const auto& issue : facts::zero_offload_issues(*stage, param, optim, false)) {
      Node p = issue.key == "offload_param" ? param_pair : optim_pair;
      cx.report(p.field("key"), issue.message);
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(OffloadWrongZeroStage)
