// OOM131 unprepared-4bit-training (M13): a 4-bit (QLoRA-style) model is trained without
// peft's prepare_model_for_kbit_training, or without a bnb_4bit_compute_dtype.
#include <array>
#include <string>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

struct Site {
  uint32_t start, end;
  bool has_compute_dtype;
};

struct State : RuleState {
  std::vector<Site> sites;
  bool trains = false;
  bool prepared = false;
};

bool has_splat(Node call) {
  Node args = Semantics::arguments(call);
  for (uint32_t i = 0, n = args.named_child_count(); i < n; ++i) {
    Node a = args.named_child(i);
    if (a.is("list_splat") || a.is("dictionary_splat")) return true;
  }
  return false;
}

std::string_view tail_of(std::string_view q) {
  return q.substr(q.rfind('.') + 1);
}

class Unprepared4bitTraining final : public RuleBase<Unprepared4bitTraining> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM131",
      .slug = "unprepared-4bit-training",
      .section = "M13",
      .severity = Severity::Warning,
      .fix = FixAvailability::None,
      .summary = "4-bit model trained without `prepare_model_for_kbit_training` or without "
                 "`bnb_4bit_compute_dtype`",
  };
  static constexpr NodeKind kKinds[] = {"call"};
  static Prefilter needs() { return requires_all(anywhere("load_in_4bit")); }

  void check(Node call, Context& cx) const override {
    const Semantics& m = cx.sema();
    auto& st = cx.state<State>();
    if (m.callee_tail(call) == "backward") st.trains = true;
    // Either half of what prepare_model_for_kbit_training does, written by hand: the code
    // prepares the quantized base itself.
    if (m.callee_tail(call) == "gradient_checkpointing_enable" ||
        m.callee_tail(call) == "enable_input_require_grads") {
      st.prepared = true;
    }
    if (Semantics::bool_value(m.keyword(call, "gradient_checkpointing")) == true) {
      st.prepared = true;
    }
    auto q = m.callee_name(call);
    if (!q) return;
    std::string_view tail = tail_of(*q);
    bool hf = q->starts_with("transformers.");
    bool trl = q->starts_with("trl.");
    bool peft = q->starts_with("peft.");
    if ((hf || trl) && tail.ends_with("Trainer")) {
      st.trains = true;
      // TRL's trainers prepare a quantized model themselves when given a peft_config.
      if (trl && !m.keyword(call, "peft_config").null()) st.prepared = true;
    }
    if ((q->starts_with("torch.optim.") || q->starts_with("bitsandbytes.optim.")) &&
        !tail.empty() && tail.front() >= 'A' && tail.front() <= 'Z') {
      st.trains = true;
    }
    if (peft && tail == "get_peft_model") st.trains = true;
    if (peft &&
        (tail == "prepare_model_for_kbit_training" || tail == "prepare_model_for_int8_training")) {
      st.prepared = true;
    }
    bool bnb_config = hf && tail == "BitsAndBytesConfig";
    bool load = hf && tail == "from_pretrained";
    if (!bnb_config && !load) return;
    Node flag = m.keyword(call, "load_in_4bit");
    if (Semantics::bool_value(flag) != true) return;
    bool dtype = !m.keyword(call, "bnb_4bit_compute_dtype").null() || has_splat(call);
    Node kw = flag.parent(); // the `load_in_4bit=True` keyword argument
    st.sites.push_back({kw.start(), kw.end(), dtype});
  }

  void finish(Context& cx) const override {
    auto& st = cx.state<State>();
    if (!st.trains) return;
    for (const Site& s : st.sites) {
      if (st.prepared && s.has_compute_dtype) continue;
      std::string message = "this 4-bit model is trained ";
      if (!st.prepared) {
        message += "without `peft.prepare_model_for_kbit_training(model)`, which enables gradient "
                   "checkpointing and input gradients for the frozen quantized base";
      }
      if (!s.has_compute_dtype) {
        message += st.prepared ? "without " : ", and without ";
        message +=
            "`bnb_4bit_compute_dtype`: the 4-bit weights are then unpacked and multiplied in "
            "float32, which doubles those temporaries and slows every layer; set "
            "`bnb_4bit_compute_dtype=torch.bfloat16`";
      }
      message += " (M13)";
      cx.report(s.start, s.end, std::move(message));
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(Unprepared4bitTraining)
