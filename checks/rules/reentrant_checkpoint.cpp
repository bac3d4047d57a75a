// OOM072 reentrant-checkpoint (M7): activation checkpointing left on the reentrant variant:
// torch.utils.checkpoint without `use_reentrant=`, or Hugging Face gradient checkpointing without
// `gradient_checkpointing_kwargs={"use_reentrant": False}` in a script trained with DDP.
#include <array>
#include <cctype>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

struct State : RuleState {
  std::vector<Node> hf_sites;    // enable() calls and TrainingArguments calls to judge in finish()
  std::vector<Node> hf_keywords; // their gradient_checkpointing= keyword (null for enable())
  bool ddp = false;              // DistributedDataParallel in the file, or a DDP-only setting
  bool ddp_launch = false;       // launched as several processes (torchrun, init_process_group)
  bool deepspeed = false;        // deepspeed.initialize(...) or TrainingArguments(deepspeed=...)
};

// `{"use_reentrant": ...}` among the keys of a dict literal.
bool dict_has_key(const Semantics& m, Node dict, std::string_view key) {
  for (uint32_t i = 0, n = dict.named_child_count(); i < n; ++i) {
    Node pair = dict.named_child(i);
    if (pair.is("pair") && m.string_value(pair.field("key")) == key) return true;
  }
  return false;
}

// Whether the call already chooses the variant, or may (through **kwargs or a variable).
// Returns true when the rule must stay silent; sets *fixable when the kwargs can be added.
bool hf_call_is_explicit(const Semantics& m, Node call, bool* fixable) {
  *fixable = false;
  if (facts::has_dictionary_splat(call)) return true;
  Node kwargs = m.keyword(call, "gradient_checkpointing_kwargs");
  if (kwargs.null()) {
    *fixable = true;
    return false;
  }
  if (!kwargs.is("dictionary")) return true; // a variable or dict(...): cannot see inside
  for (uint32_t i = 0, n = kwargs.named_child_count(); i < n; ++i) {
    if (kwargs.named_child(i).is("dictionary_splat")) return true;
  }
  return dict_has_key(m, kwargs, "use_reentrant");
}

bool is_ddp_class(std::string_view q) {
  return q == "torch.nn.parallel.DistributedDataParallel" ||
         q == "torch.nn.parallel.distributed.DistributedDataParallel";
}

// Is `word` ever set in the file: `x.word = ...`, `word=...` as a keyword, `"word": ...` as a key?
bool set_in_file(std::string_view src, std::string_view word) {
  for (size_t at = src.find(word); at != std::string_view::npos; at = src.find(word, at + 1)) {
    size_t end = at + word.size();
    if (end < src.size() && (std::isalnum(static_cast<unsigned char>(src[end])) || src[end] == '_'))
      continue;
    size_t i = end;
    if (i < src.size() && (src[i] == '"' || src[i] == '\'')) ++i;
    while (i < src.size() && src[i] == ' ')
      ++i;
    bool assigned = i < src.size() && src[i] == '=' && (i + 1 >= src.size() || src[i + 1] != '=');
    bool key = i < src.size() && src[i] == ':' && end < src.size() && src[end] != ' ';
    if (assigned || key) return true;
  }
  return false;
}

// Is the call only reached under `if getattr(<obj>, "<flag>", False) ...:` where nothing in the
// file ever sets <flag>? A configuration field read with an off default, that this code never
// turns on: the branch is off by default (an optional path of a vendored model).
bool under_unset_optional_flag(const Context& cx, Node call) {
  const Semantics& m = cx.sema();
  Node child = call;
  for (Node p = call.parent(); !p.null(); child = p, p = p.parent()) {
    if (p.is("function_definition") || p.is("class_definition")) break;
    if (!p.is("if_statement") || !(child == p.field("consequence"))) continue;
    Node cond = p.field("condition");
    while (cond.is("boolean_operator") && cx.text(cond.field("operator")) == "and")
      cond = cond.field("left");
    if (!cond.is("call") || cx.text(Semantics::callee(cond)) != "getattr") continue;
    auto name = m.string_value(Semantics::positional(cond, 1));
    auto dflt = cx.analysis().constant(Semantics::positional(cond, 2));
    if (name && dflt && !dflt->truthy() && !set_in_file(cx.source(), *name)) return true;
  }
  return false;
}

// `os.environ["LOCAL_RANK"]`: the script cannot start without a launcher's environment. Reading
// it with `.get(...)` (and a default, or an `is not None` test) only allows for one.
bool requires_local_rank(std::string_view src) {
  return src.find("[\"LOCAL_RANK\"]") != std::string_view::npos ||
         src.find("['LOCAL_RANK']") != std::string_view::npos;
}

class ReentrantCheckpoint final : public RuleBase<ReentrantCheckpoint> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM072",
      .slug = "reentrant-checkpoint",
      .section = "M7",
      .severity = Severity::Warning,
      .fix = FixAvailability::Sometimes,
      .summary = "activation checkpointing without `use_reentrant=False` (torch.utils.checkpoint, "
                 "or HF checkpointing under DDP)",
  };
  static constexpr NodeKind kKinds[] = {"call"};
  // Two paths: torch.utils.checkpoint.checkpoint(_sequential) (the qualified name's parts `utils`
  // and `checkpoint` are in the source), or Hugging Face `gradient_checkpointing(_enable)` in a DDP
  // script (a DistributedDataParallel, a TrainingArguments `ddp_find_unused_parameters=`, or a
  // launcher named in the text, `LOCAL_RANK` read from the environment or
  // `init_process_group`, as finish() checks). The launcher may be named in a comment or a
  // string; the rest is code.
  static Prefilter needs() {
    return requires_all(code("checkpoint"), code("utils") | code("gradient_checkpointing"),
                        anywhere("utils") | anywhere("DistributedDataParallel") |
                            anywhere("ddp_find_unused_parameters") | anywhere("torchrun") |
                            anywhere("accelerate launch") | anywhere("torch.distributed.launch") |
                            anywhere("torch.distributed.run") | anywhere("LOCAL_RANK") |
                            anywhere("init_process_group"));
  }

  void check(Node call, Context& cx) const override {
    const Semantics& m = cx.sema();
    auto& st = cx.state<State>();
    auto q = m.callee_name(call);
    if (q && is_ddp_class(*q)) st.ddp = true;
    if (facts::is_training_arguments_call(m, call)) {
      // `ddp_find_unused_parameters=False if ddp else None`: set only for a DDP launch, which
      // the file allows for but does not decide (alpaca-lora's `ddp = world_size != 1`).
      Node unused = m.keyword(call, "ddp_find_unused_parameters");
      bool conditional = unused.is("conditional_expression") &&
                         (unused.named_child(0).is("none") || unused.named_child(2).is("none"));
      if (!unused.null() && !conditional) st.ddp = true;
      Node ds = m.keyword(call, "deepspeed");
      if (!ds.null() && !ds.is("none")) st.deepspeed = true;
    }
    if (q && (*q == "deepspeed.initialize" || q->starts_with("deepspeed.runtime."))) {
      st.deepspeed = true;
    }
    // Code the file's settings never run (`if self.gradient_checkpointing:` with the attribute
    // only ever set to False) checkpoints nothing.
    if (cx.analysis().is_dead(call)) return;
    if (q && (*q == "torch.utils.checkpoint.checkpoint" ||
              *q == "torch.utils.checkpoint.checkpoint_sequential")) {
      if (facts::has_dictionary_splat(call) || !m.keyword(call, "use_reentrant").null()) return;
      if (under_unset_optional_flag(cx, call)) return;
      auto d =
          cx.report(call, "`" + std::string(m.callee_tail(call)) +
                              "` without `use_reentrant=`: the reentrant default breaks under DDP, "
                              "gives no gradients when no input requires grad, and newer PyTorch "
                              "warns about it; pass `use_reentrant=False` (M7)");
      if (auto edits = add_keyword_argument(cx.source(), call, "use_reentrant", "False")) {
        d.fix("Add `use_reentrant=False`", Applicability::Unsafe, std::move(*edits));
      }
      return;
    }
    // A trainer's own code checkpoints when its user asks; the user's script is where to say how.
    if (facts::in_trainer_implementation(cx)) return;
    if ((facts::is_checkpointing_enable_call(m, call) ||
         !facts::checkpointing_true_keyword(cx, call).null()) &&
        !under_unset_optional_flag(cx, call)) {
      st.hf_sites.push_back(call);
      st.hf_keywords.push_back(facts::checkpointing_true_keyword(cx, call));
    }
    // torch.distributed set up by hand: the processes torchrun starts.
    if (q && (*q == "torch.distributed.init_process_group" ||
              *q == "torch.distributed.distributed_c10d.init_process_group")) {
      st.ddp_launch = true;
    }
  }

  void finish(Context& cx) const override {
    auto& st = cx.state<State>();
    if (st.hf_sites.empty()) return;
    const Semantics& m = cx.sema();
    std::string_view src = cx.source();
    bool ddp = st.ddp || m.imports("torch.nn.parallel.DistributedDataParallel") ||
               m.imports("torch.nn.parallel.distributed.DistributedDataParallel");
    bool launched = st.ddp_launch || src.find("torchrun") != std::string_view::npos ||
                    src.find("accelerate launch") != std::string_view::npos ||
                    src.find("torch.distributed.launch") != std::string_view::npos ||
                    src.find("torch.distributed.run") != std::string_view::npos ||
                    requires_local_rank(src);
    // Several processes under DeepSpeed are not DDP: its engine reduces the gradients itself and
    // the reentrant failure (parameters marked ready twice) is DDP's.
    if (!ddp && !(launched && !st.deepspeed)) return;
    for (size_t i = 0; i < st.hf_sites.size(); ++i) {
      Node call = st.hf_sites[i];
      bool fixable = false;
      if (hf_call_is_explicit(m, call, &fixable)) continue;
      bool enable = call.is("call") && m.callee_tail(call) == "gradient_checkpointing_enable";
      Node where = enable ? call : st.hf_keywords[i];
      auto d = cx.report(where,
                         "gradient checkpointing in a DDP script uses the reentrant variant by "
                         "default, which can fail under DDP (parameters marked ready twice); pass "
                         "`gradient_checkpointing_kwargs={\"use_reentrant\": False}` (M7)");
      if (!fixable) continue;
      if (auto edits = add_keyword_argument(src, call, "gradient_checkpointing_kwargs",
                                            "{\"use_reentrant\": False}")) {
        d.fix("Add `gradient_checkpointing_kwargs={\"use_reentrant\": False}`",
              Applicability::Unsafe, std::move(*edits));
      }
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(ReentrantCheckpoint)
