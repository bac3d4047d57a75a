// OOM071 checkpointing-with-use-cache (M7): gradient checkpointing turned on for a generative
// Hugging Face model while its config keeps `use_cache` on.
#include <array>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

struct State : RuleState {
  std::vector<Node> enable_calls;      // x.gradient_checkpointing_enable(...)
  std::vector<Node> enable_statements; // the statement around each call
  std::vector<Node> checkpointing_kws; // gradient_checkpointing=True
  std::vector<Node> generative_loads;  // AutoModelForCausalLM.from_pretrained(...) and kin
  bool generative = false;             // the file trains a model that has a KV cache
  bool cache_handled = false;          // use_cache is set somewhere (to anything but True)
  bool trl_config = false;             // checkpointing turned on in a TRL config
};

// Class names of models that generate text and so keep a key/value cache.
bool is_generative_class(std::string_view cls) {
  return cls.find("CausalLM") != std::string_view::npos ||
         cls.find("Seq2SeqLM") != std::string_view::npos ||
         cls.find("ConditionalGeneration") != std::string_view::npos ||
         cls.find("LMHeadModel") != std::string_view::npos ||
         cls.find("Vision2Seq") != std::string_view::npos ||
         cls.find("ImageTextToText") != std::string_view::npos;
}

// A generative model built from transformers / peft: `AutoModelForCausalLM.from_pretrained(...)`,
// `from_config(...)`, or the class called directly. Sets `*is_load` for from_pretrained.
bool is_generative_model(const Semantics& m, Node call, bool* is_load) {
  auto q = m.callee_name(call);
  if (!q) return false;
  if (!q->starts_with("transformers.") && !q->starts_with("peft.")) return false;
  std::string_view cls(*q);
  *is_load = cls.ends_with(".from_pretrained");
  if (*is_load) {
    cls.remove_suffix(std::string_view(".from_pretrained").size());
  } else if (cls.ends_with(".from_config")) {
    cls.remove_suffix(std::string_view(".from_config").size());
  }
  cls = cls.substr(cls.rfind('.') + 1);
  return is_generative_class(cls);
}

bool is_literal_true(Node n) {
  return Semantics::bool_value(n) == true;
}

// Inserts `<receiver>.config.use_cache = False` on the line after the statement holding `call`.
std::optional<std::vector<Edit>> insert_after_enable(const Context& cx, Node call, Node stmt) {
  Node recv = Semantics::receiver(call);
  if (recv.null() || !(recv.is("identifier") || recv.is("attribute"))) return std::nullopt;
  if (!stmt.is("expression_statement") || stmt.named_child_count() != 1) return std::nullopt;
  std::string_view src = cx.source();
  uint32_t ls = line_start_at(src, stmt.start());
  if (src.substr(ls, stmt.start() - ls).find_first_not_of(" \t") != std::string_view::npos) {
    return std::nullopt; // `x = 1; model.gradient_checkpointing_enable()`
  }
  size_t eol = src.find_first_of("\r\n", stmt.end());
  if (eol == std::string_view::npos) eol = src.size();
  std::string_view rest = src.substr(stmt.end(), eol - stmt.end());
  size_t r = rest.find_first_not_of(" \t");
  if (r != std::string_view::npos && rest[r] != '#') return std::nullopt; // `...; other()`
  std::string_view newline = (eol < src.size() && src[eol] == '\r') ? "\r\n" : "\n";
  std::string text = std::string(newline) + std::string(indentation_at(src, stmt.start())) +
                     std::string(cx.text(recv)) + ".config.use_cache = False";
  return std::vector<Edit>{Edit{static_cast<uint32_t>(eol), static_cast<uint32_t>(eol), text}};
}

class CheckpointingWithUseCache final : public RuleBase<CheckpointingWithUseCache> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM071",
      .slug = "checkpointing-with-use-cache",
      .section = "M7",
      .severity = Severity::Warning,
      .fix = FixAvailability::Sometimes,
      .summary = "gradient checkpointing on while the model config keeps `use_cache=True`",
  };
  static constexpr NodeKind kKinds[] = {"call", "keyword_argument", "assignment"};
  static Prefilter needs() {
    return requires_all(anywhere("gradient_checkpointing_enable") |
                        anywhere("gradient_checkpointing"));
  }

  void check(Node node, Context& cx) const override {
    const Semantics& m = cx.sema();
    auto& st = cx.state<State>();
    // use_cache set to anything the code does not fix to True: handled by the script.
    auto not_true = [&](Node v) {
      auto c = cx.analysis().constant(v);
      return !(c && c->truthy()) && !is_literal_true(v);
    };
    if (node.is("keyword_argument")) {
      // use_cache=False / use_cache=not args.gradient_checkpointing in any call.
      if (m.text(node.field("name")) == "use_cache" && not_true(node.field("value"))) {
        st.cache_handled = true;
      }
      return;
    }
    if (node.is("assignment")) {
      // model.config.use_cache = False (any object's `.use_cache`).
      Node left = node.field("left");
      if (left.is("attribute") && m.text(left.field("attribute")) == "use_cache" &&
          not_true(node.field("right"))) {
        st.cache_handled = true;
      }
      return;
    }
    bool is_load = false;
    if (is_generative_model(m, node, &is_load)) {
      st.generative = true;
      if (is_load) st.generative_loads.push_back(node);
    }
    // Code the file's settings never run, and a trainer's own code, turn nothing on.
    if (cx.analysis().is_dead(node) || facts::in_trainer_implementation(cx)) return;
    if (facts::is_checkpointing_enable_call(m, node)) {
      st.enable_calls.push_back(node);
      // Remember the statement now: finish() has no ancestors.
      st.enable_statements.push_back(cx.parent());
    }
    Node kw = facts::checkpointing_true_keyword(cx, node);
    if (!kw.null()) {
      st.checkpointing_kws.push_back(kw);
      // TRL's trainers pass use_cache=False to every training forward themselves.
      auto q = m.callee_name(node);
      if (q && q->starts_with("trl.")) st.trl_config = true;
    }
  }

  void finish(Context& cx) const override {
    auto& st = cx.state<State>();
    const Semantics& m = cx.sema();
    if (st.enable_calls.empty() && st.checkpointing_kws.empty()) return;
    if (st.trl_config) return;
    // Unsloth patches the model's forward and manages checkpointing and the cache itself.
    if (cx.source().find("unsloth") != std::string_view::npos ||
        cx.source().find("FastLanguageModel") != std::string_view::npos) {
      return;
    }
    // TRL trains generative models only; otherwise require a generative model class.
    if (st.cache_handled || !(st.generative || m.imports("trl"))) return;
    // `"use_cache"` as a string (config.update({"use_cache": False}), setattr(...)): handled.
    std::string_view src = cx.source();
    if (src.find("\"use_cache\"") != std::string_view::npos ||
        src.find("'use_cache'") != std::string_view::npos) {
      return;
    }
    constexpr std::string_view kMessage =
        "gradient checkpointing is on but the model config keeps `use_cache=True`: the "
        "key/value cache is useless in training and clashes with recomputation; set "
        "`model.config.use_cache = False` (M7)";
    for (size_t i = 0; i < st.enable_calls.size(); ++i) {
      Node call = st.enable_calls[i];
      auto d = cx.report(call, std::string(kMessage));
      if (auto edits = insert_after_enable(cx, call, st.enable_statements[i])) {
        d.fix("Insert `.config.use_cache = False` after the call", Applicability::Safe,
              std::move(*edits));
      }
    }
    for (Node kw : st.checkpointing_kws) {
      auto d = cx.report(kw, std::string(kMessage));
      // With one visible model load and no enable() call to anchor on, pass use_cache=False to it.
      if (st.enable_calls.empty() && st.generative_loads.size() == 1 &&
          st.checkpointing_kws.size() == 1) {
        Node load = st.generative_loads.front();
        if (!facts::has_dictionary_splat(load) &&
            facts::keyword_argument_node(m, load, "use_cache").null()) {
          if (auto edits = add_keyword_argument(src, load, "use_cache", "False")) {
            d.fix("Pass `use_cache=False` to `from_pretrained`", Applicability::Safe,
                  std::move(*edits));
          }
        }
      }
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(CheckpointingWithUseCache)
