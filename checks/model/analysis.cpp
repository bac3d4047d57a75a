#include "model/analysis.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <functional>
#include <set>

#include "facts/training_args.h"
#include "model/semantics.h"
#include "model/syntax.h"
#include "model/wrappers.h"

namespace oomlint::checks {

namespace {

constexpr int kMaxDepth = 24;

std::string_view last_part(std::string_view q) {
  auto dot = q.rfind('.');
  return dot == std::string_view::npos ? q : q.substr(dot + 1);
}

Node unparen(Node n) {
  while (n.is("parenthesized_expression") && n.named_child_count() == 1)
    n = n.named_child(0);
  return n;
}

// Named children of a tuple / list / expression list (the elements), comments left out.
std::vector<Node> elements(Node n) {
  std::vector<Node> out;
  n = unparen(n);
  if (!(n.is("tuple") || n.is("list") || n.is("expression_list") || n.is("pattern_list"))) {
    return out;
  }
  for (Node c = n.first_child(); !c.null(); c = c.next_sibling()) {
    if (c.named() && !c.is("comment")) out.push_back(c);
  }
  return out;
}

// The part of `value` that a binding at `path` takes (`a, (b, c) = x, (y, z)`: c is z), or null
// when the value is not written out as a tuple there.
Node element_at(Node value, const Binding& b) {
  Node v = value;
  for (uint8_t d = 0; d < b.depth; ++d) {
    auto es = elements(v);
    if (b.path[d] >= es.size()) return Node();
    for (const Node& e : es) {
      if (e.is("list_splat")) return Node();
    }
    v = es[b.path[d]];
  }
  return v;
}

bool is_model_like_name(std::string_view n) {
  if (n.empty() || (n[0] >= 'A' && n[0] <= 'Z')) return false;
  // Verbs: functions and methods that do something with a model (`eval_model(...)`,
  // `accelerator.prepare_model(...)`, `self._wrap_model(...)`), not a model.
  for (std::string_view p :
       {"get_",     "build_",  "create_",   "load_",   "make_",  "init_",    "wrap_",   "unwrap_",
        "prepare_", "eval_",   "evaluate_", "train_",  "run_",   "predict_", "test_",   "save_",
        "query_",   "call_",   "fit_",      "freeze_", "print_", "plot_",    "export_", "compile_",
        "convert_", "update_", "apply_",    "setup_",  "_"}) {
    if (n.starts_with(p)) return false;
  }
  if (n == "model" || n == "net" || n == "network" || n.ends_with("_model") ||
      n.ends_with("_net")) {
    return true;
  }
  return n.size() > 3 && n.starts_with("net") && n[3] >= 'A' && n[3] <= 'Z';
}

bool is_loss_function_name(std::string_view name) {
  for (std::string_view p : {"get_", "build_", "create_", "make_", "init_", "setup_", "load_"}) {
    if (name.starts_with(p)) return false;
  }
  return name == "criterion" || name == "loss_fn" || name == "loss_func" ||
         name == "loss_function" || name == "compute_loss" || name == "loss_fct" ||
         name == "lossfn" || name.ends_with("_loss") || name.ends_with("_criterion");
}

bool is_functional_loss(std::string_view fn) {
  return fn.find("loss") != std::string_view::npos || fn == "cross_entropy" ||
         fn == "binary_cross_entropy" || fn == "binary_cross_entropy_with_logits" ||
         fn == "kl_div" || fn == "nll_loss" || fn == "mse_loss" || fn == "l1_loss";
}

bool keeps_tensor(std::string_view m) {
  static constexpr std::string_view kKeep[] = {
      "mean",        "sum",     "clone", "to",         "float",   "squeeze", "unsqueeze", "view",
      "reshape",     "cuda",    "half",  "bfloat16",   "double",  "abs",     "sqrt",      "mul",
      "div",         "add",     "sub",   "contiguous", "flatten", "permute", "transpose", "softmax",
      "log_softmax", "sigmoid", "exp",   "log",        "type",    "type_as", "expand",    "repeat",
      "masked_fill", "pow",     "norm",  "max",        "min"};
  return std::find(std::begin(kKeep), std::end(kKeep), m) != std::end(kKeep);
}

// Methods and submodules of a model that run part of its forward pass, by their usual names.
bool is_forward_part(std::string_view m) {
  static constexpr std::string_view kParts[] = {"encode",
                                                "decode",
                                                "encode_image",
                                                "encode_text",
                                                "get_image_features",
                                                "get_text_features",
                                                "forward_features",
                                                "extract_features",
                                                "generator",
                                                "encoder",
                                                "decoder",
                                                "backbone"};
  return std::find(std::begin(kParts), std::end(kParts), m) != std::end(kParts);
}

bool is_output_field(std::string_view a) {
  return a == "logits" || a == "start_logits" || a == "end_logits" || a == "last_hidden_state" ||
         a == "hidden_states" || a == "pooler_output" || a == "prediction_logits" ||
         a == "logits_per_image" || a == "logits_per_text" || a == "image_embeds" ||
         a == "text_embeds" || a == "sample";
}

// A callee name (as a module summary records it) that may be another module of the project: a
// relative import, or any module that is not one of the big libraries of the field.
bool may_be_project(std::string_view name) {
  if (name.starts_with(".")) return true;
  std::string_view root = name.substr(0, name.find('.'));
  static constexpr std::string_view kLibraries[] = {"torch",
                                                    "numpy",
                                                    "transformers",
                                                    "os",
                                                    "sys",
                                                    "math",
                                                    "json",
                                                    "re",
                                                    "time",
                                                    "logging",
                                                    "random",
                                                    "collections",
                                                    "itertools",
                                                    "functools",
                                                    "typing",
                                                    "argparse",
                                                    "datasets",
                                                    "tqdm",
                                                    "accelerate",
                                                    "deepspeed",
                                                    "peft",
                                                    "trl",
                                                    "diffusers",
                                                    "torchvision",
                                                    "timm",
                                                    "lightning",
                                                    "pytorch_lightning",
                                                    "wandb",
                                                    "pandas",
                                                    "sklearn",
                                                    "scipy",
                                                    "PIL",
                                                    "cv2",
                                                    "matplotlib",
                                                    "einops",
                                                    "copy",
                                                    "shutil",
                                                    "pathlib",
                                                    "subprocess",
                                                    "warnings",
                                                    "dataclasses",
                                                    "gc",
                                                    "pickle",
                                                    "glob",
                                                    "yaml",
                                                    "omegaconf",
                                                    "hydra",
                                                    "np",
                                                    "pd",
                                                    "plt",
                                                    "F",
                                                    "nn",
                                                    "T"};
  return std::find(std::begin(kLibraries), std::end(kLibraries), root) == std::end(kLibraries);
}

bool is_config_like_name(std::string_view o) {
  return o == "self" || o == "args" || o == "config" || o == "cfg" || o == "hparams" ||
         o == "opt" || o == "options" || o == "opts" || o == "conf" || o == "params";
}

std::optional<Const> compare(std::string_view op, const Const& a, const Const& b) {
  if (op == "==") return Const::boolean(a == b);
  if (op == "!=") return Const::boolean(!(a == b));
  if (op == "is") {
    if (a.kind == Const::Kind::None || b.kind == Const::Kind::None) {
      return Const::boolean(a.kind == b.kind);
    }
    if (a.kind == Const::Kind::Bool && b.kind == Const::Kind::Bool)
      return Const::boolean(a.b == b.b);
    return std::nullopt;
  }
  if (op == "is not") {
    auto r = compare("is", a, b);
    if (!r) return r;
    return Const::boolean(!r->b);
  }
  if (a.is_number() && b.is_number()) {
    double x = a.number(), y = b.number();
    if (op == "<") return Const::boolean(x < y);
    if (op == "<=") return Const::boolean(x <= y);
    if (op == ">") return Const::boolean(x > y);
    if (op == ">=") return Const::boolean(x >= y);
  }
  return std::nullopt;
}

} // namespace

std::string Const::repr() const {
  switch (kind) {
  case Kind::None:
    return "None";
  case Kind::Bool:
    return b ? "True" : "False";
  case Kind::Int:
    return std::to_string(i);
  case Kind::Float:
    return std::to_string(f);
  case Kind::Str:
    return "'" + s + "'";
  }
  return "?";
}

struct Analysis::Impl {
  std::unordered_map<const void*, std::optional<Const>> consts;
  std::unordered_set<const void*> busy;
  int depth = 0;
  std::unordered_map<const void*, FunctionFacts> facts;
  std::unordered_set<const void*> facts_busy;
  // Facts computed after a recursive call was cut short: they may miss the flags of a function
  // still being computed, so they are kept only until the outermost facts() call is done.
  bool facts_cut = false;
  std::unordered_map<const void*, FunctionFacts> facts_provisional;
  std::unordered_map<const void*, uint8_t> tensors;
  std::unordered_map<const void*, bool> no_grad_functions; // only called under no_grad
  std::optional<bool> script;                              // the file runs as __main__
  // argparse options of the file and of the project modules it imports: dest -> default
  // (nullopt: declared more than once with different defaults, or a default the analysis
  // cannot read).
  bool options_built = false;
  std::unordered_map<std::string, std::optional<Const>> options;
  std::unordered_map<std::string, std::shared_ptr<const ModuleSummary>> modules; // by name
  std::unordered_map<const void*, Ref> resolved; // resolve() answers no guard cut short
  uint64_t cuts = 0;                             // Guards refused so far
  std::unordered_map<std::string, Ref> specs;    // resolve_spec, by importer, hops and spec

  struct Guard {
    Impl& impl;
    const void* key;
    bool ok;
    Guard(Impl& i, const void* k) : impl(i), key(k) {
      ok = impl.depth < kMaxDepth && impl.busy.insert(k).second;
      if (ok) {
        ++impl.depth;
      } else {
        ++impl.cuts;
      }
    }
    ~Guard() {
      if (ok) {
        --impl.depth;
        impl.busy.erase(key);
      }
    }
  };
};

Analysis::Analysis(std::string_view source, Node root, const Semantics& sema, FileContext file)
    : source_(source), sema_(sema), file_(std::move(file)), flow_(source, root),
      impl_(std::make_unique<Impl>()) {}

Analysis::~Analysis() = default;

// ---- constants ----

std::optional<Const> Analysis::constant(Node e) const {
  e = unparen(e);
  if (e.null()) return std::nullopt;
  auto memo = impl_->consts.find(e.id());
  if (memo != impl_->consts.end()) return memo->second;
  Impl::Guard guard(*impl_, e.id());
  if (!guard.ok) return std::nullopt;
  std::optional<Const> out;
  if (e.is("integer")) {
    if (auto v = sema_.int_value(e)) out = Const::integer(*v);
  } else if (e.is("float")) {
    std::string t(text(e));
    std::erase(t, '_');
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (end && *end == 0) out = Const::real(v);
  } else if (e.is("string")) {
    if (auto v = sema_.string_value(e)) out = Const::string(std::string(*v));
  } else if (e.is("concatenated_string")) {
    std::string all;
    bool ok = true;
    for (Node c = e.first_child(); !c.null() && ok; c = c.next_sibling()) {
      if (!c.is("string")) continue;
      auto v = sema_.string_value(c);
      ok = v.has_value();
      if (ok) all += *v;
    }
    if (ok) out = Const::string(all);
  } else if (e.is("true")) {
    out = Const::boolean(true);
  } else if (e.is("false")) {
    out = Const::boolean(false);
  } else if (e.is("none")) {
    out = Const::none();
  } else if (e.is("unary_operator")) {
    auto v = constant(e.field("argument"));
    std::string_view op = text(e.field("operator"));
    if (v && op == "-" && v->kind == Const::Kind::Int) out = Const::integer(-v->i);
    if (v && op == "-" && v->kind == Const::Kind::Float) out = Const::real(-v->f);
    if (v && op == "+" && v->is_number()) out = v;
  } else if (e.is("not_operator")) {
    if (auto v = constant(e.field("argument"))) out = Const::boolean(!v->truthy());
  } else if (e.is("boolean_operator")) {
    auto left = constant(e.field("left"));
    std::string_view op = text(e.field("operator"));
    if (left) {
      bool t = left->truthy();
      if ((op == "and" && !t) || (op == "or" && t)) {
        out = left;
      } else {
        out = constant(e.field("right"));
      }
    } else if (auto right = constant(e.field("right"))) {
      // `x or True` is truthy and `x and False` falsy whatever x is (as a condition).
      if ((op == "or" && right->truthy()) || (op == "and" && !right->truthy())) {
        out = Const::boolean(right->truthy());
      }
    }
  } else if (e.is("comparison_operator")) {
    std::vector<Node> operands;
    std::vector<std::string> ops;
    for (Node c = e.first_child(); !c.null(); c = c.next_sibling()) {
      if (c.is("comment")) continue;
      if (c.named()) {
        operands.push_back(c);
      } else {
        std::string t(text(c));
        if (!ops.empty() &&
            ((ops.back() == "not" && t == "in") || (ops.back() == "is" && t == "not"))) {
          ops.back() += " " + t;
        } else {
          ops.push_back(t);
        }
      }
    }
    if (operands.size() == 2 && ops.size() == 1) {
      auto a = constant(operands[0]);
      if (ops[0] == "in" || ops[0] == "not in") {
        auto es = elements(operands[1]);
        if (a && !es.empty()) {
          bool all = true, found = false;
          for (Node x : es) {
            auto c = constant(x);
            all = all && c.has_value();
            found = found || (c && *c == *a);
          }
          if (found || all) out = Const::boolean((ops[0] == "in") == found);
        } else if (a && a->kind == Const::Kind::Str) {
          auto b = constant(operands[1]);
          if (b && b->kind == Const::Kind::Str) {
            bool found = b->s.find(a->s) != std::string::npos;
            out = Const::boolean((ops[0] == "in") == found);
          }
        }
      } else {
        auto b = constant(operands[1]);
        if (a && b) out = compare(ops[0], *a, *b);
      }
    }
  } else if (e.is("conditional_expression")) {
    Node a = e.named_child(0), cond = e.named_child(1), b = e.named_child(2);
    if (auto c = constant(cond)) {
      out = constant(c->truthy() ? a : b);
    } else {
      auto x = constant(a), y = constant(b);
      if (x && y && *x == *y) out = x;
    }
  } else if (e.is("identifier")) {
    auto bindings = flow_.reaching(text(e), e);
    std::optional<Const> all;
    bool first = true;
    for (const Binding* b : bindings) {
      std::optional<Const> v;
      switch (b->kind) {
      case Binding::Kind::Assign:
      case Binding::Kind::Walrus:
        v = constant(element_at(b->value, *b));
        break;
      case Binding::Kind::Param:
        v = parameter_value(*b);
        break;
      case Binding::Kind::Import: {
        // What the import binds (resolving its target would look before the import).
        Ref r = ref_of_binding(*b);
        if (r.kind == Ref::Kind::ProjectConstant && r.module) {
          if (const Const* c = r.module->constant(r.name)) v = *c;
        }
        break;
      }
      default:
        break;
      }
      if (!v || (!first && !(all && *all == *v && all->kind == v->kind))) {
        all.reset();
        first = false;
        break;
      }
      all = v;
      first = false;
    }
    if (!first) out = all;
  } else if (e.is("attribute")) {
    Node obj = e.field("object");
    std::string attr(text(e.field("attribute")));
    Ref r = resolve(e);
    if (r.kind == Ref::Kind::ProjectConstant && r.module) {
      if (const Const* c = r.module->constant(r.name)) out = *c;
    } else if (r.is_library("typing.TYPE_CHECKING")) {
      out = Const::boolean(false);
    } else {
      // `args.fp16`: an option of an argparse parser.
      Node o = unparen(obj);
      bool parsed = false;
      std::function<bool(Node, int)> is_namespace = [&](Node x, int d) -> bool {
        x = unparen(x);
        if (d > 4) return false;
        if (x.is("call")) {
          std::string_view tail = sema_.callee_tail(x);
          if (tail == "parse_args") return true;
          if (auto f = call_facts(x)) return f->has(FunctionFacts::ReturnsParser);
          return false;
        }
        if (x.is("subscript")) {
          Node v = unparen(x.field("value"));
          return v.is("call") && sema_.callee_tail(v) == "parse_known_args" &&
                 constant(x.field("subscript")) == Const::integer(0);
        }
        if (x.is("identifier")) {
          auto bs = flow_.reaching(text(x), x);
          if (bs.empty()) return false;
          for (const Binding* b : bs) {
            if (b->kind == Binding::Kind::Param) {
              // `args: TrainConfig`: a dataclass, read below as one.
              Node type = b->site.is("typed_parameter") || b->site.is("typed_default_parameter")
                              ? b->site.field("type")
                              : Node();
              if (!type.null() && !text(type).ends_with("Namespace")) return false;
              std::string_view n = text(b->target);
              if (!(n == "args" || n == "opt" || n == "opts" || n == "options" || n == "hparams" ||
                    n == "flags" || n == "cmd_args" || n == "arguments")) {
                return false;
              }
              continue;
            }
            if (b->kind != Binding::Kind::Assign) return false;
            Node val = element_at(b->value, *b);
            if (val.null() && b->depth == 1 && b->path[0] == 0 && unparen(b->value).is("call") &&
                sema_.callee_tail(unparen(b->value)) == "parse_known_args") {
              continue; // args, unknown = parser.parse_known_args()
            }
            if (!is_namespace(val, d + 1)) return false;
          }
          return true;
        }
        if (x.is("attribute") && text(unparen(x.field("object"))) == "self") {
          Node fn = flow_.function_of(x);
          Node cls = fn.null() ? Node() : flow_.class_of_method(fn);
          if (cls.null()) return false;
          auto writes = flow_.attribute_bindings(cls, text(x.field("attribute")));
          if (writes.empty() && text(x.field("attribute")) == "hparams") {
            // Lightning: `self.save_hyperparameters(hparams)` in this class keeps the parsed
            // namespace as `self.hparams`.
            bool saved = false;
            for (Node c : flow_.calls_named("save_hyperparameters")) {
              Node on = Semantics::receiver(c);
              if (on.null() || text(on) != "self" || Semantics::argument_count(c) != 1) continue;
              Node m = flow_.function_of(c);
              if (m.null() || !(flow_.class_of_method(m) == cls)) continue;
              Node a = Semantics::positional(c, 0);
              if (a.null() || !is_namespace(a, d + 1)) return false;
              saved = true;
            }
            return saved;
          }
          if (writes.empty()) return false;
          for (const AttributeBinding& w : writes) {
            if (w.augmented || !is_namespace(w.value, d + 1)) return false;
          }
          return true;
        }
        return false;
      };
      parsed = is_namespace(o, 0);
      if (parsed) {
        if (!impl_->options_built) {
          impl_->options_built = true;
          impl_->options = option_table();
          // Options declared by the project modules the file imports (resolving the imports
          // records them).
          for (const Binding& b : flow_.all_bindings()) {
            if (b.kind == Binding::Kind::Import && b.scope == 0) ref_of_binding(b);
          }
          for (const auto& [name, module] : impl_->modules) {
            if (!module) continue;
            for (const auto& [dest, v] : module->options) {
              if (!impl_->options.count(dest)) impl_->options.emplace(dest, v);
            }
          }
        }
        auto it = impl_->options.find(attr);
        if (it != impl_->options.end()) out = it->second;
      } else if (o.is("identifier") && text(o) == "self") {
        // self.x: every assignment of the attribute in the file agrees (through self, in this
        // class), or the class-level default when nothing assigns it.
        Node fn = flow_.function_of(e);
        Node cls = fn.null() ? Node() : flow_.class_of_method(fn);
        if (!cls.null()) {
          auto writes = flow_.attribute_bindings(cls, attr);
          size_t all_writes = flow_.attribute_writes(attr).size();
          if (!writes.empty() && writes.size() == all_writes) {
            std::optional<Const> v;
            bool ok = true;
            for (const AttributeBinding& w : writes) {
              auto c = w.augmented ? std::nullopt : constant(w.value);
              if (!c || (v && !(*v == *c))) {
                ok = false;
                break;
              }
              v = c;
            }
            if (ok) out = v;
          } else if (writes.empty() && all_writes == 0) {
            for (const Binding* b : flow_.bindings(flow_.scope_opened_by(cls), attr)) {
              if (b->kind == Binding::Kind::Assign) out = constant(element_at(b->value, *b));
            }
          }
        }
      } else {
        // An instance of a dataclass / config class of the file or the project: its field's
        // default, unless the call that made it passes the field.
        Ref cls = class_of(o);
        // A field the class does not declare: the first base of the file that does.
        for (int hops = 0; cls.kind == Ref::Kind::Class && hops < 8 &&
                           flow_.bindings(flow_.scope_opened_by(cls.node), attr).empty();
             ++hops) {
          Ref base;
          Node supers = cls.node.field("superclasses");
          for (Node s = supers.null() ? Node() : supers.first_child(); !s.null();
               s = s.next_sibling()) {
            if (!s.named() || s.is("keyword_argument") || s.is("comment")) continue;
            base = resolve(s);
            break;
          }
          if (base.kind == Ref::Kind::Library) cls = base; // a library's field default, below
          if (base.kind != Ref::Kind::Class && base.kind != Ref::Kind::ProjectClass) break;
          cls = base;
        }
        if (cls.kind == Ref::Kind::Class) {
          for (const Binding* b : flow_.bindings(flow_.scope_opened_by(cls.node), attr)) {
            if (b->kind != Binding::Kind::Assign) continue;
            Node v = element_at(b->value, *b);
            if (v.is("call") && last_part(text(Semantics::callee(v))) == "field") {
              v = sema_.keyword(v, "default");
            }
            out = constant(v);
          }
        } else if (cls.kind == Ref::Kind::ProjectClass && cls.module) {
          // The class's own default, else the first base's in Python's order of lookup, depth
          // first (a field declared without a literal default is not in the summary, so a
          // base's default may then stand in).
          std::function<std::optional<Const>(const Ref&, int)> field_of =
              [&](const Ref& at, int depth) -> std::optional<Const> {
            if (depth > 6 || at.kind != Ref::Kind::ProjectClass || !at.module) return std::nullopt;
            const ClassSummary* c = at.module->cls(at.name);
            if (!c) return std::nullopt;
            if (const Const* f = c->field(attr)) return *f;
            for (const std::string& b : c->bases) {
              // A base named as the module binds it: a class of the same module, an import.
              Ref base =
                  b.find('.') == std::string::npos ? member_of(at.file, at.module, b, 0) : Ref();
              if (!base) base = resolve_spec(b, at.file, 0);
              std::optional<Const> v = base.kind == Ref::Kind::Library
                                           ? facts::training_arguments_default(base.name, attr)
                                           : field_of(base, depth + 1);
              if (v) return v;
            }
            return std::nullopt;
          };
          out = field_of(cls, 0);
        } else if (cls.kind == Ref::Kind::Library) {
          out = facts::training_arguments_default(cls.name, attr);
        }
        if (out && o.is("identifier")) {
          for (const Binding* b : flow_.reaching(text(o), o)) {
            Node v = b->kind == Binding::Kind::Assign ? unparen(element_at(b->value, *b)) : Node();
            if (v.is("call")) {
              Node given = sema_.keyword(v, attr);
              if (!given.null()) out = constant(given);
              for (Node a = Semantics::arguments(v).first_child(); !a.null();
                   a = a.next_sibling()) {
                if (a.is("dictionary_splat") || a.is("list_splat")) out.reset();
              }
            }
          }
          // Any assignment to the attribute elsewhere may change it.
          for (Node w : flow_.attribute_writes(attr)) {
            if (unparen(w.field("left").field("object")).is("identifier") &&
                text(w.field("left").field("object")) == text(o)) {
              auto c = constant(w.field("right"));
              if (!c || !(*c == *out)) out.reset();
              if (!out) break;
            }
          }
        }
      }
    }
  } else if (e.is("subscript")) {
    Node value = unparen(e.field("value"));
    auto key = constant(e.field("subscript"));
    if (key && value.is("dictionary")) {
      for (Node p = value.first_child(); !p.null(); p = p.next_sibling()) {
        if (!p.is("pair")) continue;
        auto k = constant(p.field("key"));
        if (k && *k == *key) out = constant(p.field("value"));
      }
    }
  } else if (e.is("call")) {
    Ref r = callee(e);
    if (r.is_library("torch.cuda.is_available")) {
      out = Const::boolean(true);
    } else if (r.kind == Ref::Kind::None && Semantics::callee(e).is("identifier") &&
               flow_.reaching(text(Semantics::callee(e)), e).empty()) {
      std::string_view builtin = text(Semantics::callee(e));
      Node arg = Semantics::positional(e, 0);
      if (Semantics::argument_count(e) == 1) {
        auto v = constant(arg);
        if (v && builtin == "bool") out = Const::boolean(v->truthy());
        if (v && builtin == "int" && v->is_number())
          out = Const::integer(static_cast<long long>(v->number()));
        if (v && builtin == "float" && v->is_number()) out = Const::real(v->number());
        if (v && builtin == "str" && v->kind == Const::Kind::Str) out = v;
      }
    } else if (Semantics::argument_count(e) == 0) {
      // `args.optimizer.lower()`: case and blanks of a known string.
      Node f = Semantics::callee(e);
      std::string_view m = f.is("attribute") ? text(f.field("attribute")) : std::string_view();
      if (m == "lower" || m == "upper" || m == "strip" || m == "casefold") {
        auto v = constant(f.field("object"));
        if (v && v->kind == Const::Kind::Str) {
          std::string t = v->s;
          if (m == "strip") {
            auto a = t.find_first_not_of(" \t\n\r");
            t = a == std::string::npos ? std::string()
                                       : t.substr(a, t.find_last_not_of(" \t\n\r") - a + 1);
          } else {
            for (char& ch : t) {
              ch = m == "upper" ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch)))
                                : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            }
          }
          out = Const::string(std::move(t));
        }
      } else if (auto facts = call_facts(e)) {
        out = facts->returns_const;
      }
    }
  }
  impl_->consts[e.id()] = out;
  return out;
}

std::optional<Const> Analysis::parameter_value(const Binding& b) const {
  // What every call of the file passes for the parameter (its default where a call leaves it
  // out), when the file calls the function at all: a function that other modules call may get
  // anything. A parameter without a default also needs every call to be in this file.
  Node fn = flow_.scope(b.scope).node;
  if (!fn.is("function_definition")) return std::nullopt;
  std::optional<Const> def;
  if (!b.value.null()) {
    def = constant(b.value);
    if (!def) return std::nullopt;
  } else if (!callers_complete(fn)) {
    return std::nullopt;
  }
  std::string_view pname = text(b.target);
  // The parameter's place among the positional ones.
  int index = 0, position = -1;
  for (Node p = fn.field("parameters").first_child(); !p.null(); p = p.next_sibling()) {
    if (!p.named()) continue;
    if (p.is("list_splat_pattern") || p.is("keyword_separator")) break;
    if (p.is("positional_separator")) continue; // `/` is no parameter
    if (p == b.site) position = index;
    ++index;
  }
  bool method = !flow_.class_of_method(fn).null();
  bool constructor = method && text(fn.field("name")) == "__init__";
  auto calls = callers(fn);
  if (calls.empty()) return std::nullopt;
  std::optional<Const> value;
  for (Node call : calls) {
    Node args = Semantics::arguments(call);
    // `self` is the first parameter: an attribute call or a constructor passes it.
    int pos = method && (constructor || Semantics::callee(call).is("attribute")) ? 1 : 0;
    Node given;
    for (Node a = args.first_child(); !a.null(); a = a.next_sibling()) {
      if (!a.named() || a.is("comment")) continue;
      if (a.is("list_splat") || a.is("dictionary_splat")) return std::nullopt;
      if (a.is("keyword_argument")) {
        if (text(a.field("name")) == pname) given = a.field("value");
      } else {
        if (pos == position) given = a;
        ++pos;
      }
    }
    std::optional<Const> here = given.null() ? def : constant(given);
    if (!here || (value && !(*value == *here))) return std::nullopt;
    value = here;
  }
  return value;
}

bool Analysis::is_dead(Node n) const {
  // Dead if the parent makes this child unreachable, or the parent is dead: kept per node, so a
  // chain of nested nodes costs one walk.
  std::vector<Node> path;
  bool dead = false;
  for (Node c = n; !c.null(); c = c.parent()) {
    auto known = dead_.find(c.id());
    if (known != dead_.end()) {
      dead = known->second;
      break;
    }
    path.push_back(c);
  }
  for (size_t i = path.size(); i-- > 0;) {
    Node c = path[i];
    Node p = c.parent();
    dead = dead || (!p.null() && dead_under(c, p));
    dead_.emplace(c.id(), dead);
  }
  return dead;
}

// Whether `p` never runs its child `child`, on what the constants say.
bool Analysis::dead_under(Node child, Node p) const {
  if (p.is("if_statement")) {
    Node cond = p.field("condition");
    if (child == p.field("consequence")) {
      auto c = constant(cond);
      if (c && !c->truthy()) return true;
      return false;
    }
    if (!child.is("elif_clause") && !child.is("else_clause")) return false;
    auto c = constant(cond);
    if (c && c->truthy()) return true; // the first branch always runs
    for (Node b = p.first_child(); !b.null() && !(b == child); b = b.next_sibling()) {
      if (!b.is("elif_clause")) continue;
      auto bc = constant(b.field("condition"));
      if (bc && bc->truthy()) return true;
    }
    return false;
  }
  if (p.is("elif_clause") && child == p.field("consequence")) {
    auto c = constant(p.field("condition"));
    if (c && !c->truthy()) return true;
    return false;
  }
  if (p.is("conditional_expression")) {
    Node a = p.named_child(0), cond = p.named_child(1), b = p.named_child(2);
    if (child == a || child == b) {
      auto c = constant(cond);
      if (c && c->truthy() == (child == b)) return true;
    }
    return false;
  }
  if (p.is("while_statement") && child == p.field("body")) {
    auto c = constant(p.field("condition"));
    if (c && !c->truthy()) return true;
    return false;
  }
  if (p.is("boolean_operator") && child == p.field("right")) {
    auto c = constant(p.field("left"));
    std::string_view op = text(p.field("operator"));
    if (c && ((op == "and" && !c->truthy()) || (op == "or" && c->truthy()))) return true;
  }
  return false;
}

// ---- what names refer to ----

namespace {

struct ImportSpec {
  std::string module; // dotted, without the leading dots
  int level = 0;
  std::string member; // for `from m import member`; empty for `import m`
};

// The import a binding comes from.
std::optional<ImportSpec> import_spec(const Binding& b, std::string_view source) {
  Node stmt = b.site, item = b.value;
  ImportSpec spec;
  if (stmt.is("import_statement")) {
    Node dotted = item.is("aliased_import") ? item.field("name") : item;
    std::string full(dotted.text(source));
    std::erase_if(full, [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\\'; });
    if (item.is("aliased_import")) {
      spec.module = full;
    } else {
      spec.module = full.substr(0, full.find('.')); // `import a.b` binds `a`
    }
    return spec;
  }
  if (!stmt.is("import_from_statement")) return std::nullopt;
  Node module = stmt.field("module_name");
  if (module.is("relative_import")) {
    for (Node c = module.first_child(); !c.null(); c = c.next_sibling()) {
      if (c.is("import_prefix")) {
        for (char ch : c.text(source))
          spec.level += ch == '.';
      } else if (c.is("dotted_name")) {
        spec.module = std::string(c.text(source));
      }
    }
  } else {
    spec.module = std::string(module.text(source));
  }
  Node name = item.is("aliased_import") ? item.field("name") : item;
  spec.member = std::string(name.text(source));
  return spec;
}

} // namespace

Ref Analysis::resolve_spec(std::string_view spec, const std::filesystem::path& from,
                           int hops) const {
  // The same import is resolved for every use of the name it binds: the walk over the project's
  // folders (and the summaries it reaches) runs once per spelling and importer.
  std::string key = from.native();
  key += '\0';
  key += static_cast<char>('0' + hops);
  key += '\0';
  key += spec;
  auto known = impl_->specs.find(key);
  if (known != impl_->specs.end()) return known->second;
  Ref r = resolve_spec_fresh(spec, from, hops);
  impl_->specs.emplace(std::move(key), r);
  return r;
}

Ref Analysis::resolve_spec_fresh(std::string_view spec, const std::filesystem::path& from,
                                 int hops) const {
  Ref none;
  const ProjectIndex* project = file_.project;
  int level = 0;
  while (static_cast<size_t>(level) < spec.size() && spec[static_cast<size_t>(level)] == '.')
    ++level;
  std::string_view rest = spec.substr(static_cast<size_t>(level));
  std::vector<std::string_view> parts;
  for (size_t pos = 0; pos <= rest.size() && !rest.empty();) {
    size_t dot = std::min(rest.find('.', pos), rest.size());
    parts.push_back(rest.substr(pos, dot - pos));
    pos = dot + 1;
  }
  if (project && hops < 6) {
    // The longest prefix that is a project module; what follows is a name in it.
    for (size_t k = parts.size() + 1; k-- > 0;) {
      if (k == 0 && level == 0) break;
      std::string module;
      for (size_t i = 0; i < k; ++i) {
        if (i) module += ".";
        module += parts[i];
      }
      auto file = project->resolve(module, level, from);
      if (!file) continue;
      auto summary = project->summary(*file);
      if (summary) impl_->modules[file->string()] = summary;
      if (k == parts.size()) {
        Ref r;
        r.kind = Ref::Kind::ProjectModule;
        r.file = *file;
        r.module = summary;
        r.name = std::string(parts.empty() ? std::string_view() : parts.back());
        return r;
      }
      std::string member;
      for (size_t i = k; i < parts.size(); ++i) {
        if (i > k) member += ".";
        member += parts[i];
      }
      return member_of(*file, summary, member, hops);
    }
  }
  if (level > 0) return none;
  Ref r;
  r.kind = Ref::Kind::Library;
  r.name = std::string(rest);
  return r;
}

Ref Analysis::member_of(const std::filesystem::path& file,
                        const std::shared_ptr<const ModuleSummary>& module,
                        const std::string& member, int hops) const {
  Ref r;
  if (!module) return r;
  auto dot = member.find('.');
  std::string first = member.substr(0, dot);
  std::string rest = dot == std::string::npos ? "" : member.substr(dot + 1);
  r.file = file;
  r.module = module;
  if (rest.empty() && module->function(first)) {
    r.kind = Ref::Kind::ProjectFunction;
    r.name = first;
  } else if (const ClassSummary* c = module->cls(first)) {
    if (rest.empty()) {
      r.kind = Ref::Kind::ProjectClass;
      r.name = first;
    } else if (c->method(rest)) {
      r.kind = Ref::Kind::ProjectFunction;
      r.name = member;
    }
  } else if (rest.empty() && module->constant(first)) {
    r.kind = Ref::Kind::ProjectConstant;
    r.name = first;
  } else if (const std::string* target = module->import(first)) {
    // A name the module imports (a package's __init__.py re-exporting its modules' names).
    return resolve_spec(*target + (rest.empty() ? "" : "." + rest), file, hops + 1);
  }
  if (r.kind == Ref::Kind::None) return Ref();
  return r;
}

uint32_t Analysis::inherited_flags(const std::filesystem::path& file,
                                   const std::vector<std::string>& calls) const {
  uint32_t flags = 0;
  std::set<std::string> seen;
  std::vector<std::pair<std::filesystem::path, std::string>> todo;
  for (const std::string& c : calls)
    todo.emplace_back(file, c);
  while (!todo.empty() && seen.size() < 64) {
    auto [from, spec] = todo.back();
    todo.pop_back();
    if (!seen.insert(from.string() + "|" + spec).second) continue;
    Ref r = resolve_spec(spec, from, 0);
    if (r.kind == Ref::Kind::Library) {
      if (const KnownWrapper* w = known_wrapper(r.name)) flags |= w->flags;
      continue;
    }
    if (r.kind != Ref::Kind::ProjectFunction || !r.module) continue;
    const FunctionFacts* f = project_function(r);
    if (!f) continue;
    flags |= f->inherited();
    for (const std::string& next : f->calls)
      todo.emplace_back(r.file, next);
  }
  return flags;
}

const FunctionFacts* Analysis::project_function(const Ref& r) const {
  if (!r.module) return nullptr;
  if (const FunctionFacts* f = r.module->function(r.name)) return f;
  auto dot = r.name.find('.');
  if (dot == std::string::npos) return nullptr;
  const ClassSummary* cls = r.module->cls(r.name.substr(0, dot));
  return cls ? cls->method(r.name.substr(dot + 1)) : nullptr;
}

Ref Analysis::ref_of_binding(const Binding& binding) const {
  const Binding* b = &binding;
  Ref r;
  switch (b->kind) {
  case Binding::Kind::Def:
    r.kind = Ref::Kind::Function;
    r.node = b->site;
    break;
  case Binding::Kind::Class:
    r.kind = Ref::Kind::Class;
    r.node = b->site;
    break;
  case Binding::Kind::Import: {
    auto spec = import_spec(*b, source_);
    if (!spec) break;
    // The import as one dotted path, with its leading dots (`from ..utils import f` is
    // "..utils.f"): resolved in the project when there is one, else kept as written (a module
    // summary keeps it so, and its importers resolve it).
    std::string dotted(static_cast<size_t>(spec->level), '.');
    dotted += spec->module;
    if (!spec->member.empty()) {
      if (!spec->module.empty()) dotted += ".";
      dotted += spec->member;
    }
    if (file_.project && !file_.path.empty()) {
      r = resolve_spec(dotted, file_.path, 0);
    } else {
      r.kind = Ref::Kind::Library;
      r.name = dotted;
    }
    break;
  }
  case Binding::Kind::Assign:
  case Binding::Kind::Walrus: {
    Node v = unparen(element_at(b->value, *b));
    if (v.is("identifier") || v.is("attribute")) {
      r = resolve(v);
    } else if (v.is("call") && sema_.callee_tail(v) == "getattr" &&
               Semantics::argument_count(v) >= 2) {
      // getattr(torch, "cuda"), getattr(torch, device_type): a module picked at run time.
      Ref base = resolve(Semantics::positional(v, 0));
      auto attr = constant(Semantics::positional(v, 1));
      if (base.kind == Ref::Kind::Library && attr && attr->kind == Const::Kind::Str) {
        r.kind = Ref::Kind::Library;
        r.name = base.name + "." + attr->s;
      } else if (base.is_library("torch")) {
        r.kind = Ref::Kind::Library;
        r.name = "torch.<device>";
      }
    } else if (v.is("call")) {
      Ref c = callee(v);
      if (c.is_library("torch.get_device_module") || c.is_library("torch.accelerator")) {
        r.kind = Ref::Kind::Library;
        r.name = "torch.<device>";
      }
    }
    break;
  }
  default:
    break;
  }
  return r;
}

Ref Analysis::resolve(Node e) const {
  e = unparen(e);
  if (e.null()) return Ref();
  auto found = impl_->resolved.find(e.id());
  if (found != impl_->resolved.end()) return found->second;
  // An answer is kept only when no recursion guard cut the search short on the way (a cycle, or
  // the depth limit): such an answer depends on what was being resolved around it.
  uint64_t cuts = impl_->cuts;
  Ref r = resolve_fresh(e);
  if (impl_->cuts == cuts) impl_->resolved.emplace(e.id(), r);
  return r;
}

Ref Analysis::resolve_fresh(Node e) const {
  Ref none;
  Impl::Guard guard(*impl_, reinterpret_cast<const char*>(e.id()) + 1);
  if (!guard.ok) return none;
  if (e.is("identifier")) {
    auto bindings = flow_.reaching(text(e), e);
    if (bindings.empty()) return none;
    Ref out;
    bool first = true;
    for (const Binding* b : bindings) {
      Ref r = ref_of_binding(*b);
      if (first) {
        out = r;
        first = false;
      } else if (!(r.kind == out.kind && r.name == out.name && r.node == out.node)) {
        return none;
      }
      if (!out) return none;
    }
    return out;
  }
  if (e.is("attribute")) {
    Node obj = e.field("object");
    std::string attr(text(e.field("attribute")));
    Ref base = resolve(obj);
    Ref r;
    switch (base.kind) {
    case Ref::Kind::Library:
      r.kind = Ref::Kind::Library;
      r.name = base.name + "." + attr;
      return r;
    case Ref::Kind::ProjectModule: {
      if (!file_.project) return none;
      if (auto f = file_.project->submodule(base.file, attr)) {
        r.kind = Ref::Kind::ProjectModule;
        r.file = *f;
        r.module = file_.project->summary(*f);
        r.name = attr;
        return r;
      }
      return member_of(base.file, base.module, attr, 0);
    }
    case Ref::Kind::Class: {
      std::string cls(text(base.node.field("name")));
      Node m = flow_.definition(cls + "." + attr);
      if (!m.null()) {
        r.kind = Ref::Kind::Function;
        r.node = m;
        return r;
      }
      return none;
    }
    default:
      break;
    }
    // A method of an object whose class is known.
    Ref cls = class_of(obj);
    if (cls.kind == Ref::Kind::Class) {
      // The method, on the class or a base of the file.
      for (int hop = 0; hop < 6 && cls.kind == Ref::Kind::Class; ++hop) {
        std::string name(text(cls.node.field("name")));
        Node m = flow_.definition(name + "." + attr);
        if (!m.null()) {
          r.kind = Ref::Kind::Function;
          r.node = m;
          return r;
        }
        Node supers = cls.node.field("superclasses");
        Ref next;
        for (Node s = supers.first_child(); !s.null(); s = s.next_sibling()) {
          if (!s.named() || s.is("keyword_argument")) continue;
          Ref b = resolve(s);
          if (b.kind == Ref::Kind::Class || b.kind == Ref::Kind::ProjectClass ||
              b.kind == Ref::Kind::Library) {
            next = b;
            break;
          }
        }
        cls = next;
      }
    }
    if (cls.kind == Ref::Kind::ProjectClass && cls.module) {
      if (const ClassSummary* c = cls.module->cls(cls.name)) {
        if (c->method(attr)) {
          r.kind = Ref::Kind::ProjectFunction;
          r.module = cls.module;
          r.name = cls.name + "." + attr;
          return r;
        }
      }
    }
    if (cls.kind == Ref::Kind::Library) {
      r.kind = Ref::Kind::Library;
      r.name = cls.name + "." + attr;
      return r;
    }
    return none;
  }
  if (e.is("call")) {
    Ref c = callee(e);
    if (c.kind == Ref::Kind::Library) {
      // get_accelerator(), torch.get_device_module(): what they return, by the call's name.
      Ref r;
      r.kind = Ref::Kind::Library;
      r.name = c.name + "()";
      return r;
    }
  }
  return none;
}

Ref Analysis::callee(Node call) const {
  if (!call.is("call")) return Ref();
  return resolve(Semantics::callee(call));
}

Ref Analysis::class_of(Node e) const {
  e = unparen(e);
  Ref none;
  if (e.null()) return none;
  Impl::Guard guard(*impl_, reinterpret_cast<const char*>(e.id()) + 2);
  if (!guard.ok) return none;
  if (e.is("call")) {
    Node f = Semantics::callee(e);
    std::string_view tail = sema_.callee_tail(e);
    if (f.is("attribute") &&
        (tail == "to" || tail == "cuda" || tail == "eval" || tail == "train" || tail == "half" ||
         tail == "float" || tail == "bfloat16" || tail == "requires_grad_" || tail == "cpu")) {
      return class_of(f.field("object"));
    }
    Ref c = callee(e);
    if (c.kind == Ref::Kind::Class || c.kind == Ref::Kind::ProjectClass) return c;
    if (c.kind == Ref::Kind::ProjectFunction) {
      const FunctionFacts* facts_of = project_function(c);
      if (facts_of && !facts_of->returns_class.empty()) {
        Ref cls;
        cls.kind = Ref::Kind::Library;
        cls.name = facts_of->returns_class;
        return cls;
      }
      return none;
    }
    if (c.kind == Ref::Kind::Library) {
      std::string_view last = last_part(c.name);
      if (last == "from_pretrained" || last == "from_config") {
        Ref cls;
        cls.kind = Ref::Kind::Library;
        cls.name = c.name.substr(0, c.name.size() - last.size() - 1);
        return cls;
      }
      if (c.name == "torch.compile") {
        // The compiled module answers for the module it wraps.
        Ref inner = class_of(Semantics::positional(e, 0));
        if (inner) return inner;
      }
      if (c.name == "timm.create_model" || c.name.starts_with("torchvision.models.") ||
          c.name == "peft.get_peft_model" || c.name == "torch.compile") {
        // A model factory: what it builds is a whole model (is_nn_module knows these names).
        Ref cls;
        cls.kind = Ref::Kind::Library;
        cls.name = c.name;
        return cls;
      }
      if (!last.empty() && last[0] >= 'A' && last[0] <= 'Z') return c;
      return none;
    }
    if (c.kind == Ref::Kind::Function && (tail == "prepare" || tail == "prepare_model")) {
      return class_of(Semantics::positional(e, 0));
    }
    if (c.kind == Ref::Kind::Function) {
      // make_model(...): the class of what every return of the function gives.
      Ref out;
      bool first = true;
      std::vector<Node> stack{c.node.field("body")};
      while (!stack.empty()) {
        Node n = stack.back();
        stack.pop_back();
        if (n.is("function_definition") || n.is("class_definition") || n.is("lambda")) continue;
        if (n.is("return_statement")) {
          Ref r = class_of(n.named_child(0));
          if (first) {
            out = r;
            first = false;
          } else if (!(r.kind == out.kind && r.name == out.name && r.node == out.node)) {
            return none;
          }
          if (!out) return none;
          continue;
        }
        n.append_named_children(stack);
      }
      return out;
    }
    if (f.is("attribute") && (tail == "prepare" || tail == "prepare_model") &&
        Semantics::argument_count(e) == 1) {
      return class_of(Semantics::positional(e, 0));
    }
    return none;
  }
  if (e.is("identifier")) {
    if (text(e) == "self") {
      Node fn = flow_.function_of(e);
      Node cls = fn.null() ? Node() : flow_.class_of_method(fn);
      if (!cls.null()) {
        Ref r;
        r.kind = Ref::Kind::Class;
        r.node = cls;
        return r;
      }
    }
    auto bindings = flow_.reaching(text(e), e);
    if (bindings.empty()) return none;
    // parser.parse_args_into_dataclasses() (or a parse_*_file / parse_dict of it): the dataclass
    // at `index` of `parser = HfArgumentParser((A, B, C))`, or the one of HfArgumentParser(A).
    auto parsed_class = [&](Node call, size_t index) {
      Ref r;
      call = unparen(call);
      if (!call.is("call")) return r;
      std::string_view tail = sema_.callee_tail(call);
      if (tail != "parse_args_into_dataclasses" && tail != "parse_yaml_file" &&
          tail != "parse_json_file" && tail != "parse_dict") {
        return r;
      }
      Node parser = unparen(Semantics::receiver(call));
      std::vector<Node> made; // the calls that built the parser
      if (parser.is("call")) {
        made.push_back(parser); // HfArgumentParser(A).parse_args_into_dataclasses()
      } else if (parser.is("identifier")) {
        for (const Binding* pb : flow_.reaching(text(parser), parser)) {
          made.push_back(unparen(element_at(pb->value, *pb)));
        }
      }
      for (Node pv : made) {
        if (!pv.is("call")) continue;
        Node arg = unparen(Semantics::positional(pv, 0));
        auto es = elements(arg);
        if (es.empty() && (arg.is("identifier") || arg.is("attribute")) && index == 0) {
          r = resolve(arg);
        } else if (index < es.size()) {
          r = resolve(es[index]);
        }
      }
      return r;
    };
    Ref out;
    bool first = true;
    for (const Binding* b : bindings) {
      Ref r;
      if (b->kind == Binding::Kind::Assign || b->kind == Binding::Kind::Walrus ||
          b->kind == Binding::Kind::With) {
        Node v = element_at(b->value, *b);
        if (!v.null()) {
          r = class_of(v);
          // args = parser.parse_args_into_dataclasses()[0]
          if (!r && unparen(v).is("subscript")) {
            Node sub = unparen(v);
            auto index = sema_.int_value(sub.field("subscript"));
            if (index && *index >= 0) r = parsed_class(sub.field("value"), size_t(*index));
          }
        } else if (b->depth == 1) {
          // a, b = parser.parse_args_into_dataclasses(): the dataclass at that place.
          r = parsed_class(b->value, b->path[0]);
        }
      } else if (b->kind == Binding::Kind::Param) {
        // An annotation: def f(model: nn.Module).
        Node p = b->site;
        Node type = p.field("type");
        if (!type.null()) r = resolve(type.named_child(0));
      }
      if (first) {
        out = r;
        first = false;
      } else if (!(r.kind == out.kind && r.name == out.name && r.node == out.node)) {
        return none;
      }
      if (!out) return none;
    }
    return out;
  }
  if (e.is("attribute")) {
    Node obj = unparen(e.field("object"));
    if (obj.is("identifier") && text(obj) == "self") {
      Node fn = flow_.function_of(e);
      Node cls = fn.null() ? Node() : flow_.class_of_method(fn);
      if (cls.null()) return none;
      auto writes = flow_.attribute_bindings(cls, text(e.field("attribute")));
      if (writes.empty()) return none;
      Ref out;
      bool first = true;
      for (const AttributeBinding& w : writes) {
        Ref r = w.augmented ? Ref() : class_of(w.value);
        if (first) {
          out = r;
          first = false;
        } else if (!(r.kind == out.kind && r.name == out.name && r.node == out.node)) {
          return none;
        }
        if (!out) return none;
      }
      return out;
    }
  }
  return none;
}

bool Analysis::is_nn_module(const Ref& cls) const {
  switch (cls.kind) {
  case Ref::Kind::Library: {
    const std::string& n = cls.name;
    if (n.starts_with("torch.nn.") && !n.starts_with("torch.nn.functional") &&
        !n.starts_with("torch.nn.init") && !n.starts_with("torch.nn.utils") &&
        !n.starts_with("torch.nn.parameter") && !n.ends_with("Loss") && n != "torch.nn.Parameter") {
      return true;
    }
    if (n.starts_with("torchvision.models.") || n == "timm.create_model" ||
        n == "peft.get_peft_model" || n == "torch.compile") {
      return true;
    }
    std::string_view last = last_part(n);
    if (n.starts_with("transformers.") || n.starts_with("peft.") || n.starts_with("diffusers.")) {
      return last.find("Model") != std::string_view::npos ||
             last.find("For") != std::string_view::npos || last.ends_with("Transformer") ||
             last.ends_with("UNet2DConditionModel");
    }
    return last == "LightningModule" || last == "PreTrainedModel";
  }
  case Ref::Kind::Class: {
    Impl::Guard guard(*impl_, reinterpret_cast<const char*>(cls.node.id()) + 3);
    if (!guard.ok) return false;
    Node supers = cls.node.field("superclasses");
    for (Node s = supers.first_child(); !s.null(); s = s.next_sibling()) {
      if (!s.named() || s.is("keyword_argument") || s.is("comment")) continue;
      if (is_nn_module(resolve(s))) return true;
    }
    return false;
  }
  case Ref::Kind::ProjectClass: {
    if (!cls.module) return false;
    const ClassSummary* c = cls.module->cls(cls.name);
    if (!c) return false;
    if (c->is_nn_module) return true;
    Impl::Guard guard(*impl_, c);
    if (!guard.ok) return false;
    for (const std::string& base : c->bases) {
      if (is_nn_module(resolve_spec(base, cls.file, 0))) return true;
    }
    return false;
  }
  default:
    return false;
  }
}

// ---- tensors ----

bool Analysis::is_model_call(Node call) const {
  if (!call.is("call")) return false;
  Node f = unparen(Semantics::callee(call));
  std::string_view tail = sema_.callee_tail(call);
  if (tail == "generate") return false;
  if (f.is("attribute") && tail == "forward") f = unparen(f.field("object"));
  if (f.is("identifier") && text(f) == "self") {
    Ref cls = class_of(f);
    return is_nn_module(cls);
  }
  // A method or a submodule of a model that runs part of its forward pass
  // (`model.encode(src)`, `model.generator(out)`, `clip.encode_image(x)`).
  if (f.is("attribute") && is_forward_part(tail)) {
    Node obj = unparen(f.field("object"));
    if (!(obj.is("identifier") && text(obj) == "self") && is_model_object(obj)) return true;
  }
  Ref target = resolve(f);
  if (target.kind == Ref::Kind::Function || target.kind == Ref::Kind::ProjectFunction ||
      target.kind == Ref::Kind::Class || target.kind == Ref::Kind::ProjectClass) {
    return false; // a function or a constructor, not a model's forward
  }
  if (target.kind == Ref::Kind::Library) return false;
  return is_model_object(f);
}

bool Analysis::is_model_object(Node e) const {
  e = unparen(e);
  if (!e.is("identifier") && !e.is("attribute")) return false;
  std::string_view name = e.is("attribute") ? text(e.field("attribute")) : text(e);
  Ref target = resolve(e);
  if (target.kind == Ref::Kind::Function || target.kind == Ref::Kind::ProjectFunction ||
      target.kind == Ref::Kind::Class || target.kind == Ref::Kind::ProjectClass ||
      target.kind == Ref::Kind::Library || target.kind == Ref::Kind::ProjectModule) {
    return false;
  }
  Ref cls = class_of(e);
  if (cls.kind == Ref::Kind::Library && cls.name.starts_with("torch.nn.")) {
    // A layer of torch.nn (`conv(x)`) is not a model; a container or a wrapper of one is.
    // (`x: nn.Module` says only that it is some module: the name and its uses decide.)
    std::string_view last = last_part(cls.name);
    if (last == "Sequential" || last == "DataParallel" || last == "DistributedDataParallel") {
      return true;
    }
    return is_model_like_name(name) || (last == "Module" && used_as_model(e));
  }
  if (cls) return is_nn_module(cls);
  return is_model_like_name(name) || used_as_model(e);
}

bool Analysis::used_as_model(Node e) const {
  // The file switches it to eval or train mode, or reads its parameters: `inception.eval()`,
  // `self.encoder.parameters()`. Only nn.Module objects answer to those.
  std::string_view t = text(e);
  for (std::string_view method : {"eval", "train", "parameters", "named_parameters", "state_dict",
                                  "load_state_dict", "requires_grad_"}) {
    for (Node call : flow_.calls_named(method)) {
      Node f = Semantics::callee(call);
      if (f.is("attribute") && text(f.field("object")) == t) return true;
    }
  }
  return false;
}

uint8_t Analysis::tensor(Node e) const {
  e = unparen(e);
  if (e.null()) return 0;
  auto memo = impl_->tensors.find(e.id());
  if (memo != impl_->tensors.end()) return memo->second;
  Impl::Guard guard(*impl_, reinterpret_cast<const char*>(e.id()) + 4);
  if (!guard.ok) return 0;
  uint8_t out = 0;
  if (e.is("call")) {
    Node f = unparen(Semantics::callee(e));
    std::string_view tail = sema_.callee_tail(e);
    if (f.is("identifier")) {
      std::string_view name = text(f);
      if ((name == "float" || name == "int" || name == "round" || name == "str" || name == "bool" ||
           name == "len") &&
          flow_.reaching(name, f).empty()) {
        return impl_->tensors[e.id()] = 0;
      }
    }
    if (f.is("attribute")) {
      Node obj = f.field("object");
      if (tail == "item" || tail == "tolist" || tail == "numpy" || tail == "argmax" ||
          tail == "argmin" || tail == "size" || tail == "dim" || tail == "backward") {
        out = 0;
      } else if (tail == "detach" || tail == "detach_") {
        out = tensor(obj) & ~kGraph;
      } else if (tail == "cpu") {
        out = tensor(obj) | kCpu;
      } else if (tail == "to") {
        out = tensor(obj);
        std::string_view args = text(Semantics::arguments(e));
        if (args.find("cpu") != std::string_view::npos) out |= kCpu;
        if (args.find("cuda") != std::string_view::npos) out &= ~kCpu;
      } else if (keeps_tensor(tail) && (tensor(obj) & (kLoss | kOutput))) {
        out = tensor(obj);
      }
    }
    if (out == 0 && !(tail == "item" || tail == "tolist" || tail == "numpy" || tail == "detach")) {
      if (is_model_call(e)) {
        out = kOutput | kGraph;
      } else {
        Ref r = callee(e);
        // `self.criterion(...)` in a subclass of a library class names the library's member
        // only when the library has one; an attribute the class sets itself is judged below.
        bool self_member = f.is("attribute") && unparen(f.field("object")).is("identifier") &&
                           text(unparen(f.field("object"))) == "self";
        if (r.kind == Ref::Kind::Library && !self_member) {
          std::string_view q = r.name;
          if (q.starts_with("torch.nn.functional.") && is_functional_loss(last_part(q))) {
            out = kLoss | kGraph;
          } else if (q == "torch.softmax" || q == "torch.sigmoid" || q == "torch.exp" ||
                     q == "torch.log_softmax" || q == "torch.nn.functional.softmax" ||
                     q == "torch.nn.functional.log_softmax" || q == "torch.nn.functional.sigmoid" ||
                     q == "torch.stack" || q == "torch.cat" || q == "torch.mean" ||
                     q == "torch.sum") {
            out = tensor(Semantics::positional(e, 0)) & (kLoss | kOutput | kGraph | kCpu);
          } else if (q.ends_with(".accelerator.gather") || q.ends_with("gather_for_metrics")) {
            out = tensor(Semantics::positional(e, 0));
          }
        } else if (r.kind == Ref::Kind::Function || r.kind == Ref::Kind::ProjectFunction) {
          if (auto fx = call_facts(e)) {
            if (fx->has(FunctionFacts::ReturnsLoss) && fx->loss_index < 0) out |= kLoss | kGraph;
            if (fx->has(FunctionFacts::ReturnsOutput) && fx->output_index < 0)
              out |= kOutput | kGraph;
          }
        } else {
          // A loss module: criterion = nn.CrossEntropyLoss(); criterion(logits, y).
          Ref cls = class_of(f);
          if (cls.kind == Ref::Kind::Library && cls.name.starts_with("torch.nn.") &&
              cls.name.ends_with("Loss")) {
            out = kLoss | kGraph;
          } else if (!cls || cls.is_library("torch.nn.Module") ||
                     cls.is_library("torch.nn.modules.module.Module")) {
            // Unknown, or typed only as some module (`loss_fn: nn.Module`): the name decides.
            if (f.is("call")) {
              Ref c = callee(f);
              if (c.kind == Ref::Kind::Library && c.name.starts_with("torch.nn.") &&
                  c.name.ends_with("Loss")) {
                out = kLoss | kGraph;
              }
            } else {
              std::string_view name = f.is("attribute") ? text(f.field("attribute")) : text(f);
              if ((f.is("identifier") || f.is("attribute")) && is_loss_function_name(name)) {
                out = kLoss | kGraph;
              }
            }
          }
        }
      }
    }
  } else if (e.is("attribute")) {
    std::string_view a = text(e.field("attribute"));
    Node obj = unparen(e.field("object"));
    std::string_view o = text(obj);
    if (a == "data") {
      out = tensor(obj) & ~kGraph;
    } else if (a == "loss" && !is_config_like_name(o) &&
               !(obj.is("attribute") && text(obj.field("object")) == "self")) {
      out = kLoss | graph_of(obj);
    } else if (is_output_field(a) && !is_config_like_name(o)) {
      out = kOutput | graph_of(obj);
    } else if (a == "T" || a == "mT") {
      out = tensor(obj);
    }
  } else if (e.is("subscript")) {
    Node value = unparen(e.field("value"));
    auto key = constant(e.field("subscript"));
    if (key && key->kind == Const::Kind::Str && key->s == "loss") {
      out = kLoss | kGraph;
    } else if (value.is("call") && key && key->kind == Const::Kind::Int) {
      if (auto fx = call_facts(value)) {
        if (fx->has(FunctionFacts::ReturnsLoss) && fx->loss_index == key->i) out |= kLoss | kGraph;
        if (fx->has(FunctionFacts::ReturnsOutput) && fx->output_index == key->i)
          out |= kOutput | kGraph;
      }
      if (!out && is_model_call(value)) out = kOutput | kGraph;
    } else {
      out = tensor(value) & (kOutput | kGraph | kCpu);
    }
  } else if (e.is("binary_operator")) {
    std::string_view op = text(e.field("operator"));
    if (op == "+" || op == "-" || op == "*" || op == "/" || op == "@") {
      uint8_t l = tensor(e.field("left")), r = tensor(e.field("right"));
      out = static_cast<uint8_t>((l | r) & (kLoss | kOutput | kGraph));
      if ((l & kCpu) && (r & kCpu)) out |= kCpu;
    }
  } else if (e.is("unary_operator")) {
    out = tensor(e.field("argument"));
  } else if (e.is("identifier")) {
    auto bindings = flow_.reaching(text(e), e);
    bool first = true;
    for (const Binding* b : bindings) {
      uint8_t t = 0;
      if (b->kind == Binding::Kind::Assign || b->kind == Binding::Kind::Walrus ||
          b->kind == Binding::Kind::AugAssign) {
        Node v = element_at(b->value, *b);
        if (!v.null()) {
          t = tensor(v);
        } else if (b->depth == 1) {
          // loss, logits = compute(...): the summary says which element is which.
          Node call = unparen(b->value);
          if (call.is("call")) {
            if (auto fx = call_facts(call)) {
              if (fx->has(FunctionFacts::ReturnsLoss) && fx->loss_index == b->path[0])
                t |= kLoss | kGraph;
              if (fx->has(FunctionFacts::ReturnsOutput) && fx->output_index == b->path[0])
                t |= kOutput | kGraph;
            } else if (is_model_call(call)) {
              t |= kOutput | kGraph; // preds, aux = model(x)
            }
          }
        }
        if (b->kind == Binding::Kind::AugAssign) {
          // x += loss: x keeps what it was and adds the loss's graph.
          t = static_cast<uint8_t>(t & (kLoss | kGraph));
        }
        if ((t & kGraph) && no_grad_at(b->site)) t &= ~kGraph;
      } else if (b->kind == Binding::Kind::For) {
        t = element_tensor(*b);
        if ((t & kGraph) && no_grad_at(b->site)) t &= ~kGraph;
      }
      out = first ? t : static_cast<uint8_t>(out & t);
      first = false;
    }
  }
  impl_->tensors[e.id()] = out;
  return out;
}

uint8_t Analysis::graph_of(Node obj) const {
  obj = unparen(obj);
  // The result of a call here: its own graph (none when the call runs without autograd).
  if (obj.is("call")) return no_grad_at(obj) ? 0 : kGraph;
  // A name bound to a known output: its graph; otherwise (a parameter, an attribute) assume one.
  if (obj.is("identifier")) {
    uint8_t t = tensor(obj);
    if (t & (kOutput | kLoss)) return t & kGraph;
  }
  return kGraph;
}

uint8_t Analysis::element_tensor(const Binding& b) const {
  // for k, v in losses.items() / for v in losses.values() / for v in [l1, l2]: the flags every
  // element of the container has.
  Node it = unparen(b.value);
  if (it.is("call")) {
    std::string_view tail = sema_.callee_tail(it);
    bool item_value = tail == "items" && b.depth == 1 && b.path[0] == 1;
    if (!item_value && !(tail == "values" && b.depth == 0)) return 0;
    it = unparen(Semantics::receiver(it));
  } else if (b.depth != 0) {
    return 0;
  }
  std::vector<Node> values;
  auto collect = [&](Node c) {
    c = unparen(c);
    if (c.is("dictionary")) {
      for (Node p = c.first_child(); !p.null(); p = p.next_sibling()) {
        if (p.is("pair")) values.push_back(p.field("value"));
      }
      return true;
    }
    if (c.is("list") || c.is("tuple")) {
      for (Node e : elements(c))
        values.push_back(e);
      return true;
    }
    return false;
  };
  if (!collect(it) && it.is("identifier")) {
    for (const Binding* cb : flow_.reaching(text(it), it)) {
      if (cb->kind != Binding::Kind::Assign || !collect(element_at(cb->value, *cb))) return 0;
    }
  }
  if (values.empty()) return 0;
  uint8_t out = 0xFF;
  for (Node v : values)
    out &= tensor(v);
  return out;
}

// The call-site position of parameter `id` of `fn` (self not counted in a method), or -1.
int Analysis::parameter_position(Node fn, Node id) const {
  if (!id.is("identifier")) return -1;
  auto defs = flow_.reaching(text(id), id);
  if (defs.size() != 1 || defs[0]->kind != Binding::Kind::Param) return -1;
  Node params = fn.field("parameters");
  int pos = 0;
  bool method = !flow_.class_of_method(fn).null();
  if (method && fn.parent().is("decorated_definition")) {
    for (Node d = fn.parent().first_child(); !d.null(); d = d.next_sibling()) {
      if (d.is("decorator") && text(d).find("staticmethod") != std::string_view::npos) {
        method = false;
      }
    }
  }
  for (uint32_t i = 0, n = params.null() ? 0 : params.named_child_count(); i < n; ++i) {
    Node p = params.named_child(i);
    if (p.is("list_splat_pattern") || p.is("dictionary_splat_pattern") ||
        p.is("keyword_separator") || p.is("positional_separator")) {
      return -1; // past *args: not positional
    }
    Node name = p.is("identifier") ? p : p.field("name");
    if (name.null() && p.named_child_count() > 0) name = p.named_child(0);
    if (!name.null() && name.is("identifier") && text(name) == text(id)) {
      return method ? pos - 1 : pos;
    }
    ++pos;
  }
  return -1;
}

// `container` keeps `value` as it is: Accumulates when the value is a parameter and the container
// a parameter or an attribute of self.
void Analysis::note_accumulation(Node fn, Node container, Node value, FunctionFacts& out) const {
  int v = parameter_position(fn, unparen(value));
  if (v < 0) return;
  container = unparen(container);
  int into = -2;
  if (container.is("attribute")) {
    Node obj = container.field("object");
    if (obj.is("identifier") && text(obj) == "self" && !flow_.class_of_method(fn).null()) {
      into = -1;
    }
  } else {
    into = parameter_position(fn, container);
  }
  if (into < -1 || into == v || v > 100 || into > 100) return;
  out.flags |= FunctionFacts::Accumulates;
  out.accum_value = static_cast<int8_t>(v);
  out.accum_into = static_cast<int8_t>(into);
}

bool Analysis::periodic_within(Node n, Node stop) const {
  Node child = n;
  for (Node p = n.parent(); !p.null() && !(p == stop); child = p, p = p.parent()) {
    Node cond;
    if (p.is("if_statement") || p.is("elif_clause") || p.is("while_statement")) {
      cond = p.field("condition");
    } else if (p.is("else_clause")) {
      return true;
    } else if (p.is("conditional_expression") || p.is("boolean_operator")) {
      return true;
    }
    if (cond.null() || child == cond) continue;
    std::string_view t = text(cond);
    bool device_test = t.find("is_available") != std::string_view::npos ||
                       t.find("cuda") != std::string_view::npos ||
                       t.find("device") != std::string_view::npos;
    if (!device_test) return true;
  }
  return false;
}

bool Analysis::no_grad_within(Node n, Node stop) const {
  Node child = n;
  for (Node p = n.parent(); !p.null() && !(p == stop); child = p, p = p.parent()) {
    if (!p.is("with_statement") || !(child == p.field("body"))) continue;
    for (Node clause = p.first_child(); !clause.null(); clause = clause.next_sibling()) {
      if (!clause.is("with_clause")) continue;
      for (Node item = clause.first_child(); !item.null(); item = item.next_sibling()) {
        if (!item.is("with_item")) continue;
        Node v = item.field("value");
        if (v.is("as_pattern")) v = v.named_child(0);
        Ref r = resolve(v.is("call") ? Semantics::callee(v) : v);
        if (r.kind != Ref::Kind::Library) continue;
        if (r.name == "torch.no_grad" || r.name == "torch.inference_mode" ||
            r.name == "torch.autograd.no_grad") {
          if (r.name == "torch.inference_mode" && v.is("call") &&
              Semantics::bool_value(Semantics::positional(v, 0)) == false) {
            continue;
          }
          return true;
        }
        if (r.name == "torch.set_grad_enabled" && v.is("call")) {
          auto c = constant(Semantics::positional(v, 0));
          if (c && !c->truthy()) return true;
        }
      }
    }
  }
  return false;
}

bool Analysis::no_grad_at(Node n) const {
  // with-statements and decorated functions around the node.
  Node child = n;
  for (Node p = n.parent(); !p.null(); child = p, p = p.parent()) {
    if (p.is("with_statement") && child == p.field("body")) {
      for (Node clause = p.first_child(); !clause.null(); clause = clause.next_sibling()) {
        if (!clause.is("with_clause")) continue;
        for (Node item = clause.first_child(); !item.null(); item = item.next_sibling()) {
          if (!item.is("with_item")) continue;
          Node v = item.field("value");
          if (v.is("as_pattern")) v = v.named_child(0);
          Node target = v.is("call") ? Semantics::callee(v) : v;
          Ref r = resolve(target);
          if (r.kind != Ref::Kind::Library) continue;
          if (r.name == "torch.no_grad" || r.name == "torch.inference_mode" ||
              r.name == "torch.autograd.no_grad" || r.name == "torch.autograd.grad_mode.no_grad") {
            if (r.name != "torch.no_grad" && v.is("call") &&
                Semantics::bool_value(Semantics::positional(v, 0)) == false) {
              continue;
            }
            return true;
          }
          if ((r.name == "torch.set_grad_enabled" || r.name == "torch.autograd.set_grad_enabled") &&
              v.is("call")) {
            auto c = constant(Semantics::positional(v, 0));
            if (c && !c->truthy()) return true;
          }
        }
      }
    }
    if (p.is("function_definition")) {
      if (facts(p).has(FunctionFacts::NoGrad)) return true;
      // Called only from places that run without autograd.
      auto memo = impl_->no_grad_functions.find(p.id());
      bool only = false;
      if (memo != impl_->no_grad_functions.end()) {
        only = memo->second;
      } else {
        impl_->no_grad_functions[p.id()] = false; // while computing: no
        Impl::Guard guard(*impl_, reinterpret_cast<const char*>(p.id()) + 5);
        if (guard.ok && callers_complete(p)) {
          auto calls = callers(p);
          only = !calls.empty();
          for (Node c : calls) {
            if (!no_grad_at(c)) {
              only = false;
              break;
            }
          }
        }
        impl_->no_grad_functions[p.id()] = only;
      }
      if (only) return true;
    }
  }
  return false;
}

// ---- argparse ----

std::unordered_map<std::string, std::optional<Const>> Analysis::option_table() const {
  std::unordered_map<std::string, std::optional<Const>> table;
  auto add = [&](const std::string& dest, std::optional<Const> v) {
    auto it = table.find(dest);
    if (it == table.end()) {
      table.emplace(dest, v);
    } else if (!(it->second && v && *it->second == *v)) {
      it->second.reset();
    }
  };
  for (Node call : flow_.calls_named("add_argument")) {
    if (is_dead(call)) continue;
    Node args = Semantics::arguments(call);
    std::string dest, long_name, short_name;
    for (Node a = args.first_child(); !a.null(); a = a.next_sibling()) {
      if (!a.named() || a.is("keyword_argument") || a.is("comment")) continue;
      auto str = sema_.string_value(a);
      if (!str) continue;
      std::string n(*str);
      if (n.starts_with("--")) {
        if (long_name.empty()) long_name = n.substr(2);
      } else if (n.starts_with("-")) {
        if (short_name.empty()) short_name = n.substr(1);
      } else if (dest.empty()) {
        dest = n;
      }
    }
    if (auto d = sema_.string_value(sema_.keyword(call, "dest"))) dest = std::string(*d);
    if (dest.empty()) dest = !long_name.empty() ? long_name : short_name;
    std::replace(dest.begin(), dest.end(), '-', '_');
    if (dest.empty()) continue;
    // The value when the option is not given: `default=`, else what `action` implies, else
    // None (a required option has none).
    Node def = sema_.keyword(call, "default");
    auto action = sema_.string_value(sema_.keyword(call, "action"));
    std::optional<Const> v;
    if (!def.null()) {
      v = constant(def);
    } else if (action && *action == "store_true") {
      v = Const::boolean(false);
    } else if (action && *action == "store_false") {
      v = Const::boolean(true);
    } else if (sema_.keyword(call, "required").null()) {
      v = Const::none();
    }
    add(dest, v);
  }
  for (Node call : flow_.calls_named("set_defaults")) {
    Node args = Semantics::arguments(call);
    for (Node a = args.first_child(); !a.null(); a = a.next_sibling()) {
      if (!a.is("keyword_argument")) continue;
      table[std::string(text(a.field("name")))] = constant(a.field("value"));
    }
  }
  return table;
}

// ---- summaries ----

namespace {

// The decorators of a function_definition (its decorated_definition parent), as expressions.
std::vector<Node> decorators_of(Node fn) {
  std::vector<Node> out;
  Node parent = fn.parent();
  if (!parent.is("decorated_definition")) return out;
  for (Node d = parent.first_child(); !d.null(); d = d.next_sibling()) {
    if (d.is("decorator") && d.named_child_count() > 0) out.push_back(d.named_child(0));
  }
  return out;
}

} // namespace

bool Analysis::callers_complete(Node fn) const {
  std::string_view name = text(fn.field("name"));
  int32_t scope = flow_.scope_of(fn);
  const Flow::Scope& sc = flow_.scope(scope);
  // A nested function is called only where its enclosing function can see it.
  if (sc.kind == Flow::Scope::Kind::Function || sc.kind == Flow::Scope::Kind::Lambda) return true;
  // A private name is the file's own business.
  if (name.starts_with("_") && !name.starts_with("__")) return true;
  // A function of a script (a file run as `__main__`) has no importers to call it.
  if (sc.kind == Flow::Scope::Kind::Module) {
    if (!impl_->script) {
      impl_->script = source_.find("__name__") != std::string_view::npos &&
                      source_.find("__main__") != std::string_view::npos;
    }
    return *impl_->script;
  }
  return false; // a method: a subclass in another module may call it
}

std::vector<Node> Analysis::callers(Node function_def) const {
  std::vector<Node> out;
  Node name = function_def.field("name");
  if (name.null()) return out;
  // A constructor runs where its class is called.
  Node cls = flow_.class_of_method(function_def);
  if (!cls.null() && text(name) == "__init__") {
    for (Node call : flow_.calls_named(text(cls.field("name")))) {
      Ref r = callee(call);
      if (r.kind == Ref::Kind::Class && r.node == cls) out.push_back(call);
    }
    return out;
  }
  for (Node call : flow_.calls_named(text(name))) {
    if (local_target(call) == function_def) out.push_back(call);
  }
  return out;
}

Node Analysis::local_target(Node call) const {
  Ref r = callee(call);
  return r.kind == Ref::Kind::Function ? r.node : Node();
}

FunctionFacts Analysis::facts(Node fn) const {
  if (!fn.is("function_definition")) return {};
  auto memo = impl_->facts.find(fn.id());
  if (memo != impl_->facts.end()) return memo->second;
  auto provisional = impl_->facts_provisional.find(fn.id());
  if (provisional != impl_->facts_provisional.end()) return provisional->second;
  if (!impl_->facts_busy.insert(fn.id()).second) { // recursion: nothing yet
    impl_->facts_cut = true;
    ++impl_->cuts;
    return {};
  }
  FunctionFacts out;
  auto is_no_grad_expr = [&](Node d) {
    Node target = d.is("call") ? Semantics::callee(d) : d;
    Ref r = resolve(target);
    if (r.kind == Ref::Kind::Library) {
      if (r.name == "torch.no_grad" || r.name == "torch.inference_mode" ||
          r.name == "torch.autograd.no_grad" || r.name == "torch.autograd.grad_mode.no_grad" ||
          r.name == "torch.autograd.grad_mode.inference_mode") {
        if (r.name != "torch.no_grad" && d.is("call") &&
            Semantics::bool_value(Semantics::positional(d, 0)) == false) {
          return false;
        }
        return true;
      }
      if ((r.name == "torch.set_grad_enabled" || r.name == "torch.autograd.set_grad_enabled") &&
          d.is("call")) {
        auto c = constant(Semantics::positional(d, 0));
        return c && !c->truthy();
      }
      return false;
    }
    // A decorator of the file or the project that wraps no_grad (`@no_grad_eval`), or a factory
    // of one (`@evaluation_mode()`).
    std::optional<FunctionFacts> f;
    if (r.kind == Ref::Kind::Function) f = facts(r.node);
    if (r.kind == Ref::Kind::ProjectFunction && r.module) {
      if (const FunctionFacts* pf = r.module->function(r.name)) f = *pf;
    }
    return f && f->has(FunctionFacts::NoGradDecorator);
  };
  for (Node d : decorators_of(fn)) {
    if (is_no_grad_expr(d)) out.flags |= FunctionFacts::NoGrad;
  }
  Node body = fn.field("body");
  // The body wrapped whole in `with torch.no_grad():` (after a docstring), or turning autograd
  // off first.
  {
    std::vector<Node> stmts;
    for (Node s = body.first_child(); !s.null(); s = s.next_sibling()) {
      if (!s.named() || s.is("comment")) continue;
      if (stmts.empty() && s.is("expression_statement") && s.named_child(0).is("string")) continue;
      stmts.push_back(s);
    }
    if (!stmts.empty()) {
      Node first = stmts.front();
      if (stmts.size() == 1 && first.is("with_statement")) {
        for (Node clause = first.first_child(); !clause.null(); clause = clause.next_sibling()) {
          if (!clause.is("with_clause")) continue;
          for (Node item = clause.first_child(); !item.null(); item = item.next_sibling()) {
            Node v = item.field("value");
            if (v.is("as_pattern")) v = v.named_child(0);
            if (item.is("with_item") && is_no_grad_expr(v)) out.flags |= FunctionFacts::NoGrad;
          }
        }
      }
      if (first.is("expression_statement") && first.named_child(0).is("call")) {
        Node c = first.named_child(0);
        Ref r = callee(c);
        if (r.is_library("torch.set_grad_enabled")) {
          auto v = constant(Semantics::positional(c, 0));
          // ... unless the function turns it back on further down.
          bool reenabled = false;
          visit_subtree(body, [&](Node n) {
            if (reenabled || n.is("function_definition") || n.is("class_definition")) return false;
            if (n.is("call") && !(n == c)) {
              Ref q = callee(n);
              if (q.is_library("torch.enable_grad")) reenabled = true;
              if (q.is_library("torch.set_grad_enabled")) {
                auto on = constant(Semantics::positional(n, 0));
                reenabled = !on || on->truthy();
              }
            }
            return !reenabled;
          });
          if (v && !v->truthy() && !reenabled) out.flags |= FunctionFacts::NoGrad;
        }
      }
    }
  }
  // Walk the body: calls and returns, not in nested definitions, dead branches or except
  // handlers (recovery code is not what runs every time).
  std::vector<Node> returns;
  std::vector<Node> nested;
  std::vector<Node> stack{body};
  while (!stack.empty()) {
    Node n = stack.back();
    stack.pop_back();
    if (n.is("function_definition")) {
      nested.push_back(n);
      continue;
    }
    if (n.is("class_definition") || n.is("lambda") || n.is("except_clause")) continue;
    if (n.is("if_statement") || n.is("elif_clause") || n.is("else_clause") ||
        n.is("conditional_expression")) {
      // Children are checked for dead code as they are reached.
    }
    if ((n.is("block") || n.is("expression")) && is_dead(n)) continue;
    if (n.is("return_statement")) returns.push_back(n);
    if (n.is("call")) {
      std::string_view tail = sema_.callee_tail(n);
      Ref r = callee(n);
      bool library = r.kind == Ref::Kind::Library;
      // Emptying the cache counts when every call does it: not `if step % 100 == 0:`, though
      // `if torch.cuda.is_available():` still runs on every call on a GPU.
      uint32_t keep = periodic_within(n, fn) ? ~uint32_t(FunctionFacts::FreesCache) : ~0u;
      if (library) {
        if (const KnownWrapper* w = known_wrapper(r.name)) out.flags |= w->flags & keep;
        std::string_view q = r.name;
        if (q.ends_with(".empty_cache") &&
            (q.starts_with("torch.") || q.find("get_accelerator()") != std::string_view::npos ||
             q.find("get_device_module()") != std::string_view::npos)) {
          out.flags |= FunctionFacts::FreesCache & keep;
        }
        if (q == "torch.cuda.memory._record_memory_history") {
          Node enabled = sema_.keyword(n, "enabled");
          if (enabled.null()) enabled = Semantics::positional(n, 0);
          auto c = enabled.null() ? std::optional<Const>(Const::string("all")) : constant(enabled);
          if (c && (c->kind == Const::Kind::None || (c->kind == Const::Kind::Bool && !c->b))) {
            out.flags |= FunctionFacts::StopsMemoryHistory;
          } else if (c) {
            out.flags |= FunctionFacts::StartsMemoryHistory;
          }
        }
      } else if (auto cf = call_facts(n)) {
        uint32_t inherited = cf->inherited();
        // A forward pass run under no_grad here is no forward with a graph.
        if (no_grad_within(n, fn)) inherited &= ~FunctionFacts::RunsForward;
        out.flags |= inherited & keep;
      }
      // A callee that may be another module of the project: its importers resolve it.
      if (library && may_be_project(r.name) && out.calls.size() < 32 &&
          std::find(out.calls.begin(), out.calls.end(), r.name) == out.calls.end()) {
        out.calls.push_back(r.name);
      }
      if (tail == "backward" && !library) out.flags |= FunctionFacts::Trains;
      if (tail == "step" && !library) {
        std::string_view recv = text(Semantics::receiver(n));
        if (recv.find("opt") != std::string_view::npos ||
            recv.find("scaler") != std::string_view::npos) {
          out.flags |= FunctionFacts::Trains;
        }
      }
      if (tail == "eval" && Semantics::argument_count(n) == 0 && !library &&
          Semantics::callee(n).is("attribute")) {
        out.flags |= FunctionFacts::SetsEvalMode;
      }
      if (is_model_call(n) && !no_grad_within(n, fn)) out.flags |= FunctionFacts::RunsForward;
      if ((tail == "append" || tail == "extend") && !out.has(FunctionFacts::Accumulates) &&
          Semantics::callee(n).is("attribute") && Semantics::argument_count(n) == 1) {
        note_accumulation(fn, Semantics::receiver(n), Semantics::positional(n, 0), out);
      }
    }
    if (n.is("augmented_assignment") && text(n.field("operator")) == "+=" &&
        !out.has(FunctionFacts::Accumulates)) {
      // `stats["loss"] += loss` / `self.total += loss`: the container outlives the call; a plain
      // name rebound (`total += loss`) does not.
      Node left = n.field("left");
      if (!left.is("identifier")) {
        if (left.is("subscript")) left = left.field("value");
        note_accumulation(fn, left, n.field("right"), out);
      }
    }
    n.append_named_children(stack);
  }
  // Returns: a parser's namespace, a loss, an output, a literal.
  std::optional<Const> common;
  bool consts = !returns.empty();
  for (Node r : returns) {
    Node v = r.named_child(0);
    if (v.null()) {
      consts = false;
      continue;
    }
    v = unparen(v);
    if (v.is("call") && (sema_.callee_tail(v) == "parse_args"))
      out.flags |= FunctionFacts::ReturnsParser;
    auto c = constant(v);
    if (!c || (common && !(*common == *c))) consts = false;
    if (c) common = c;
    auto es = elements(v);
    if (!es.empty()) {
      for (size_t i = 0; i < es.size() && i < 100; ++i) {
        uint8_t t = tensor(es[i]);
        if ((t & kLoss) && (t & kGraph) && !out.has(FunctionFacts::ReturnsLoss)) {
          out.flags |= FunctionFacts::ReturnsLoss;
          out.loss_index = static_cast<int8_t>(i);
        }
        if ((t & kOutput) && (t & kGraph) && !(t & kLoss) &&
            !out.has(FunctionFacts::ReturnsOutput)) {
          out.flags |= FunctionFacts::ReturnsOutput;
          out.output_index = static_cast<int8_t>(i);
        }
      }
    } else {
      uint8_t t = tensor(v);
      if ((t & kLoss) && (t & kGraph)) {
        out.flags |= FunctionFacts::ReturnsLoss;
        out.loss_index = -1;
      } else if ((t & kOutput) && (t & kGraph)) {
        out.flags |= FunctionFacts::ReturnsOutput;
        out.output_index = -1;
      }
    }
  }
  if (consts && common) out.returns_const = common;
  // The library class every return gives (`return AutoModelForSequenceClassification.from_
  // pretrained(...)`), for callers in other modules.
  {
    std::string cls;
    bool ok = !returns.empty();
    for (Node r : returns) {
      Ref c = class_of(r.named_child(0));
      if (c.kind != Ref::Kind::Library || (!cls.empty() && cls != c.name)) {
        ok = false;
        break;
      }
      cls = c.name;
    }
    if (ok) out.returns_class = cls;
  }
  if (out.has(FunctionFacts::NoGrad)) {
    out.flags &= ~(FunctionFacts::ReturnsLoss | FunctionFacts::ReturnsOutput);
  }
  // A decorator that wraps no_grad: it returns a nested function that runs without autograd,
  // or one that is itself such a decorator (a factory), or `torch.no_grad()(fn)`.
  for (Node r : returns) {
    Node v = unparen(r.named_child(0));
    if (v.is("identifier")) {
      for (Node inner : nested) {
        if (text(inner.field("name")) == text(v)) {
          FunctionFacts f = facts(inner);
          if (f.has(FunctionFacts::NoGrad) || f.has(FunctionFacts::NoGradDecorator)) {
            out.flags |= FunctionFacts::NoGradDecorator;
          }
        }
      }
    } else if (v.is("call")) {
      Node inner = unparen(Semantics::callee(v));
      if (inner.is("call") && is_no_grad_expr(inner)) out.flags |= FunctionFacts::NoGradDecorator;
      if (is_no_grad_expr(v) && Semantics::argument_count(v) == 0) {
        out.flags |= FunctionFacts::NoGradDecorator; // def eval_mode(): return torch.no_grad()
      }
    }
  }
  // Flags of project functions it calls, resolved now (in a file checked within its project).
  if (file_.project && !out.calls.empty()) out.flags |= inherited_flags(file_.path, out.calls);
  impl_->facts_busy.erase(fn.id());
  if (impl_->facts_busy.empty()) {
    // The outermost call: every function of a cycle through it has added its flags.
    impl_->facts[fn.id()] = out;
    impl_->facts_provisional.clear();
    impl_->facts_cut = false;
  } else if (impl_->facts_cut) {
    impl_->facts_provisional[fn.id()] = out;
  } else {
    impl_->facts[fn.id()] = out;
  }
  return out;
}

std::optional<FunctionFacts> Analysis::call_facts(Node call) const {
  Ref r = callee(call);
  switch (r.kind) {
  case Ref::Kind::Function:
    return facts(r.node);
  case Ref::Kind::ProjectFunction: {
    const FunctionFacts* f = project_function(r);
    if (!f) return std::nullopt;
    FunctionFacts out = *f;
    out.flags |= inherited_flags(r.file, f->calls);
    return out;
  }
  case Ref::Kind::Library:
    if (const KnownWrapper* w = known_wrapper(r.name)) {
      FunctionFacts f;
      f.flags = w->flags;
      return f;
    }
    return std::nullopt;
  default:
    return std::nullopt;
  }
}

ModuleSummary Analysis::summarize() const {
  ModuleSummary s;
  for (Node fn : flow_.functions()) {
    int32_t scope = flow_.scope_of(fn);
    const Flow::Scope& sc = flow_.scope(scope);
    if (sc.kind != Flow::Scope::Kind::Module) continue;
    FunctionFacts f = facts(fn);
    s.flags |= f.flags;
    s.functions.emplace_back(std::string(text(fn.field("name"))), std::move(f));
  }
  for (Node cls : flow_.classes()) {
    if (flow_.scope_of(cls) != 0) continue;
    ClassSummary c;
    c.name = std::string(text(cls.field("name")));
    Ref self;
    self.kind = Ref::Kind::Class;
    self.node = cls;
    c.is_nn_module = is_nn_module(self);
    Node supers = cls.field("superclasses");
    for (Node b = supers.first_child(); !b.null(); b = b.next_sibling()) {
      if (!b.named() || b.is("keyword_argument") || b.is("comment")) continue;
      Ref r = resolve(b);
      if (r.kind == Ref::Kind::Library) c.bases.push_back(r.name);
      // A class of this module: its bare name, which member_of finds in this summary.
      if (r.kind == Ref::Kind::Class && flow_.scope_of(r.node) == 0) {
        c.bases.push_back(std::string(text(r.node.field("name"))));
      }
    }
    for (Node d : decorators_of(cls)) {
      Ref r = resolve(d.is("call") ? Semantics::callee(d) : d);
      if (r.kind == Ref::Kind::Library && last_part(r.name) == "dataclass") c.is_dataclass = true;
    }
    Node body = cls.field("body");
    for (Node st = body.first_child(); !st.null(); st = st.next_sibling()) {
      Node stmt = st.is("decorated_definition") ? st.field("definition") : st;
      if (stmt.is("function_definition")) {
        FunctionFacts f = facts(stmt);
        s.flags |= f.flags;
        c.methods.emplace_back(std::string(text(stmt.field("name"))), std::move(f));
      } else if (stmt.is("expression_statement") && stmt.named_child(0).is("assignment")) {
        Node a = stmt.named_child(0);
        Node left = a.field("left");
        if (!left.is("identifier")) continue;
        Node v = a.field("right");
        if (v.is("call") && last_part(text(Semantics::callee(v))) == "field") {
          v = sema_.keyword(v, "default");
        }
        if (auto k = constant(v)) c.fields.emplace_back(std::string(text(left)), *k);
      }
    }
    s.classes.push_back(std::move(c));
  }
  // Module-level constants: names whose bindings at the end of the module agree on a literal.
  std::set<std::string_view> names;
  for (Node stmt = flow_.root().first_child(); !stmt.null(); stmt = stmt.next_sibling()) {
    if (!stmt.is("expression_statement") || !stmt.named_child(0).is("assignment")) continue;
    Node left = stmt.named_child(0).field("left");
    if (left.is("identifier")) names.insert(text(left));
  }
  for (std::string_view name : names) {
    auto bs = flow_.at_end(0, name);
    std::optional<Const> v;
    bool ok = !bs.empty();
    for (const Binding* b : bs) {
      auto c = b->kind == Binding::Kind::Assign ? constant(element_at(b->value, *b)) : std::nullopt;
      if (!c || (v && !(*v == *c))) {
        ok = false;
        break;
      }
      v = c;
    }
    if (ok && v) s.constants.emplace_back(std::string(name), *v);
  }
  // Imports: what each imported name is.
  {
    std::set<std::string_view> seen;
    for (const Binding& b : flow_.all_bindings()) {
      if (b.kind != Binding::Kind::Import || b.scope != 0) continue;
      std::string_view name = text(b.target);
      if (!seen.insert(name).second) continue;
      Ref r = ref_of_binding(b);
      if (r.kind == Ref::Kind::Library) s.imports.emplace_back(std::string(name), r.name);
    }
  }
  // argparse options declared here.
  for (auto& [dest, v] : option_table()) {
    if (v) s.options.emplace_back(dest, *v);
  }
  std::sort(s.options.begin(), s.options.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return s;
}

} // namespace oomlint::checks
