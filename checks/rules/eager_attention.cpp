// OOM111 eager-attention (M11): a Hugging Face model loaded with attn_implementation="eager".
#include <array>

#include "kit.h"

namespace oomlint::checks {
namespace {

bool imports_hf(const Semantics& m) {
  return m.imports("transformers") || m.imports("trl");
}

// Eager attention is the one implementation that returns attention weights, and Gemma 2/3 are
// trained with it on purpose (SDPA lacks their logit soft-capping); neither is a mistake.
struct State : RuleState {
  int8_t wants_attentions = -1; // does the file mention output_attentions? (-1: not looked yet)
};

bool eager_is_deliberate(Context& cx, Node call) {
  // Looked up once per file: a script may set eager attention many times.
  auto& st = cx.state<State>();
  if (st.wants_attentions < 0) {
    st.wants_attentions = cx.source().find("output_attentions") != std::string_view::npos;
  }
  if (st.wants_attentions) return true;
  if (call.null()) return false;
  auto gemma = [](std::string_view text) {
    for (std::string_view g : {"gemma-2", "gemma2", "gemma-3", "gemma3", "Gemma2", "Gemma3"}) {
      if (text.find(g) != std::string_view::npos) return true;
    }
    return false;
  };
  if (gemma(cx.text(Semantics::arguments(call)))) return true;
  // The checkpoint named through a variable: `from_pretrained(model_id, ...)`.
  Node id = Semantics::positional(call, 0);
  if (auto c = cx.analysis().constant(id); c && c->kind == Const::Kind::Str && gemma(c->s)) {
    return true;
  }
  return false;
}

// Is `call` a model load / model config that takes attn_implementation?
bool is_model_call(const Semantics& m, Node call) {
  auto q = m.callee_name(call);
  std::string_view tail = m.callee_tail(call);
  if (q) {
    bool hf = q->starts_with("transformers.") || q->starts_with("trl.");
    if (!hf) return false;
    // AutoModel*.from_pretrained / from_config, *Config(...), trl.ModelConfig(...), pipeline(...)
    return tail == "from_pretrained" || tail == "from_config" || tail == "_from_config" ||
           tail.ends_with("Config") || tail == "pipeline";
  }
  // `self.model_cls.from_pretrained(...)`, `dict(attn_implementation=...)` (model kwargs that
  // end up in from_pretrained): the keyword itself is Hugging Face's, so the import is enough.
  if (!imports_hf(m)) return false;
  return tail == "from_pretrained" || tail == "from_config" || tail == "dict";
}

std::string replacement(std::string_view literal) {
  // Keep the literal's quote style: 'eager' -> 'sdpa'.
  char quote = literal.empty() ? '"' : literal.back();
  if (quote != '"' && quote != '\'') quote = '"';
  return std::string(1, quote) + "sdpa" + std::string(1, quote);
}

class EagerAttention final : public RuleBase<EagerAttention> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM111",
      .slug = "eager-attention",
      .section = "M11",
      .severity = Severity::Warning,
      .fix = FixAvailability::Always,
      .summary = "model loaded with `attn_implementation=\"eager\"`, which materialises the full "
                 "attention matrix",
  };
  static constexpr NodeKind kKinds[] = {"keyword_argument", "pair"};
  static Prefilter needs() { return requires_all(anywhere("attn_implementation")); }

  void check(Node node, Context& cx) const override {
    const Semantics& m = cx.sema();
    Node value;
    Node call;
    if (node.is("keyword_argument")) {
      if (cx.text(node.field("name")) != "attn_implementation") return;
      value = node.field("value");
      Node args = cx.parent();
      if (!args.is("argument_list")) return;
      auto anc = cx.ancestors();
      if (anc.size() < 2) return;
      call = anc[anc.size() - 2];
      if (!call.is("call") || !is_model_call(m, call)) return;
    } else {
      // {"attn_implementation": "eager"}: model_init_kwargs / model_kwargs dictionaries.
      auto key = m.string_value(node.field("key"));
      if (!key || *key != "attn_implementation" || !imports_hf(m)) return;
      value = node.field("value");
    }
    auto v = m.string_value(value);
    if (!v || *v != "eager") return;
    if (eager_is_deliberate(cx, call)) return;
    cx.report(value,
              "`attn_implementation=\"eager\"` builds the full sequence x sequence attention "
              "matrix in every layer and keeps it for backward; use \"sdpa\" (or "
              "\"flash_attention_2\"), which computes the same attention without it (M11)")
        .fix("Use `attn_implementation=\"sdpa\"`", Applicability::Safe,
             {replace(value, replacement(cx.text(value)))});
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(EagerAttention)
