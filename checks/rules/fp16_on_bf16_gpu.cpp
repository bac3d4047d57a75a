// OOM061 fp16-on-bf16-gpu (M6): fp16 mixed precision (or an fp16 model that is trained) where the
// target GPU supports bf16. Silent when Settings::target_gpu is older than Ampere.
#include <array>
#include <cctype>
#include <string>
#include <unordered_map>
#include <vector>

#include <algorithm>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

// Is the autocast call one branch of a precision choice whose other branch picks bf16? The call
// sits in a branch (`if` / `elif` / `else` body, a `case`, or a side of a conditional
// expression) and the same function (or module) names `torch.bfloat16` outside that branch:
// `if amp_dtype == "bf16": ... bfloat16 ... elif amp_dtype == "fp16": ... float16 ...`. The
// script already offers bf16 and leaves fp16 to GPUs without it.
bool bf16_offered_elsewhere(const Context& cx, Node call, Node scope) {
  auto ancestors = cx.ancestors();
  Node branch;
  for (size_t i = ancestors.size(); i-- > 0;) {
    Node a = ancestors[i];
    if (a.is("function_definition") || a.is("lambda") || a.is("class_definition")) break;
    if (a.is("conditional_expression")) { // the operand that holds the call
      branch = i + 1 < ancestors.size() ? ancestors[i + 1] : call;
      break;
    }
    if (a.is("elif_clause") || a.is("else_clause") || a.is("case_clause") ||
        (a.is("block") && i > 0 && ancestors[i - 1].is("if_statement"))) {
      branch = a;
      break;
    }
  }
  if (branch.null() || scope.null()) return false;
  bool found = false;
  visit_subtree(scope, [&](Node n) {
    if (found) return false;
    if (n.start() >= branch.start() && n.end() <= branch.end()) return false;
    if (n.is("attribute") || n.is("identifier")) {
      auto q = cx.sema().qualified_name(n);
      found = q && *q == "torch.bfloat16";
    }
    return !found;
  });
  return found;
}

bool tests_bf16_support(std::string_view code) {
  for (std::string_view w : {"bf16_supported", "get_device_capability", "compute_capability",
                             "is_bf16", "supports_bf16"}) {
    if (code.find(w) != std::string_view::npos) return true;
  }
  return false;
}

// Is the call under a test of the GPU's bf16 support (`if torch.cuda.is_bf16_supported(): ...
// else: fp16`, `if major >= 8` after `get_device_capability()`)? Such fp16 is the fallback for
// GPUs without bf16, chosen by the run.
bool under_bf16_support_test(const Context& cx) {
  for (Node a : cx.ancestors()) {
    Node cond;
    if (a.is("if_statement") || a.is("elif_clause") || a.is("while_statement")) {
      cond = a.field("condition");
    } else if (a.is("conditional_expression") && a.named_child_count() == 3) {
      cond = a.named_child(1);
    }
    if (cond.null()) continue;
    if (tests_bf16_support(cx.text(cond))) return true;
    // `if major < 8:` after `major, _ = torch.cuda.get_device_capability()`.
    bool found = false;
    visit_subtree(cond, [&](Node n) {
      if (found) return false;
      if (!n.is("identifier")) return true;
      for (const Binding* b : cx.analysis().flow().reaching(cx.text(n), n)) {
        if (!b->value.null() && tests_bf16_support(cx.text(b->value))) found = true;
      }
      return false;
    });
    if (found) return true;
  }
  return false;
}

// A script for Habana Gaudi (HPU) or TPU (XLA): its precision settings do not run on a CUDA GPU.
bool targets_other_accelerator(const Context& cx) {
  const Semantics& m = cx.sema();
  return m.imports("habana_frameworks") || m.imports("optimum.habana") || m.imports("torch_xla");
}

bool is_autocast(std::string_view q) {
  return q == "torch.autocast" || q == "torch.amp.autocast" ||
         q == "torch.amp.autocast_mode.autocast" || q == "torch.cuda.amp.autocast" ||
         q == "torch.cuda.amp.autocast_mode.autocast";
}

bool is_lightning_trainer(std::string_view q) {
  return q == "pytorch_lightning.Trainer" || q == "pytorch_lightning.trainer.Trainer" ||
         q == "pytorch_lightning.trainer.trainer.Trainer" || q == "lightning.Trainer" ||
         q == "lightning.pytorch.Trainer" || q == "lightning.pytorch.trainer.Trainer" ||
         q == "lightning.pytorch.trainer.trainer.Trainer" || q == "lightning.Fabric" ||
         q == "lightning.fabric.Fabric" || q == "lightning_fabric.Fabric";
}

// GPTQ / AWQ quantized models compute in fp16 kernels.
bool quantized_fp16(std::string_view source) {
  for (std::string_view w : {"GPTQ", "gptq", "AWQ", "awq"}) {
    if (source.find(w) != std::string_view::npos) return true;
  }
  return false;
}

// Does the body of a `with` only run inference: every call there that does work is
// `.generate(...)` or a pipeline (`pipeline(...)`, `pipe(...)`, `*_pipeline(...)`), and nothing
// trains?
bool body_runs_inference_only(const Context& cx, Node with) {
  bool inference = false, other = false;
  visit_subtree(with.field("body"), [&](Node n) {
    if (!n.is("call")) return true;
    std::string_view tail = cx.sema().callee_tail(n);
    if (tail == "generate" || tail == "pipeline" || tail == "pipe" || tail.ends_with("_pipeline") ||
        tail.ends_with("_pipe")) {
      inference = true;
      return false;
    }
    if (tail == "backward" || tail == "step") other = true;
    return true;
  });
  return inference && !other;
}

// Is the autocast used only around inference: the `with` it opens, or, for an autocast kept in
// a name first (`ctx = nullcontext() if final else torch.autocast("cuda")`), every `with` of
// that name in the function?
bool wraps_inference_only(const Context& cx) {
  auto anc = cx.ancestors();
  for (size_t i = anc.size(); i-- > 0;) {
    Node a = anc[i];
    if (a.is("function_definition") || a.is("lambda")) break;
    if (a.is("with_statement")) return body_runs_inference_only(cx, a);
    if (a.is("assignment") && a.field("left").is("identifier")) {
      std::string_view name = cx.text(a.field("left"));
      Node scope = cx.enclosing_function();
      if (scope.null()) scope = anc.front();
      bool used = false, all = true;
      visit_subtree(scope, [&](Node n) {
        if (!n.is("with_item")) return true;
        Node v = n.field("value");
        if (v.is("identifier") && cx.text(v) == name) {
          used = true;
          Node with = n.parent().parent();
          all = all && with.is("with_statement") && body_runs_inference_only(cx, with);
        }
        return false;
      });
      return used && all;
    }
    if (!a.is("conditional_expression") && !a.is("parenthesized_expression") &&
        !a.is("with_item") && !a.is("with_clause") && !a.is("as_pattern")) {
      break;
    }
  }
  return false;
}

// The keyword_argument node holding `value` (its parent).
Node keyword_node(Node value) {
  Node p = value.parent();
  return p.is("keyword_argument") ? p : Node();
}

// Keyword `name`, else the positional argument at `index`.
Node argument(const Semantics& m, Node call, std::string_view name, uint32_t index) {
  Node v = m.keyword(call, name);
  return v.null() ? Semantics::positional(call, index) : v;
}

struct HalfCall {
  Node call;
  uint32_t scope;
  std::string model;
};

struct State : RuleState {
  std::vector<HalfCall> halves;
  // scope -> model name -> positions where it is trained (`.train()`, `optim.X(m.parameters())`)
  std::unordered_map<uint32_t, std::unordered_map<std::string, std::vector<uint32_t>>> trained;
};

// Does the expression read like a mixed-precision switch (`args.amp`, `use_fp16`,
// `config.MIXED_PRECISION`), not a device test (`device.type == "cuda"`, on whenever a GPU is)?
bool is_precision_switch(std::string_view text) {
  std::string t;
  for (char c : text)
    t += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view device : {"cuda", "device", "gpu", "is_available"}) {
    if (t.find(device) != std::string::npos) return false;
  }
  for (std::string_view w : {"amp", "fp16", "half", "mixed", "precision", "autocast"}) {
    if (t.find(w) != std::string::npos) return true;
  }
  return false;
}

// Is `cond` a mixed-precision switch whose value this code cannot read (`args.amp`, a parameter
// its callers fill)? A name is followed to its one assignment: `use_amp = device.type == "cuda"`
// is a device test, on whenever a GPU is, so not a switch.
bool runtime_switch(const Context& cx, Node cond, int depth = 0) {
  if (cx.analysis().constant(cond)) return false;
  if (cond.is("identifier") && depth < 3) {
    auto defs = cx.analysis().flow().reaching(cx.text(cond), cond);
    if (defs.size() == 1 && defs[0]->kind == Binding::Kind::Assign && defs[0]->depth == 0 &&
        !defs[0]->value.null()) {
      return runtime_switch(cx, defs[0]->value, depth + 1);
    }
  }
  return is_precision_switch(cx.text(cond));
}

// Is the call inside `if <switch>:` (in the same function) where the switch is a runtime
// mixed-precision flag (runtime_switch)? Whether the run is fp16 is then decided at run time.
bool under_runtime_switch(const Context& cx, Node call) {
  Node child = call;
  for (Node p = call.parent(); !p.null(); child = p, p = p.parent()) {
    if (p.is("function_definition") || p.is("class_definition") || p.is("module")) break;
    if ((p.is("if_statement") || p.is("elif_clause")) && child == p.field("consequence") &&
        runtime_switch(cx, p.field("condition"))) {
      return true;
    }
  }
  return false;
}

class Fp16OnBf16Gpu final : public RuleBase<Fp16OnBf16Gpu> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM061",
      .slug = "fp16-on-bf16-gpu",
      .section = "M6",
      .severity = Severity::Warning,
      .fix = FixAvailability::Sometimes,
      .summary = "fp16 mixed precision on a GPU that supports bf16",
  };
  static constexpr NodeKind kKinds[] = {"call", "pair"};
  // A report comes from one of five paths: TrainingArguments / a TRL config with the keyword
  // `fp16=True` (transformers/trl import); torch autocast (`autocast`); an Accelerator with
  // `mixed_precision="fp16"`; a Lightning Trainer / Fabric (a `lightning` module) with
  // `precision=16`; or `.half()` on a model later trained with `.train()` or a torch.optim /
  // bitsandbytes.optim optimizer. Each clause names one necessary term of every path. `fp16` may
  // be a string (`mixed_precision="fp16"`); the names, keywords and calls are code; `.half()`,
  // `.train()` and the `optim` module are whole words. `autocast` is a whole identifier: the
  // callee must resolve to torch's `autocast`, and a qualified name ends in the text of an
  // identifier token (an attribute's, or the imported name's, which an alias keeps:
  // `from torch import autocast as ac`), so `is_autocast_enabled` alone cannot make a report; so
  // is the TrainingArguments family (facts::training_arguments_terms). Two more paths: apex's
  // `amp.initialize(..., opt_level="O1")`, and a DeepSpeed config dict with `"fp16":
  // {"enabled": True}` (`zero_optimization` or a DeepSpeed batch size key in the dict).
  static Prefilter needs() {
    return requires_all(
        anywhere("fp16") | code_identifier("autocast") | code("lightning") |
            code("half").word().ignoring_case() | code("opt_level"),
        anywhere("fp16") | code_identifier("autocast") | code("precision") |
            code("half").word().ignoring_case() | code("opt_level"),
        facts::training_arguments_terms() | code_identifier("autocast") | code("Accelerator") |
            code("Trainer") | code("Fabric") | code("train").word().ignoring_case() |
            code("optim").word().ignoring_case() | code("initialize") |
            code_or_string("zero_optimization") | code_or_string("train_batch_size") |
            code_or_string("train_micro_batch_size_per_gpu"));
  }

  void check(Node call, Context& cx) const override {
    if (!supports_bf16(cx.settings().target_gpu)) return;
    if (targets_other_accelerator(cx)) return;
    if (call.is("pair")) return deepspeed_dict(call, cx);
    // Code that never runs with the settings the file fixes (`if args.fp16:` with a flag that
    // defaults to off) chooses nothing.
    if (cx.analysis().is_dead(call)) return;
    const Semantics& m = cx.sema();
    auto q = m.callee_name(call);
    // A precision setting under a test of bf16 support chooses nothing. (Asked only of the
    // calls that set precision: the walk over the enclosing conditions is not free.)
    if (q &&
        (*q == "apex.amp.initialize" || *q == "apex.amp.frontend.initialize" ||
         facts::is_training_arguments_class(*q) || is_autocast(*q) ||
         *q == "accelerate.Accelerator" || *q == "accelerate.accelerator.Accelerator" ||
         is_lightning_trainer(*q)) &&
        under_bf16_support_test(cx)) {
      return;
    }
    if (q && (*q == "apex.amp.initialize" || *q == "apex.amp.frontend.initialize")) {
      return apex(call, cx);
    }
    if (q && facts::is_training_arguments_class(*q)) return training_arguments(call, cx);
    if (q && is_autocast(*q)) return autocast(call, *q, cx);
    if (q && (*q == "accelerate.Accelerator" || *q == "accelerate.accelerator.Accelerator")) {
      return accelerator(call, cx);
    }
    if (q && is_lightning_trainer(*q)) return lightning(call, *q, cx);
    track_models(call, q, cx);
  }

  void finish(Context& cx) const override {
    if (!supports_bf16(cx.settings().target_gpu)) return;
    auto& st = cx.state<State>();
    for (const auto& h : st.halves) {
      auto scope = st.trained.find(h.scope);
      if (scope == st.trained.end()) continue;
      auto uses = scope->second.find(h.model);
      if (uses == scope->second.end()) continue;
      bool later = false;
      for (uint32_t pos : uses->second)
        later = later || pos > h.call.start();
      if (!later) continue; // cast after training: export or inference
      auto d = cx.report(h.call, "`" + h.model + "` is cast to fp16 and then trained; " +
                                     target_name(cx) +
                                     " GPUs support bf16, which has fp32's range and needs no loss "
                                     "scaling: use `.bfloat16()`, or keep fp32 weights under bf16 "
                                     "autocast (M6)");
      Node f = Semantics::callee(h.call);
      d.fix("Cast to bf16 with `.bfloat16()`", Applicability::Unsafe,
            {replace(f.field("attribute"), "bfloat16")});
    }
  }

private:
  // Do the two values read the same setting (an attribute chain or a name, as written)?
  static bool one_choice(const Context& cx, Node a, Node b) {
    if (a.null() || b.null()) return false;
    std::vector<std::string_view> names;
    auto collect = [&](Node root, auto&& each) {
      visit_subtree(root, [&](Node n) {
        if (n.is("attribute") || (n.is("identifier") && !n.parent().is("attribute"))) {
          each(cx.text(n));
          return false;
        }
        return true;
      });
    };
    collect(a, [&](std::string_view t) { names.push_back(t); });
    bool shared = false;
    collect(b, [&](std::string_view t) {
      shared = shared || std::find(names.begin(), names.end(), t) != names.end();
    });
    return shared;
  }

  static std::string target_name(const Context& cx) {
    std::string s(to_string(cx.settings().target_gpu));
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return s;
  }

  void training_arguments(Node call, Context& cx) const {
    const Semantics& m = cx.sema();
    Node v = m.keyword(call, "fp16");
    // A literal, or what the code fixes (`fp16=torch.cuda.is_available()` is fp16 on any GPU).
    auto c = cx.analysis().constant(v);
    if (!c || !c->truthy()) return;
    // `fp16=args.dtype == "fp16", bf16=args.dtype == "bf16"` (or `fp16=not args.bf16,
    // bf16=args.bf16`): one setting of the run chooses between the two, and its default only
    // picks the first. Two separate flags (`fp16=args.fp16, bf16=args.bf16`) are no such choice.
    if (one_choice(cx, v, m.keyword(call, "bf16"))) return;
    // GPTQ / AWQ models run fp16 kernels: fp16 training matches the quantized weights.
    if (quantized_fp16(cx.source())) return;
    Node kw = keyword_node(v);
    auto d = cx.report(kw, "`fp16=True` on a GPU that supports bf16 (" + target_name(cx) +
                               "): `bf16=True` saves the same activation memory with fp32's "
                               "range and no loss scaling (M6)");
    // `fp16=True, bf16=False` would become a repeated keyword: leave that to the user.
    if (m.keyword(call, "bf16").null()) {
      d.fix("Use `bf16=True`", Applicability::Safe, {replace(kw.field("name"), "bf16")});
    }
  }

  void autocast(Node call, std::string_view q, Context& cx) const {
    const Semantics& m = cx.sema();
    bool cuda_only = q.starts_with("torch.cuda.");
    // torch.autocast(device_type, dtype=None, enabled=True, ...);
    // torch.cuda.amp.autocast(enabled=True, dtype=torch.float16, ...)
    Node all = Semantics::arguments(call);
    for (uint32_t i = 0, n = all.null() ? 0 : all.named_child_count(); i < n; ++i) {
      // `autocast(**kwargs)`: dtype and device are not known here.
      if (all.named_child(i).is("dictionary_splat") || all.named_child(i).is("list_splat")) return;
    }
    // Inference under no_grad: no gradients to underflow, fp16 is a fine choice there.
    if (facts::runs_without_grad(cx, call)) return;
    // Around inference only (`pipeline(prompt)`, `model.generate(...)`): no training.
    if (wraps_inference_only(cx)) return;
    // A switch that the code fixes off is off. One known only at run time (`enabled=args.amp`
    // with an option this code cannot read, `if use_amp:` with a flag its callers pass) may
    // leave the run in fp32: without a dtype, stay silent; an explicit `dtype=torch.float16`
    // is the author's choice of fp16 whenever the switch is on.
    Node enabled = argument(m, call, "enabled", cuda_only ? 0 : 2);
    if (!enabled.null()) {
      auto c = cx.analysis().constant(enabled);
      if (c && !c->truthy()) return;
    }
    bool cuda = cuda_only;
    bool device_known = cuda_only;
    if (!cuda_only) {
      Node device = argument(m, call, "device_type", 0);
      if (device.null()) return;
      if (auto s = cx.analysis().constant(device); s && s->kind == Const::Kind::Str) {
        if (s->s != "cuda") return; // "cpu" defaults to bf16; other devices are not our target
        cuda = device_known = true;
      }
    }
    Node dtype = argument(m, call, "dtype", 1);
    Node fn = cx.enclosing_function();
    Node scope = fn.null() ? (cx.ancestors().empty() ? Node() : cx.ancestors().front()) : fn;
    std::string message = "fp16 autocast on a GPU that supports bf16 (" + target_name(cx) +
                          "): use `dtype=torch.bfloat16`, which needs no loss scaling and "
                          "cannot overflow (M6)";
    if (dtype.null()) {
      // The CUDA default is float16.
      if (!cuda || !device_known) return;
      // (runtime_switch reads a constant `enabled` as no switch: it was judged above.)
      if ((!enabled.null() && runtime_switch(cx, enabled)) || under_runtime_switch(cx, call)) {
        return;
      }
      if (bf16_offered_elsewhere(cx, call, scope)) return;
      auto d = cx.report(call, message);
      auto torch_name = m.local_name_for("torch");
      if (!torch_name) return;
      if (auto edits =
              add_keyword_argument(cx.source(), call, "dtype", *torch_name + ".bfloat16")) {
        d.fix("Add `dtype=" + *torch_name + ".bfloat16`", Applicability::Safe, std::move(*edits));
      }
      return;
    }
    auto dq = m.qualified_name(dtype);
    if (!dq || (*dq != "torch.float16" && *dq != "torch.half")) return;
    if (bf16_offered_elsewhere(cx, call, scope)) return;
    auto d = cx.report(call, message);
    if (dtype.is("attribute")) { // `torch.float16`, `T.half`: keep the user's spelling of torch
      d.fix("Use `bfloat16`", Applicability::Safe, {replace(dtype.field("attribute"), "bfloat16")});
    }
  }

  void accelerator(Node call, Context& cx) const {
    const Semantics& m = cx.sema();
    Node v = m.keyword(call, "mixed_precision");
    auto s = m.string_value(v);
    if (!s || *s != "fp16") return;
    if (quantized_fp16(cx.source())) return;
    auto d = cx.report(keyword_node(v), "`mixed_precision=\"fp16\"` on a GPU that supports bf16 (" +
                                            target_name(cx) +
                                            "): use \"bf16\", which needs no loss scaling (M6)");
    std::string text(cx.text(v));
    auto at = text.find("fp16");
    text.replace(at, 4, "bf16");
    d.fix("Use `mixed_precision=\"bf16\"`", Applicability::Safe, {replace(v, text)});
  }

  void lightning(Node call, std::string_view q, Context& cx) const {
    const Semantics& m = cx.sema();
    Node v = m.keyword(call, "precision");
    std::string replacement;
    if (auto i = m.int_value(v); i && *i == 16) {
      replacement = "bf16";
    } else if (auto s = m.string_value(v)) {
      if (*s == "16") {
        replacement = "bf16";
      } else if (*s == "16-mixed") {
        replacement = "bf16-mixed";
      } else if (*s == "16-true") {
        replacement = "bf16-true";
      } else {
        return;
      }
    } else {
      return;
    }
    // Lightning 2 spells it "bf16-mixed"; pytorch_lightning 1.x only knows "bf16", which 2.x
    // still accepts.
    if (replacement == "bf16" && q.starts_with("lightning")) replacement = "bf16-mixed";
    auto d = cx.report(keyword_node(v), "16-bit precision on a GPU that supports bf16 (" +
                                            target_name(cx) + "): use `precision=\"" + replacement +
                                            "\"`, which needs no loss scaling (M6)");
    char quote = '"';
    if (v.is("string")) {
      std::string_view t = cx.text(v);
      if (t.find('\'') < t.find('"')) quote = '\'';
    }
    d.fix("Use `precision=\"" + replacement + "\"`", Applicability::Safe,
          {replace(v, quote + replacement + quote)});
  }

  // apex: `amp.initialize(model, optimizer, opt_level="O1")` is fp16 mixed precision (O1, O2) or
  // a pure fp16 model (O3); O0 is fp32.
  void apex(Node call, Context& cx) const {
    Node level = cx.sema().keyword(call, "opt_level");
    auto c = cx.analysis().constant(level);
    if (!c || c->kind != Const::Kind::Str || (c->s != "O1" && c->s != "O2" && c->s != "O3")) return;
    cx.report(call,
              "apex AMP `opt_level=\"" + c->s +
                  "\"` trains in fp16 on a GPU that supports "
                  "bf16 (" +
                  target_name(cx) +
                  "): `torch.autocast(\"cuda\", dtype=torch.bfloat16)` needs no loss scaling and "
                  "cannot overflow (M6)");
  }

  // A DeepSpeed config written as a dict: `"fp16": {"enabled": True}`.
  void deepspeed_dict(Node pair, Context& cx) const {
    const Analysis& a = cx.analysis();
    auto key = a.constant(pair.field("key"));
    if (!key || key->kind != Const::Kind::Str || key->s != "fp16") return;
    Node value = pair.field("value");
    if (!value.is("dictionary")) return;
    Node config = pair.parent();
    if (!config.is("dictionary") || a.is_dead(config)) return;
    bool deepspeed = false;
    std::optional<bool> enabled;
    for (Node p = config.first_child(); !p.null(); p = p.next_sibling()) {
      if (!p.is("pair")) continue;
      auto k = a.constant(p.field("key"));
      if (k && k->kind == Const::Kind::Str &&
          (k->s == "zero_optimization" || k->s == "train_batch_size" ||
           k->s == "train_micro_batch_size_per_gpu")) {
        deepspeed = true;
      }
    }
    for (Node p = value.first_child(); !p.null(); p = p.next_sibling()) {
      if (!p.is("pair")) continue;
      auto k = a.constant(p.field("key"));
      if (k && k->kind == Const::Kind::Str && k->s == "enabled") {
        auto v = a.constant(p.field("value"));
        if (v && v->kind == Const::Kind::Bool) enabled = v->b;
      }
    }
    if (!deepspeed || enabled != true) return;
    cx.report(pair.field("key"), "DeepSpeed fp16 mixed precision on a GPU that supports bf16 (" +
                                     target_name(cx) +
                                     "): `\"bf16\": {\"enabled\": True}` needs no loss scaling "
                                     "and cannot overflow (M6)");
  }

  // `model.half()` (or `model = Net().half()`), and the calls that show a model is trained.
  void track_models(Node call, std::optional<std::string_view> q, Context& cx) const {
    const Semantics& m = cx.sema();
    auto& st = cx.state<State>();
    Node fn = cx.enclosing_function();
    uint32_t scope = fn.null() ? 0 : fn.start();
    std::string_view tail = m.callee_tail(call);
    Node f = Semantics::callee(call);
    Node args = Semantics::arguments(call);
    bool no_args = args.is("argument_list") && Semantics::argument_count(call) == 0;
    if (q && (q->starts_with("torch.optim.") || q->starts_with("bitsandbytes.optim."))) {
      // torch.optim.AdamW(model.parameters(), lr=...)
      Node params = argument(m, call, "params", 0);
      if (params.is("call") && m.callee_tail(params) == "parameters" &&
          Semantics::receiver(params).is("identifier")) {
        std::string name(m.text(Semantics::receiver(params)));
        st.trained[scope][name].push_back(call.start());
      }
      return;
    }
    if (!f.is("attribute")) return;
    Node obj = f.field("object");
    if (tail == "half" && no_args) {
      std::string name;
      // model = Net().half().to("cuda"): the assignment around the chain of moves.
      Node top = call;
      while (top.parent().is("attribute") && top.parent().parent().is("call")) {
        Node outer = top.parent().parent();
        std::string_view t = m.callee_tail(outer);
        if (t != "to" && t != "cuda" && t != "train" && t != "requires_grad_") break;
        top = outer;
      }
      Node parent = top == call ? cx.parent() : top.parent();
      if (parent.is("assignment") && parent.field("right") == top &&
          parent.field("left").is("identifier")) {
        name = std::string(m.text(parent.field("left"))); // model = Net().cuda().half()
      } else if (obj.is("identifier") && parent.is("expression_statement")) {
        name = std::string(m.text(obj)); // model.half()
      }
      if (!name.empty()) st.halves.push_back(HalfCall{call, scope, std::move(name)});
      return;
    }
    if (tail == "train" && obj.is("identifier")) {
      Node mode = Semantics::positional(call, 0);
      if (no_args || Semantics::bool_value(mode) == true) {
        st.trained[scope][std::string(m.text(obj))].push_back(call.start());
      }
    }
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(Fp16OnBf16Gpu)
