// OOM152 default-eval-batch-size (M15): a TrainingArguments-family call sets a training batch
// below 8 but leaves `per_device_eval_batch_size` at its default of 8, while evaluation runs.
#include <array>
#include <cctype>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

constexpr long long kDefaultEvalBatch = 8;

enum class EvalStrategy { Absent, No, Yes, Unknown };

struct Candidate {
  uint32_t start = 0;
  uint32_t end = 0;
  std::string message;
  std::vector<Edit> edits;
  EvalStrategy strategy = EvalStrategy::Absent;
  bool eval_flag = false; // do_eval=True or load_best_model_at_end=True
};

struct State : RuleState {
  std::unordered_map<std::string, long long> ints; // NAME = <int literal>
  std::vector<Candidate> candidates;
  bool eval_dataset = false;  // some call passes eval_dataset=<not None>
  bool evaluate_call = false; // trainer.evaluate(...) / trainer.predict(...)
};

std::optional<long long> int_of(Node value, const Context& cx, const State& st) {
  if (auto v = cx.sema().int_value(value)) return v;
  if (value.is("identifier")) {
    auto it = st.ints.find(std::string(cx.text(value)));
    if (it != st.ints.end()) return it->second;
  }
  return std::nullopt;
}

EvalStrategy strategy_of(Node call, const Context& cx) {
  Node v = cx.sema().keyword(call, "eval_strategy");
  if (v.null()) v = cx.sema().keyword(call, "evaluation_strategy");
  if (v.null()) return EvalStrategy::Absent;
  if (auto s = cx.sema().string_value(v)) return *s == "no" ? EvalStrategy::No : EvalStrategy::Yes;
  if (v.is("attribute")) {
    // IntervalStrategy.NO / .STEPS / .EPOCH
    std::string_view a = cx.text(v.field("attribute"));
    if (a == "NO") return EvalStrategy::No;
    if (a == "STEPS" || a == "EPOCH") return EvalStrategy::Yes;
  }
  if (v.is("none")) return EvalStrategy::Absent;
  return EvalStrategy::Unknown;
}

class DefaultEvalBatchSize final : public RuleBase<DefaultEvalBatchSize> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM152",
      .slug = "default-eval-batch-size",
      .section = "M15",
      .severity = Severity::Warning,
      .fix = FixAvailability::Always,
      .summary = "training batch below 8 while `per_device_eval_batch_size` keeps its default of 8",
  };
  static constexpr NodeKind kKinds[] = {"call", "assignment"};
  static Prefilter needs() { return requires_all(anywhere("per_device_train_batch_size")); }

  void check(Node node, Context& cx) const override {
    State& st = cx.state<State>();
    if (node.is("assignment")) {
      Node left = node.field("left");
      if (!left.is("identifier")) return;
      std::string name(cx.text(left));
      if (auto v = cx.sema().int_value(node.field("right"))) {
        st.ints[name] = *v;
      } else {
        st.ints.erase(name);
      }
      return;
    }
    const Semantics& m = cx.sema();
    if (!facts::is_training_arguments_call(m, node)) {
      record_eval_evidence(node, cx, st);
      return;
    }
    Node train = m.keyword(node, "per_device_train_batch_size");
    if (train.null() || train.is("none")) return;
    if (!m.keyword(node, "per_device_eval_batch_size").null() ||
        !m.keyword(node, "per_gpu_eval_batch_size").null() || facts::has_dictionary_splat(node)) {
      return;
    }
    std::string message;
    if (auto v = int_of(train, cx, st)) {
      if (*v >= kDefaultEvalBatch || *v <= 0) return;
      message = "`per_device_eval_batch_size` is left at its default of 8, above the training "
                "batch of " +
                std::to_string(*v) +
                ": evaluation runs larger forward passes than training ever did and can run out "
                "of memory there; set it to the training value (M15)";
    } else {
      // An unknown training batch is only a risk when the script shrank it to fit: gradient
      // accumulation is the sign that the micro-batch was cut down (M5).
      auto accum = int_of(m.keyword(node, "gradient_accumulation_steps"), cx, st);
      std::string_view train_text = cx.text(train);
      // micro_batch_size, cfg["micro_batch"]; not a word in a comment.
      bool micro = cx.code_text(train, /*strings=*/true).find("micro") != std::string::npos;
      if (!micro && (!accum || *accum < 2)) return;
      message = "`per_device_eval_batch_size` is left at its default of 8 while the training "
                "batch `" +
                std::string(train_text) + "` was shrunk to fit (" +
                (accum && *accum >= 2 ? "gradient_accumulation_steps=" + std::to_string(*accum)
                                      : std::string("a micro-batch")) +
                "): evaluation may run larger forward passes than training; set it to the "
                "training value (M15)";
    }
    Candidate c;
    Node callee = Semantics::callee(node);
    c.start = callee.start();
    c.end = callee.end();
    c.message = std::move(message);
    if (auto edits =
            add_keyword_argument(cx.source(), node, "per_device_eval_batch_size", cx.text(train))) {
      c.edits = std::move(*edits);
    }
    c.strategy = strategy_of(node, cx);
    c.eval_flag = Semantics::bool_value(m.keyword(node, "do_eval")) == true ||
                  Semantics::bool_value(m.keyword(node, "load_best_model_at_end")) == true;
    st.candidates.push_back(std::move(c));
  }

  void finish(Context& cx) const override {
    State& st = cx.state<State>();
    for (auto& c : st.candidates) {
      bool evaluates = false;
      switch (c.strategy) {
      case EvalStrategy::Yes:
        evaluates = true;
        break;
      case EvalStrategy::No:
        evaluates = st.evaluate_call;
        break;
      case EvalStrategy::Absent:
        evaluates = st.evaluate_call || c.eval_flag;
        break;
      case EvalStrategy::Unknown:
        evaluates = st.evaluate_call || c.eval_flag || st.eval_dataset;
        break;
      }
      if (!evaluates) continue;
      auto d = cx.report(c.start, c.end, c.message);
      if (!c.edits.empty()) {
        d.fix("Set `per_device_eval_batch_size` to the training batch size", Applicability::Safe,
              std::move(c.edits));
      }
    }
  }

private:
  static void record_eval_evidence(Node call, Context& cx, State& st) {
    const Semantics& m = cx.sema();
    Node ds = m.keyword(call, "eval_dataset");
    if (!ds.null() && !ds.is("none")) st.eval_dataset = true;
    std::string_view tail = m.callee_tail(call);
    if (tail == "evaluate" || tail == "predict") {
      Node recv = Semantics::receiver(call);
      std::string lower = cx.code_text(recv, /*strings=*/true);
      for (char& ch : lower)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower.find("trainer") != std::string::npos) st.evaluate_call = true;
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(DefaultEvalBatchSize)
