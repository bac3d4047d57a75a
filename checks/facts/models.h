// Heuristics shared by the rules about evaluation and output accumulation (OOM153, OOM154,
// OOM202): which calls run a model, which expressions hold a model's outputs, which loops are
// evaluation loops, and whether a list accumulates across a loop.
//
// A model is recognised by name or by binding: a callee whose last name is `model`, `net`,
// `network`, ends in `_model` / `_net` or is `netG`-like; or a name assigned (earlier in the file)
// a `...Model...`/`...For...` `.from_pretrained(...)` result, a torchvision / timm model, or an
// instance of a class of the file that derives from torch.nn.Module (or a LightningModule).
#pragma once

#include <map>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "engine/context.h"
#include "engine/prefilter.h"
#include "facts/grad_mode.h"
#include "facts/words.h"
#include "model/syntax.h"

namespace oomlint::checks::facts {

// Prefilter fragments. "The code calls a model" (ModelBindings::is_model_call): a callee whose
// last name is_model_like_name() (`model` or `network` whole, a name ending in `_model`, or
// `net`, `*_net`, `netG`: a word ending in `net`), or a name bound to what creates_model()
// accepts: `X.from_pretrained(...)`, a name resolved to `torchvision.models.*` or
// `timm.create_model`, or a class of the file whose base resolves to `torch.nn.Module` or ends in
// `LightningModule` / `PreTrainedModel` (or derives from such a class). Names and resolved names
// end in identifier tokens, so `model`, `models`, `network` and `Module` are whole identifiers;
// the other spellings can be part of a longer identifier. All are code.
inline Clause model_call_terms() {
  return code_identifier("model") | code("_model").ends_word().ignoring_case() |
         code_identifier("models") | code("net").ends_word().ignoring_case() |
         code_identifier("network") | code_identifier("Module") | code("LightningModule") |
         code("PreTrainedModel") | code("from_pretrained") |
         // used like a module (Analysis::used_as_model) or built by a model factory
         code_identifier("eval") | code_identifier("train") | code_identifier("parameters") |
         code_identifier("named_parameters") | code_identifier("state_dict") |
         code_identifier("load_state_dict") | code_identifier("requires_grad_") |
         code_identifier("timm") | code_identifier("torchvision") | code("Sequential") |
         code("DataParallel") | code_identifier("get_peft_model") | code_identifier("compile");
}
// ... and "this is a model's output" (is_model_output): a model call or an output field
// (`logits`, `*_logits`, `logits_per_*`, `(last_)hidden_state(s)`, `pooler_output`).
inline Clause model_output_terms() {
  return model_call_terms() | code("logits") | code("hidden_state") | code("pooler_output");
}

// Is the call a forward pass of a model? The deep analysis decides from what the callee is: an
// object whose class is a torch.nn.Module (or a Lightning / Hugging Face model, by the file's
// classes, the project's and the libraries'), or one named like a model; never a function or
// method of the file or the project (`eval_model(...)`), nor a library's (`prepare_model`).
inline bool is_model_call(const Context& cx, Node call) {
  return cx.analysis().is_model_call(call);
}

// Does the call run a model's forward pass: a model call, or a call of a function of the file or
// the project that runs one (and does not turn autograd off itself)? `helper` says which.
inline bool runs_model(const Context& cx, Node call, bool* helper = nullptr) {
  if (helper) *helper = false;
  if (is_model_call(cx, call)) return true;
  auto f = cx.analysis().call_facts(call);
  if (f && f->has(FunctionFacts::RunsForward) && !f->has(FunctionFacts::NoGrad)) {
    if (helper) *helper = true;
    return true;
  }
  return false;
}

// Does the file use a GPU at all (`cuda`, `device`, `DEVICE`, `gpu`, `accelerat`, `.to(`)? Without
// one, a model's activations and outputs sit in host memory, which the rules do not judge.
inline bool mentions_gpu(std::string_view source) {
  for (std::string_view w : {"cuda", "device", "DEVICE", "gpu", "GPU", "accelerat", ".to("}) {
    if (source.find(w) != std::string_view::npos) return true;
  }
  return false;
}
inline Clause mentions_gpu_terms() {
  return anywhere("cuda") | anywhere("device") | anywhere("DEVICE") | anywhere("gpu") |
         anywhere("GPU") | anywhere("accelerat") | anywhere(".to(");
}

inline bool is_model_like_name(std::string_view n) {
  if (n.empty() || std::isupper(static_cast<unsigned char>(n[0]))) return false; // a class
  if (n.starts_with("get_") || n.starts_with("build_") || n.starts_with("create_") ||
      n.starts_with("load_") || n.starts_with("make_") || n.starts_with("init_")) {
    return false;
  }
  if (n == "model" || n == "net" || n == "network" || n.ends_with("_model") ||
      n.ends_with("_net")) {
    return true;
  }
  // netG, netD
  return n.size() > 3 && n.starts_with("net") && std::isupper(static_cast<unsigned char>(n[3]));
}

inline std::string_view last_name(const Context& cx, Node e) {
  if (e.is("identifier")) return cx.text(e);
  if (e.is("attribute")) return cx.text(e.field("attribute"));
  return {};
}

// Names (identifiers or `self.x`) bound to models, and the file's nn.Module classes. Fed with
// the `assignment` and `class_definition` nodes of the traversal. The names are views of the
// source, which outlives a rule's state.
struct ModelBindings {
  std::unordered_set<std::string_view> names;
  std::unordered_set<std::string_view> module_classes;
  std::unordered_set<std::string_view> pretrained; // bound from .from_pretrained(...): ModelOutput

  // Strips `.to(device)`, `.cuda()`, `.eval()`, wrappers such as DataParallel / torch.compile /
  // accelerator.prepare, down to the expression that creates the model.
  Node unwrap(const Context& cx, Node e) const {
    for (int i = 0; i < 8 && e.is("call"); ++i) {
      Node f = Semantics::callee(e);
      std::string_view tail = cx.sema().callee_tail(e);
      if (f.is("attribute") &&
          (tail == "to" || tail == "cuda" || tail == "eval" || tail == "train" || tail == "half" ||
           tail == "float" || tail == "bfloat16" || tail == "requires_grad_")) {
        e = f.field("object");
        continue;
      }
      auto q = cx.sema().callee_name(e);
      bool wrapper = (q && (*q == "torch.nn.DataParallel" || *q == "torch.compile" ||
                            q->ends_with("DistributedDataParallel"))) ||
                     tail == "prepare" || tail == "prepare_model";
      if (!wrapper) break;
      Node inner = Semantics::positional(e, 0);
      if (inner.null()) break;
      e = inner;
    }
    return e;
  }

  bool creates_model(const Context& cx, Node e) const {
    e = unwrap(cx, e);
    if (e.is("identifier") || e.is("attribute")) return names.count(cx.text(e)) > 0;
    if (!e.is("call")) return false;
    std::string_view tail = cx.sema().callee_tail(e);
    Node f = Semantics::callee(e);
    if (tail == "from_pretrained" && f.is("attribute")) {
      std::string_view cls = last_name(cx, f.field("object"));
      return cls.find("Model") != std::string_view::npos ||
             cls.find("For") != std::string_view::npos;
    }
    if (auto q = cx.sema().callee_name(e)) {
      return q->starts_with("torchvision.models.") || *q == "timm.create_model";
    }
    return f.is("identifier") && module_classes.count(cx.text(f)) > 0;
  }

  void record(const Context& cx, Node node) {
    if (node.is("class_definition")) {
      Node supers = node.field("superclasses");
      for (uint32_t i = 0, n = supers.null() ? 0 : supers.named_child_count(); i < n; ++i) {
        Node s = supers.named_child(i);
        auto q = cx.sema().qualified_name(s);
        bool module = (q && (*q == "torch.nn.Module" || q->ends_with("LightningModule") ||
                             q->ends_with("PreTrainedModel"))) ||
                      (s.is("identifier") && module_classes.count(cx.text(s)));
        if (module) module_classes.insert(cx.text(node.field("name")));
      }
      return;
    }
    if (!node.is("assignment")) return;
    Node left = node.field("left");
    if (!left.is("identifier") && !left.is("attribute")) return;
    std::string_view key = cx.text(left);
    Node right = node.field("right");
    if (!right.null() && creates_model(cx, right)) {
      names.insert(key);
      Node core = unwrap(cx, right);
      bool hf = (core.is("call") && cx.sema().callee_tail(core) == "from_pretrained") ||
                pretrained.count(cx.text(core));
      if (hf) {
        pretrained.insert(key);
      } else {
        pretrained.erase(key);
      }
    } else {
      names.erase(key);
      pretrained.erase(key);
    }
  }

  bool is_model_expr(const Context& cx, Node f) const {
    if (!f.is("identifier") && !f.is("attribute")) return false;
    if (names.count(cx.text(f))) return true;
    if (f.is("attribute")) {
      // self.model / trainer.model, not torch.nn.functional.x
      if (cx.sema().qualified_name(f)) return false;
      // model.fuse_model(): a method of a model, not a model.
      if (is_model_expr(cx, f.field("object"))) return false;
    } else if (cx.sema().qualified_name(f)) {
      return false; // an imported function or class
    }
    // `evaluate_model(x)` defined in the file or the project: a function, not a model.
    Ref target = cx.analysis().resolve(f);
    if (target.kind == Ref::Kind::Function || target.kind == Ref::Kind::ProjectFunction ||
        target.kind == Ref::Kind::Class || target.kind == Ref::Kind::ProjectClass) {
      return false;
    }
    return is_model_like_name(last_name(cx, f));
  }

  // `model(x)`, `self.model(**batch)`, `model.forward(x)`.
  bool is_model_call(const Context& cx, Node call) const {
    if (!call.is("call")) return false;
    Node f = Semantics::callee(call);
    if (f.is("attribute") && cx.text(f.field("attribute")) == "forward") {
      return is_model_expr(cx, f.field("object"));
    }
    return is_model_expr(cx, f);
  }
};

// The train/eval mode that the code has switched models to, as seen in source order: the last
// `x.eval()` / `x.train(False)` / `x.train()` of the current function (or of module level). A
// switch inside an `if` / `else` / `try` only holds inside that branch.
enum class Mode { Unknown, Train, Eval };

struct ModeTracker {
  struct Entry {
    Mode mode = Mode::Unknown;
    uint32_t start = 0; // the branch it holds in ([0, UINT32_MAX) when unconditional)
    uint32_t end = UINT32_MAX;
    uint32_t at = 0; // where the switch is
  };
  std::unordered_map<uint32_t, Entry> modes; // by scope: enclosing function start + 1, or 0
  // The last switch of each receiver, by scope and the receiver's text: `student.train()` then
  // `teacher.eval()` leaves `student(x)` in training mode.
  std::map<std::pair<uint32_t, std::string>, Entry, std::less<>> by_receiver;

  static uint32_t scope_key(const Context& cx) {
    Node f = cx.enclosing_function();
    return f.null() ? 0 : f.start() + 1;
  }

  void on_call(const Context& cx, Node call) {
    std::string_view tail = cx.sema().callee_tail(call);
    if (tail != "eval" && tail != "train") return;
    Node recv = Semantics::receiver(call);
    if (recv.null() || cx.sema().qualified_name(recv)) return;
    uint32_t argc = Semantics::argument_count(call);
    Mode mode = Mode::Unknown;
    if (tail == "eval") {
      if (argc != 0) return; // not nn.Module.eval()
      mode = Mode::Eval;
    } else if (argc == 0) {
      mode = Mode::Train;
    } else if (argc == 1) {
      auto b = Semantics::bool_value(Semantics::positional(call, 0));
      if (b) mode = *b ? Mode::Train : Mode::Eval;
    }
    Entry e{mode, 0, UINT32_MAX, call.end()};
    auto anc = cx.ancestors();
    for (size_t i = anc.size(); i-- > 0;) {
      std::string_view k = anc[i].kind();
      if (k == "function_definition" || k == "lambda") break;
      if (k == "block") {
        Node owner = i > 0 ? anc[i - 1] : Node();
        std::string_view ok = owner.kind();
        if (ok == "if_statement" || ok == "elif_clause" || ok == "else_clause" ||
            ok == "try_statement" || ok == "except_clause" || ok == "finally_clause") {
          e.start = anc[i].start();
          e.end = anc[i].end();
          break;
        }
      }
      if (k == "conditional_expression" || k == "boolean_operator") {
        e.mode = Mode::Unknown;
        break;
      }
    }
    modes[scope_key(cx)] = e;
    by_receiver[{scope_key(cx), std::string(cx.text(recv))}] = e;
  }

  // The mode in force at `at`; when `at` calls a model that was itself switched in this scope
  // (`m(x)`, `m.forward(x)`, `m.generate(x)` after `m.train()`), that model's own last switch.
  Mode current(const Context& cx, Node at) const {
    auto it = modes.find(scope_key(cx));
    if (it == modes.end()) return Mode::Unknown;
    const Entry* own = nullptr;
    if (at.is("call")) {
      Node f = Semantics::callee(at);
      if (f.is("attribute")) {
        std::string_view a = cx.text(f.field("attribute"));
        if (a == "forward" || a == "generate") f = f.field("object");
      }
      auto r = by_receiver.find(std::pair<uint32_t, std::string>{scope_key(cx), cx.text(f)});
      if (r != by_receiver.end()) own = &r->second;
    }
    const Entry& e = own ? *own : it->second;
    if (at.start() < e.start || at.end() > e.end) return Mode::Unknown;
    return e.mode;
  }
  // Where the switch in force was written (0 when none).
  uint32_t switched_at(const Context& cx) const {
    auto it = modes.find(scope_key(cx));
    return it == modes.end() ? 0 : it->second.at;
  }
};

// The model bindings and the train/eval mode of a file are the same for every rule that feeds
// them the same nodes (OOM153, OOM154 and OOM202 record every assignment and class definition;
// OOM153 and OOM154 track the mode of every call in a file that imports torch): they share one
// copy (Context::shared), which the first of them to reach a node brings up to date.
struct SharedModelFacts : RuleState {
  ModelBindings models;
  ModeTracker modes;

  void record(const Context& cx, Node node) {
    if (node == recorded_) return;
    recorded_ = node;
    models.record(cx, node);
  }
  void on_call(const Context& cx, Node call) {
    if (call == mode_call_) return;
    mode_call_ = call;
    modes.on_call(cx, call);
  }

private:
  Node recorded_, mode_call_; // the last node each was fed
};

enum class Concern {
  Graph,  // does the value still hold an autograd graph? (.detach() ends it, .cpu() does not)
  Device, // does the value still sit on the GPU? (.cpu() ends it, .detach() does not)
};

struct OutputQuery {
  const Context& cx;
  const ModelBindings& models;
  Node scope; // where to look for bindings of names (the loop)
  Concern concern;
};

inline bool is_output_field(std::string_view a) {
  return a == "logits" || a == "start_logits" || a == "end_logits" || a == "last_hidden_state" ||
         a == "hidden_states" || a == "pooler_output" || a == "prediction_logits" ||
         a == "logits_per_image" || a == "logits_per_text";
}

// Does `e` evaluate to a model's output (or a view / activation of it) that still holds what
// `q.concern` asks about?
inline bool is_model_output(const OutputQuery& q, Node e, int depth = 0) {
  if (e.null() || depth > 6) return false;
  const Context& cx = q.cx;
  std::string_view kind = e.kind();
  if (kind == "parenthesized_expression") return is_model_output(q, e.named_child(0), depth + 1);
  if (kind == "call") {
    if (q.models.is_model_call(cx, e)) return true;
    Node f = Semantics::callee(e);
    std::string_view tail = cx.sema().callee_tail(e);
    if (auto name = cx.sema().callee_name(e)) {
      // torch.softmax(logits, -1) and friends; any other imported function: not followed.
      if (*name == "torch.softmax" || *name == "torch.sigmoid" || *name == "torch.exp" ||
          *name == "torch.log_softmax" || *name == "torch.nn.functional.softmax" ||
          *name == "torch.nn.functional.log_softmax" || *name == "torch.nn.functional.sigmoid") {
        return is_model_output(q, Semantics::positional(e, 0), depth + 1);
      }
      return false;
    }
    if (f.is("attribute")) {
      Node obj = f.field("object");
      if (tail == "item" || tail == "tolist" || tail == "numpy" || tail == "argmax" ||
          tail == "argmin") {
        return false;
      }
      if (tail == "detach" || tail == "detach_") {
        return q.concern == Concern::Device && is_model_output(q, obj, depth + 1);
      }
      if (tail == "cpu") return q.concern == Concern::Graph && is_model_output(q, obj, depth + 1);
      if (tail == "to") {
        std::string_view args = cx.text(Semantics::arguments(e));
        if (args.find("cpu") != std::string_view::npos && q.concern == Concern::Device) {
          return false;
        }
        return is_model_output(q, obj, depth + 1);
      }
      if (tail == "float" || tail == "softmax" || tail == "log_softmax" || tail == "sigmoid" ||
          tail == "view" || tail == "reshape" || tail == "squeeze" || tail == "unsqueeze" ||
          tail == "contiguous" || tail == "clone" || tail == "half" || tail == "double" ||
          tail == "flatten" || tail == "permute" || tail == "transpose" || tail == "exp" ||
          tail == "cuda") {
        return is_model_output(q, obj, depth + 1);
      }
      if ((tail == "gather" || tail == "gather_for_metrics") &&
          cx.text(obj).find("accelerator") != std::string_view::npos) {
        return is_model_output(q, Semantics::positional(e, 0), depth + 1);
      }
    }
    return false;
  }
  if (kind == "attribute") {
    std::string_view a = cx.text(e.field("attribute"));
    if (a == "data")
      return q.concern == Concern::Device && is_model_output(q, e.field("object"), depth + 1);
    Node obj = e.field("object");
    if (is_output_field(a)) {
      std::string_view o = cx.text(obj);
      return o != "self" && o != "args" && o != "config";
    }
    return false;
  }
  if (kind == "subscript") return is_model_output(q, e.field("value"), depth + 1);
  if (kind == "binary_operator") {
    std::string_view op = cx.text(e.field("operator"));
    if (op != "+" && op != "-" && op != "*" && op != "/") return false;
    return is_model_output(q, e.field("left"), depth + 1) ||
           is_model_output(q, e.field("right"), depth + 1);
  }
  if (kind == "identifier") {
    std::string_view name = cx.text(e);
    if (name.find("loss") != std::string_view::npos) return false; // OOM201's business
    bool element = false;
    Node a = last_binding(cx.source(), q.scope, name, e.start(), &element);
    if (a.null()) return false;
    if (q.concern == Concern::Graph && under_no_grad_until(cx, a, q.scope)) return false;
    Node right = a.field("right");
    if (element && right.is("expression_list")) {
      // a, b = x, y: match the position.
      Node left = a.field("left");
      for (uint32_t i = 0, c = left.named_child_count(); i < c; ++i) {
        if (cx.text(left.named_child(i)) == name) {
          return is_model_output(q, right.named_child(i), depth + 1);
        }
      }
      return false;
    }
    return is_model_output(q, right, depth + 1);
  }
  return false;
}

// May `e` be a whole model output that is not a tensor (a Hugging Face ModelOutput, a tuple or a
// dict), on which `.detach()` does not exist? True for a direct model call that looks like a
// Hugging Face one (a from_pretrained model, keyword or `**batch` arguments) and names bound to it.
inline bool may_be_structured(const OutputQuery& q, Node e, int depth = 0) {
  if (e.null() || depth > 6) return false;
  const Context& cx = q.cx;
  if (e.is("parenthesized_expression")) return may_be_structured(q, e.named_child(0), depth + 1);
  if (e.is("call")) {
    if (!q.models.is_model_call(cx, e)) return false;
    Node f = Semantics::callee(e);
    if (f.is("attribute") && cx.text(f.field("attribute")) == "forward") f = f.field("object");
    if (q.models.pretrained.count(cx.text(f))) return true;
    Node args = Semantics::arguments(e);
    for (uint32_t i = 0, n = args.null() ? 0 : args.named_child_count(); i < n; ++i) {
      Node a = args.named_child(i);
      if (a.is("keyword_argument") || a.is("dictionary_splat")) return true;
    }
    return false;
  }
  if (e.is("identifier")) {
    bool element = false;
    Node a = last_binding(cx.source(), q.scope, cx.text(e), e.start(), &element);
    if (a.null() || element) return false;
    return may_be_structured(q, a.field("right"), depth + 1);
  }
  return false;
}

// `name` is a list (`name = []`, `name = list()`, `a, b = [], []`) created before `loop` in an
// enclosing block of the same function, and not created again or cleared inside the loop.
inline bool list_accumulates_across(const Context& cx, Node loop, std::string_view name) {
  auto anc = cx.ancestors();
  size_t loop_index = anc.size();
  for (size_t i = 0; i < anc.size(); ++i) {
    if (anc[i] == loop) loop_index = i;
  }
  if (loop_index == anc.size()) return false;
  auto is_new_list = [&](Node v) {
    if (v.is("list")) return true;
    return v.is("call") && cx.text(Semantics::callee(v)) == "list" &&
           Semantics::argument_count(v) == 0;
  };
  auto binds_list = [&](Node stmt) {
    if (!stmt.is("expression_statement") || stmt.named_child_count() != 1) return false;
    Node a = stmt.named_child(0);
    if (!a.is("assignment")) return false;
    Node left = a.field("left"), right = a.field("right");
    if (left.is("identifier")) return cx.text(left) == name && is_new_list(right);
    if ((left.is("pattern_list") || left.is("tuple_pattern")) && right.is("expression_list")) {
      for (uint32_t i = 0, c = left.named_child_count(); i < c; ++i) {
        if (cx.text(left.named_child(i)) == name) return is_new_list(right.named_child(i));
      }
    }
    return false;
  };
  bool created = false;
  for (size_t i = loop_index; i-- > 0 && !created;) {
    Node block = anc[i];
    if (block.is("function_definition") || block.is("class_definition")) break;
    if (!block.is("block") && !block.is("module")) continue;
    Node path = anc[i + 1];
    block.for_each_named_child([&](Node stmt) {
      if (stmt.start() >= path.start()) return false;
      if (binds_list(stmt)) created = true;
      return true;
    });
  }
  if (!created) return false;
  bool reset = false;
  visit_subtree(loop, [&](Node n) {
    if (reset) return false;
    if (n.is("assignment")) {
      Node left = n.field("left");
      if (left.is("identifier") && cx.text(left) == name) reset = true;
      if (left.is("pattern_list") || left.is("tuple_pattern")) {
        for (uint32_t i = 0, c = left.named_child_count(); i < c; ++i) {
          if (cx.text(left.named_child(i)) == name) reset = true;
        }
      }
    } else if (n.is("call") && cx.sema().callee_tail(n) == "clear" &&
               cx.text(Semantics::receiver(n)) == name) {
      reset = true;
    }
    return !reset;
  });
  return !reset;
}

// The expression with `suffix` (".detach()") appended, parenthesised when needed.
inline std::string with_suffix(const Context& cx, Node e, std::string_view suffix) {
  std::string_view k = e.kind();
  std::string text(cx.text(e));
  if (k == "identifier" || k == "attribute" || k == "call" || k == "subscript" ||
      k == "parenthesized_expression") {
    return text + std::string(suffix);
  }
  return "(" + text + ")" + std::string(suffix);
}

} // namespace oomlint::checks::facts
