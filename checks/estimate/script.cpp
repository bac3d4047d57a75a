#include "estimate/script.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

namespace oomlint::checks::estimate {

namespace {

using ts::Node;

bool starts_with(std::string_view s, std::string_view p) {
  return s.starts_with(p);
}
bool ends_with(std::string_view s, std::string_view p) {
  return s.ends_with(p);
}
bool contains(std::string_view s, std::string_view p) {
  return s.find(p) != std::string_view::npos;
}

std::string_view last_part(std::string_view q) {
  auto dot = q.rfind('.');
  return dot == std::string_view::npos ? q : q.substr(dot + 1);
}

// A class whose from_pretrained loads model weights (not a tokenizer, a config, a processor).
bool is_model_loader(std::string_view q) {
  bool lib =
      starts_with(q, "transformers.") || starts_with(q, "trl.") || starts_with(q, "unsloth.");
  if (!lib) return false;
  std::string_view cls = last_part(q);
  for (std::string_view bad : {"Tokenizer", "Config", "Processor", "FeatureExtractor",
                               "ImageProcessor", "GenerationConfig"}) {
    if (contains(cls, bad)) return false;
  }
  return true;
}

std::string dtype_of(std::string_view t) {
  if (contains(t, "bfloat16")) return "bf16";
  if (contains(t, "float16") || contains(t, "half")) return "fp16";
  if (contains(t, "float32")) return "fp32";
  if (contains(t, "\"auto\"") || contains(t, "'auto'")) return "auto";
  return "";
}

struct DsInfo {
  std::optional<int> stage;
  bool offload_optimizer = false;
  bool offload_params = false;
  std::optional<int> gpus;
};

bool offload_device(std::string_view device) {
  return device == "cpu" || device == "nvme";
}

DsInfo parse_ds_json(const nlohmann::json& j) {
  DsInfo d;
  if (!j.is_object()) return d;
  auto zo = j.find("zero_optimization");
  if (zo != j.end() && zo->is_object()) {
    auto st = zo->find("stage");
    if (st != zo->end() && st->is_number_integer()) d.stage = st->get<int>();
    for (const char* key : {"offload_optimizer", "offload_param"}) {
      auto o = zo->find(key);
      if (o == zo->end() || !o->is_object()) continue;
      auto dev = o->find("device");
      bool on = dev != o->end() && dev->is_string() && offload_device(dev->get<std::string>());
      (std::string_view(key) == "offload_param" ? d.offload_params : d.offload_optimizer) = on;
    }
  }
  auto i = [&](const char* k) -> long long {
    auto it = j.find(k);
    return it != j.end() && it->is_number_integer() ? it->get<long long>() : 0;
  };
  long long total = i("train_batch_size"), micro = i("train_micro_batch_size_per_gpu");
  long long accum = i("gradient_accumulation_steps");
  if (accum == 0 && total > 0 && micro > 0) accum = 1;
  if (total > 0 && micro > 0 && accum > 0 && total % (micro * accum) == 0) {
    d.gpus = static_cast<int>(total / (micro * accum));
  }
  return d;
}

} // namespace

struct ScriptScanner::Impl {
  struct Pending {
    ModelRef ref;
    Node arg;
    bool quant_from_config = false;
    std::string target; // what the loaded model is assigned to
  };
  struct Literal {
    std::string value;
    uint32_t start, end;
  };
  std::vector<Pending> refs;
  std::map<std::string, std::vector<Literal>> constants;     // name = "literal"
  std::map<std::string, std::vector<Literal>> attr_defaults; // --option default / field default
  std::map<std::string, Node> dicts;                         // name = {...}
  bool trains = false;
  bool lora = false;
  int lora_r = 8;
  std::vector<std::string> lora_targets;
  bool lora_all_linear = false;
  int bnb_bits = 0;
  bool mixed = false;
  std::string half_type;
  std::optional<Optimizer> optimizer;
  int zero = 0;
  bool offload_optimizer = false, offload_params = false;
  int gpus = 0;
  std::string ds_path;
  Node ds_node;
  bool freezes = false;
  bool hf_trainer = false;
  std::map<uint32_t, std::string> assign_target; // start of a call -> what it is assigned to
  std::vector<std::string> optimized;            // `X` of torch.optim.*(X.parameters())
  bool optimized_unknown = false;                // an optimizer over something else
  std::map<std::string, std::string> cast_names; // `model.half()` -> {"model", "fp16"}
  std::map<uint32_t, std::string> cast_calls;    // `from_pretrained(...).bfloat16()`
  std::vector<std::string> uncertain;

  void note(std::string s) {
    if (std::find(uncertain.begin(), uncertain.end(), s) == uncertain.end()) {
      uncertain.push_back(std::move(s));
    }
  }

  void on_assignment(Node a, const Semantics& m) {
    Node left = a.field("left"), right = a.field("right");
    if (right.null()) return;
    if (right.is("call")) assign_target[right.start()] = std::string(m.text(left));
    if (left.is("identifier")) {
      std::string name(m.text(left));
      if (auto s = m.string_value(right)) {
        constants[name].push_back({std::string(*s), right.start(), right.end()});
        // A class-body field `model_name_or_path: str = "gpt2"`.
        if (!a.field("type").null()) {
          attr_defaults[name].push_back({std::string(*s), right.start(), right.end()});
        }
      } else if (right.is("dictionary")) {
        dicts[name] = right;
      } else if (right.is("call") && !a.field("type").null()) {
        // `model_name_or_path: str = field(default="gpt2", ...)`
        Node def = m.keyword(right, "default");
        if (auto dv = m.string_value(def)) {
          attr_defaults[name].push_back({std::string(*dv), def.start(), def.end()});
        }
      } else {
        constants[name].push_back({"\x01", 0, 0}); // reassigned to something else
      }
      return;
    }
    if (left.is("subscript")) {
      // os.environ["CUDA_VISIBLE_DEVICES"] = "0,1,2,3"
      auto q = m.qualified_name(left.field("value"));
      auto key = m.string_value(left.field("subscript"));
      auto value = m.string_value(right);
      if (q && *q == "os.environ" && key && *key == "CUDA_VISIBLE_DEVICES" && value) {
        int n = 0;
        std::string_view v = *value;
        size_t start = 0;
        while (start <= v.size()) {
          size_t end = v.find(',', start);
          if (end == std::string_view::npos) end = v.size();
          if (v.substr(start, end - start).find_first_not_of(" ") != std::string_view::npos) ++n;
          start = end + 1;
        }
        if (n > 0) gpus = n;
      }
      return;
    }
    if (left.is("attribute") && m.text(left.field("attribute")) == "requires_grad" &&
        Semantics::bool_value(right) == false) {
      freezes = true;
    }
  }

  void deepspeed_arg(Node v, const Semantics& m) {
    if (v.null()) return;
    if (auto s = m.string_value(v)) {
      ds_path = std::string(*s);
    } else if (v.is("dictionary")) {
      ds_node = v;
    } else if (v.is("identifier") && dicts.count(std::string(m.text(v)))) {
      ds_node = dicts[std::string(m.text(v))];
    } else if (v.is("identifier") && constants.count(std::string(m.text(v))) &&
               constants[std::string(m.text(v))].size() == 1 &&
               constants[std::string(m.text(v))][0].value != "\x01") {
      ds_path = constants[std::string(m.text(v))][0].value;
    } else if (!v.is("none")) {
      note("the DeepSpeed config is not a literal the script shows");
    }
  }

  void training_arguments(Node call, const Semantics& m) {
    trains = true;
    Node args = Semantics::arguments(call);
    for (uint32_t i = 0, n = args.named_child_count(); i < n; ++i) {
      if (args.named_child(i).is("dictionary_splat")) {
        note("training arguments are passed as **kwargs");
      }
    }
    for (const char* f : {"bf16", "fp16"}) {
      if (Semantics::bool_value(m.keyword(call, f)) == true) {
        mixed = true;
        half_type = f;
      }
    }
    Node optim = m.keyword(call, "optim");
    if (!optim.null()) {
      auto s = m.string_value(optim);
      auto o = s ? parse_optimizer(*s) : std::nullopt;
      if (o) {
        optimizer = o;
      } else {
        note("the optimizer is not one the estimate knows");
      }
    }
    deepspeed_arg(m.keyword(call, "deepspeed"), m);
    Node fsdp = m.keyword(call, "fsdp");
    if (!fsdp.null()) {
      auto s = m.string_value(fsdp);
      if (!s) {
        if (!(Semantics::bool_value(fsdp) == false) && !fsdp.is("none")) {
          note("the FSDP setting is not a literal");
        }
      } else if (contains(*s, "shard_grad_op")) {
        zero = std::max(zero, 2);
      } else if (contains(*s, "full_shard") || contains(*s, "hybrid_shard")) {
        zero = 3;
        if (contains(*s, "offload")) offload_optimizer = offload_params = true;
      }
    }
  }

  void lightning_trainer(Node call, const Semantics& m) {
    trains = true;
    Node prec = m.keyword(call, "precision");
    std::string_view p = prec.null() ? "" : m.text(prec);
    if (contains(p, "bf16")) {
      mixed = true;
      half_type = "bf16";
    } else if (contains(p, "16")) {
      mixed = true;
      half_type = "fp16";
    }
    for (const char* k : {"devices", "gpus"}) {
      Node d = m.keyword(call, k);
      if (auto n = m.int_value(d); n && *n > 0) gpus = static_cast<int>(*n);
      if (d.is("list")) gpus = static_cast<int>(d.named_child_count());
    }
    Node strategy = m.keyword(call, "strategy");
    if (auto s = m.string_value(strategy)) {
      if (starts_with(*s, "deepspeed_stage_")) {
        zero = std::atoi(std::string(s->substr(16, 1)).c_str());
        if (contains(*s, "offload")) {
          offload_optimizer = true;
          offload_params = zero == 3;
        }
      } else if (starts_with(*s, "fsdp")) {
        zero = 3;
      } else if (*s == "deepspeed") {
        zero = std::max(zero, 2); // Lightning's default DeepSpeed strategy is ZeRO-2
      }
    } else if (!strategy.null()) {
      note("the Lightning strategy is an object the estimate does not read");
    }
  }

  void on_call(Node call, const Semantics& m) {
    Node f = Semantics::callee(call);
    std::string_view tail = m.callee_tail(call);
    if (tail == "backward" && f.is("attribute")) trains = true;
    if (tail == "requires_grad_" &&
        Semantics::bool_value(Semantics::positional(call, 0)) == false) {
      freezes = true;
    }
    if (f.is("attribute") && (tail == "half" || tail == "bfloat16" || tail == "to")) {
      std::string dt = tail == "half"       ? "fp16"
                       : tail == "bfloat16" ? "bf16"
                                            : dtype_of(m.text(Semantics::arguments(call)));
      if (tail != "to" && Semantics::arguments(call).named_child_count() > 0) dt.clear();
      if (dt == "bf16" || dt == "fp16") {
        Node obj = f.field("object");
        cast_calls[obj.start()] = dt;
        if (obj.is("identifier") || obj.is("attribute")) cast_names[std::string(m.text(obj))] = dt;
      }
    }
    if (tail == "add_argument" && f.is("attribute")) {
      on_add_argument(call, m);
      return;
    }
    if (tail == "from_pretrained" && f.is("attribute")) {
      auto q = m.qualified_name(f.field("object"));
      if (q && is_model_loader(*q)) on_from_pretrained(call, m);
      return;
    }
    auto q = m.callee_name(call);
    if (!q) return;
    std::string_view name = *q;
    std::string_view cls = last_part(name);
    if (name == "transformers.pipeline" || name == "transformers.pipelines.pipeline") {
      on_pipeline(call, m);
    } else if ((starts_with(name, "transformers.") && ends_with(cls, "TrainingArguments")) ||
               (starts_with(name, "trl.") && ends_with(cls, "Config") && cls != "ModelConfig" &&
                cls != "LoraConfig")) {
      training_arguments(call, m);
    } else if ((starts_with(name, "transformers.") || starts_with(name, "trl.")) &&
               ends_with(cls, "Trainer")) {
      trains = true;
      hf_trainer = true;
    } else if (name == "transformers.HfArgumentParser" || name == "trl.TrlParser") {
      note("the training set-up comes from the command line (HfArgumentParser)");
    } else if (name == "accelerate.Accelerator") {
      trains = true;
      Node mp = m.keyword(call, "mixed_precision");
      if (auto s = m.string_value(mp); s && (*s == "bf16" || *s == "fp16")) {
        mixed = true;
        half_type = std::string(*s);
      }
      if (m.keyword(call, "deepspeed_plugin").null() && m.keyword(call, "fsdp_plugin").null()) {
        note("`accelerate launch` may add DeepSpeed or FSDP from its own config");
      } else {
        note("the accelerate plugin's sharding is not read");
      }
    } else if (name == "pytorch_lightning.Trainer" || name == "lightning.Trainer" ||
               name == "lightning.pytorch.Trainer" || name == "pytorch_lightning.trainer.Trainer") {
      lightning_trainer(call, m);
    } else if (starts_with(name, "torch.optim.") && name.find('.', 12) == std::string_view::npos) {
      on_torch_optimizer(call, m, cls);
    } else if (starts_with(name, "bitsandbytes.optim.")) {
      trains = true;
      optimizer_params(call, m);
      if (auto o = parse_optimizer(cls)) optimizer = o;
    } else if (name == "transformers.Adafactor" || name == "transformers.optimization.Adafactor") {
      trains = true;
      optimizer = Optimizer::Adafactor;
    } else if (name == "transformers.AdamW" || name == "transformers.optimization.AdamW") {
      trains = true;
      optimizer = Optimizer::AdamW;
    } else if (name == "deepspeed.initialize") {
      trains = true;
      Node cfg = m.keyword(call, "config");
      if (cfg.null()) cfg = m.keyword(call, "config_params");
      if (cfg.null()) {
        note("deepspeed.initialize takes its config from the command line");
      } else {
        deepspeed_arg(cfg, m);
      }
    } else if (cls == "FullyShardedDataParallel" || cls == "fully_shard") {
      if (!starts_with(name, "torch.distributed.")) return;
      Node strategy = m.keyword(call, "sharding_strategy");
      std::string_view s = strategy.null() ? "" : m.text(strategy);
      int stage = contains(s, "NO_SHARD") ? 0 : contains(s, "SHARD_GRAD_OP") ? 2 : 3;
      zero = std::max(zero, stage);
      Node off = m.keyword(call, "cpu_offload");
      if (!off.null() && contains(m.text(off), "True")) offload_optimizer = offload_params = true;
    } else if (name == "peft.LoraConfig" || name == "peft.tuners.lora.LoraConfig") {
      lora = true;
      lora_options(call, m);
    } else if (name == "peft.get_peft_model") {
      lora = true;
    } else if (starts_with(name, "unsloth.") && cls == "get_peft_model") {
      lora = true;
      trains = true;
      lora_options(call, m);
    } else if (name == "transformers.BitsAndBytesConfig") {
      if (Semantics::bool_value(m.keyword(call, "load_in_4bit")) == true) bnb_bits = 4;
      if (Semantics::bool_value(m.keyword(call, "load_in_8bit")) == true) bnb_bits = 8;
    } else if (name == "torch.multiprocessing.spawn") {
      if (auto n = m.int_value(m.keyword(call, "nprocs")); n && *n > 0) gpus = static_cast<int>(*n);
    } else if (name == "torch.autocast" || name == "torch.cuda.amp.autocast" ||
               name == "torch.amp.autocast" || name == "torch.cuda.amp.GradScaler" ||
               name == "torch.amp.GradScaler") {
      mixed = true;
      std::string_view args = m.text(Semantics::arguments(call));
      if (half_type.empty()) half_type = contains(args, "bfloat16") ? "bf16" : "fp16";
    }
  }

  void on_torch_optimizer(Node call, const Semantics& m, std::string_view cls) {
    if (cls.empty() || !std::isupper(static_cast<unsigned char>(cls[0]))) return;
    trains = true;
    optimizer_params(call, m);
    if (cls == "Adam" || cls == "AdamW") {
      optimizer = Optimizer::AdamW;
    } else if (cls == "SGD") {
      Node mom = m.keyword(call, "momentum");
      bool with = !mom.null() && m.text(mom) != "0" && m.text(mom) != "0.0";
      optimizer = with ? Optimizer::SgdMomentum : Optimizer::Sgd;
    } else if (cls == "Adafactor") {
      optimizer = Optimizer::Adafactor;
    } else if (cls != "Optimizer" && !contains(cls, "LR") && !contains(cls, "Scheduler")) {
      note("the optimizer (" + std::string(cls) + ") is not one the estimate knows");
    }
  }

  // What an optimizer trains: `model` for `AdamW(model.parameters())`, `self` for
  // `self.parameters()`; anything else (a list of groups, a filter) is not followed.
  void optimizer_params(Node call, const Semantics& m) {
    Node arg = Semantics::positional(call, 0);
    if (arg.null()) arg = m.keyword(call, "params");
    if (arg.is("call") && m.callee_tail(arg) == "parameters" &&
        Semantics::callee(arg).is("attribute")) {
      Node obj = Semantics::receiver(arg);
      if (obj.is("identifier") || obj.is("attribute")) {
        optimized.emplace_back(m.text(obj));
        return;
      }
    }
    optimized_unknown = true;
  }

  // Is the model assigned to `target` among what the optimizers train? Unknown -> yes.
  bool optimized_by_script(const std::string& target) const {
    if (hf_trainer || optimized_unknown || optimized.empty() || target.empty()) return true;
    for (const auto& o : optimized) {
      if (o == target || target.starts_with(o + ".") || o.starts_with(target + ".")) return true;
    }
    return false;
  }

  void lora_options(Node call, const Semantics& m) {
    if (auto r = m.int_value(m.keyword(call, "r")); r && *r > 0 && *r < 100000) {
      lora_r = static_cast<int>(*r);
    }
    Node t = m.keyword(call, "target_modules");
    if (t.null()) return;
    lora_targets.clear();
    if (auto s = m.string_value(t)) {
      if (*s == "all-linear") {
        lora_all_linear = true;
      } else {
        lora_targets.push_back("<pattern>"); // a regular expression: use the fallback fraction
      }
      return;
    }
    if (t.is("list") || t.is("tuple") || t.is("set")) {
      for (uint32_t i = 0, n = t.named_child_count(); i < n; ++i) {
        if (auto s = m.string_value(t.named_child(i))) lora_targets.emplace_back(*s);
      }
    }
    if (lora_targets.empty()) lora_targets.push_back("<unknown>");
  }

  void on_add_argument(Node call, const Semantics& m) {
    auto def = m.string_value(m.keyword(call, "default"));
    if (!def) return;
    Node d = m.keyword(call, "default");
    std::string dest;
    if (auto s = m.string_value(m.keyword(call, "dest"))) dest = std::string(*s);
    for (uint32_t i = 0; dest.empty(); ++i) {
      Node a = Semantics::positional(call, i);
      if (a.null()) break;
      auto s = m.string_value(a);
      if (s && starts_with(*s, "--")) dest = std::string(s->substr(2));
    }
    if (dest.empty()) {
      if (auto s = m.string_value(Semantics::positional(call, 0)); s && !starts_with(*s, "-")) {
        dest = std::string(*s);
      }
    }
    std::replace(dest.begin(), dest.end(), '-', '_');
    if (!dest.empty()) attr_defaults[dest].push_back({std::string(*def), d.start(), d.end()});
  }

  void on_from_pretrained(Node call, const Semantics& m) {
    Pending p;
    if (auto it = assign_target.find(call.start()); it != assign_target.end()) {
      p.target = it->second;
    }
    p.arg = Semantics::positional(call, 0);
    if (p.arg.null()) p.arg = m.keyword(call, "pretrained_model_name_or_path");
    if (p.arg.null()) p.arg = m.keyword(call, "model_name");
    if (p.arg.null()) return;
    p.ref.call_start = call.start();
    p.ref.call_end = call.end();
    if (Semantics::bool_value(m.keyword(call, "load_in_4bit")) == true) p.ref.quant_bits = 4;
    if (Semantics::bool_value(m.keyword(call, "load_in_8bit")) == true) p.ref.quant_bits = 8;
    Node qc = m.keyword(call, "quantization_config");
    p.quant_from_config = !qc.null() && !qc.is("none");
    Node dt = m.keyword(call, "torch_dtype");
    if (dt.null()) dt = m.keyword(call, "dtype");
    if (!dt.null()) {
      p.ref.dtype = dtype_of(m.text(dt));
      if (p.ref.dtype.empty() && !dt.is("none")) p.ref.dtype = "?"; // not a literal dtype
    }
    p.ref.spread =
        spreads(m.keyword(call, "device_map"), m) || !m.keyword(call, "max_memory").null();
    refs.push_back(std::move(p));
  }

  // A device_map other than one device: {"": 0}, {"": local_rank}, "cuda", "cuda:1", 0.
  static bool spreads(Node map, const Semantics& m) {
    if (map.null() || map.is("none") || map.is("integer")) return false;
    if (auto s = m.string_value(map)) {
      return !(s->starts_with("cuda") || *s == "mps");
    }
    if (map.is("dictionary") && map.named_child_count() == 1) {
      Node pair = map.named_child(0);
      auto key = pair.is("pair") ? m.string_value(pair.field("key")) : std::nullopt;
      return !(key && key->empty());
    }
    return true;
  }

  void on_pipeline(Node call, const Semantics& m) {
    Pending p;
    p.arg = m.keyword(call, "model");
    if (p.arg.null()) p.arg = Semantics::positional(call, 1);
    if (p.arg.null()) return;
    p.ref.pipeline = true;
    p.ref.call_start = call.start();
    p.ref.call_end = call.end();
    Node dt = m.keyword(call, "torch_dtype");
    if (dt.null()) dt = m.keyword(call, "dtype");
    if (!dt.null()) p.ref.dtype = dtype_of(m.text(dt));
    refs.push_back(std::move(p));
  }

  // The literal an argument stands for: itself, a name bound once to a literal, or the default of
  // a command-line option / dataclass field of that attribute name.
  std::optional<Literal> literal_of(Node arg, const Semantics& m, bool& from_default) const {
    from_default = false;
    if (auto s = m.string_value(arg)) return Literal{std::string(*s), arg.start(), arg.end()};
    auto unique = [](const std::vector<Literal>& v) -> std::optional<Literal> {
      if (v.empty()) return std::nullopt;
      for (const auto& l : v) {
        if (l.value != v[0].value) return std::nullopt;
      }
      return v[0];
    };
    if (arg.is("identifier")) {
      auto it = constants.find(std::string(m.text(arg)));
      if (it != constants.end()) return unique(it->second);
      return std::nullopt;
    }
    if (arg.is("attribute") && arg.field("object").is("identifier")) {
      auto it = attr_defaults.find(std::string(m.text(arg.field("attribute"))));
      if (it != attr_defaults.end()) {
        from_default = true;
        return unique(it->second);
      }
    }
    return std::nullopt;
  }

  DsInfo ds_from_dict(Node dict, const Semantics& m) const {
    // The literal as JSON: walk pairs with string keys and literal values.
    std::function<nlohmann::json(Node)> to_json = [&](Node n) -> nlohmann::json {
      if (n.is("dictionary")) {
        nlohmann::json o = nlohmann::json::object();
        for (uint32_t i = 0, c = n.named_child_count(); i < c; ++i) {
          Node pair = n.named_child(i);
          if (!pair.is("pair")) continue;
          auto key = m.string_value(pair.field("key"));
          if (key) o[std::string(*key)] = to_json(pair.field("value"));
        }
        return o;
      }
      if (auto s = m.string_value(n)) return std::string(*s);
      if (auto v = m.int_value(n)) return *v;
      if (auto b = Semantics::bool_value(n)) return *b;
      return nullptr;
    };
    return parse_ds_json(to_json(dict));
  }
};

ScriptScanner::ScriptScanner() : impl_(std::make_unique<Impl>()) {}
ScriptScanner::~ScriptScanner() = default;

void ScriptScanner::visit(ts::Node node, const Semantics& model) {
  if (node.is("call")) {
    impl_->on_call(node, model);
  } else if (node.is("assignment")) {
    impl_->on_assignment(node, model);
  }
}

ScriptAnalysis ScriptScanner::finish(std::string_view source, std::string_view base_dir) {
  Impl& s = *impl_;
  Semantics m(source);
  ScriptAnalysis a;
  for (auto& p : s.refs) {
    bool from_default = false;
    auto lit = s.literal_of(p.arg, m, from_default);
    ModelRef ref = p.ref;
    ref.arg_start = p.arg.start();
    ref.arg_end = p.arg.end();
    if (lit && lit->value != "\x01") {
      ref.id = lit->value;
      ref.start = lit->start;
      ref.end = lit->end;
      ref.from_default = from_default;
    } else {
      ref.start = ref.arg_start;
      ref.end = ref.arg_end;
    }
    if (p.quant_from_config && ref.quant_bits == 0) ref.quant_bits = s.bnb_bits;
    // A cast after loading: `model = model.half()`, `from_pretrained(...).to(torch.bfloat16)`.
    if (auto c = s.cast_calls.find(p.ref.call_start); c != s.cast_calls.end()) {
      ref.dtype = c->second;
    } else if (auto n = s.cast_names.find(p.target); !p.target.empty() && n != s.cast_names.end()) {
      ref.dtype = n->second;
    }
    ref.trained = !ref.pipeline && s.trains && s.optimized_by_script(p.target);
    std::string lower_id = ref.id;
    for (char& c : lower_id)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ref.quant_bits == 0 && (contains(lower_id, "bnb-4bit") || contains(lower_id, "-4bit"))) {
      ref.quant_bits = 4;
    }
    a.models.push_back(std::move(ref));
  }

  DsInfo ds;
  bool have_ds = false;
  if (!s.ds_node.null()) {
    ds = s.ds_from_dict(s.ds_node, m);
    have_ds = true;
  } else if (!s.ds_path.empty()) {
    if (base_dir.empty()) {
      s.note("the DeepSpeed config file " + s.ds_path + " is not read");
    } else {
      std::filesystem::path p{s.ds_path};
      if (!p.is_absolute()) p = std::filesystem::path(std::string(base_dir)) / p;
      std::error_code ec;
      // Checked before opening: opening a FIFO (or a device) named in a script would block.
      bool regular = std::filesystem::is_regular_file(p, ec);
      uintmax_t size = regular ? std::filesystem::file_size(p, ec) : 0;
      std::ifstream in;
      if (regular && !ec && size <= (16u << 20)) in.open(p, std::ios::binary);
      if (!in) {
        s.note("the DeepSpeed config file " + s.ds_path + " was not found");
      } else {
        std::stringstream ss;
        ss << in.rdbuf();
        auto j = nlohmann::json::parse(ss.str(), nullptr, false);
        if (j.is_discarded()) {
          s.note("the DeepSpeed config file " + s.ds_path + " is not valid JSON");
        } else {
          ds = parse_ds_json(j);
          have_ds = true;
        }
      }
    }
  }
  if (have_ds) {
    if (!ds.stage) {
      s.note("the DeepSpeed config gives no literal ZeRO stage");
    } else {
      s.zero = std::max(s.zero, *ds.stage);
    }
    s.offload_optimizer = s.offload_optimizer || ds.offload_optimizer;
    s.offload_params = s.offload_params || ds.offload_params;
    if (ds.gpus && s.gpus == 0) s.gpus = *ds.gpus;
  }

  a.trains = s.trains;
  TrainingSetup& t = a.setup;
  t.method = !s.trains ? Method::Inference : s.lora ? Method::Lora : Method::Full;
  t.precision = s.mixed ? Precision::Mixed : Precision::Fp32;
  t.half_type = s.half_type.empty() ? "bf16" : s.half_type;
  t.optimizer = s.optimizer.value_or(Optimizer::AdamW);
  t.zero_stage = std::clamp(s.zero, 0, 3);
  t.offload_optimizer = s.offload_optimizer;
  t.offload_params = s.offload_params;
  t.gpus = s.gpus;
  t.lora_r = s.lora_r;
  t.lora_targets = s.lora_targets;
  t.lora_all_linear = s.lora_all_linear;
  if (s.trains) {
    if (s.freezes && !s.lora) s.note("some parameters are frozen (requires_grad=False)");
    if (t.zero_stage > 0 && t.gpus == 0) s.note("the number of GPUs is not known");
  }
  a.uncertain = s.uncertain;
  return a;
}

TrainingSetup setup_for(const ScriptAnalysis& a, const ModelRef& ref, const ModelSize* size) {
  TrainingSetup s = a.setup;
  if (ref.pipeline) {
    s = TrainingSetup{};
    s.method = Method::Inference;
  }
  s.quant_bits = ref.quant_bits;
  bool half = ref.dtype == "bf16" || ref.dtype == "fp16";
  if (ref.dtype == "auto") {
    half = !size || size->torch_dtype.empty() || size->torch_dtype == "bfloat16" ||
           size->torch_dtype == "float16";
  }
  if (ref.dtype == "fp16") s.half_type = "fp16";
  if (ref.dtype == "bf16") s.half_type = "bf16";
  if (s.method == Method::Inference) {
    // The guide's inference figure: the 2 B/param working copy (M1).
    s.precision = ref.dtype == "fp32" ? Precision::Fp32 : Precision::Half;
  } else if (half) {
    s.precision = Precision::Half;
  }
  return s;
}

ScriptAnalysis analyze_script(std::string_view text, const ts::Tree& tree,
                              std::string_view base_dir) {
  ScriptScanner scanner;
  Node root = tree.root();
  if (root.null()) return scanner.finish(text, base_dir);
  Semantics model(text);
  model.prescan_module(root);
  // Pre-order walk with the innermost enclosing function, as the engine drives the model.
  struct Item {
    Node node;
    Node function;
    bool class_member; // a statement of a class body
    bool class_body;   // the body block of a class
  };
  std::vector<Item> stack{{root, Node(), false, false}};
  while (!stack.empty()) {
    Item it = stack.back();
    stack.pop_back();
    model.enter(it.node, it.function, it.class_member);
    scanner.visit(it.node, model);
    Node fn = it.node.is("function_definition") ? it.node : it.function;
    bool members = it.class_body || (it.class_member && it.node.is("decorated_definition"));
    bool is_class = it.node.is("class_definition");
    for (uint32_t i = it.node.named_child_count(); i-- > 0;) {
      Node child = it.node.named_child(i);
      stack.push_back({child, fn, members, is_class && child.is("block")});
    }
  }
  return scanner.finish(text, base_dir);
}

std::optional<ModelRef> find_model_at(std::string_view text, const ts::Tree& tree,
                                      uint32_t byte_offset) {
  auto a = analyze_script(text, tree);
  for (const auto& r : a.models) {
    bool on_id = byte_offset >= r.start && byte_offset < r.end;
    bool on_arg = byte_offset >= r.arg_start && byte_offset < r.arg_end;
    if (!r.id.empty() && (on_id || on_arg)) return r;
  }
  return std::nullopt;
}

std::optional<MemoryEstimate> estimate_for(const ScriptAnalysis& a, const ModelRef& ref,
                                           std::string_view base_dir) {
  if (ref.id.empty()) return std::nullopt;
  auto size = resolve_model(ref.id, base_dir);
  if (!size) return std::nullopt;
  return estimate(ref.id, *size, setup_for(a, ref, &*size));
}

std::string hover_markdown(std::string_view text, const ts::Tree& tree, uint32_t byte_offset,
                           std::string_view base_dir) {
  auto a = analyze_script(text, tree, base_dir);
  for (const auto& r : a.models) {
    bool on_id = byte_offset >= r.start && byte_offset < r.end;
    bool on_arg = byte_offset >= r.arg_start && byte_offset < r.arg_end;
    if (r.id.empty() || !(on_id || on_arg)) continue;
    auto e = estimate_for(a, r, base_dir);
    if (!e) {
      return "**" + r.id +
             "**: parameter count not known (no local config.json, not in the built-in table, "
             "no size such as `7b` in the id).\n";
    }
    std::string out = table_markdown(*e);
    if (r.from_default) out += "\nThe id is the default of a command-line option or field.\n";
    if (r.spread) {
      out += "\n`device_map` may spread the weights over several devices: the figures are for "
             "one GPU holding the whole model.\n";
    }
    if (!a.uncertain.empty()) {
      out += "\nNot read from the script, so not in these figures:";
      for (const auto& u : a.uncertain)
        out += "\n- " + u;
      out += "\n";
    }
    return out;
  }
  return {};
}

std::vector<std::pair<uint32_t, std::string>>
inlay_hints(std::string_view text, const ts::Tree& tree, std::string_view base_dir) {
  std::vector<std::pair<uint32_t, std::string>> out;
  auto a = analyze_script(text, tree, base_dir);
  for (const auto& r : a.models) {
    auto e = estimate_for(a, r, base_dir);
    if (!e) continue;
    std::string label =
        "≈ " + format_gb(e->current.total) +
        (e->setup.method == Method::Inference ? " of weights" : " before activations");
    out.emplace_back(r.call_end, std::move(label));
  }
  return out;
}

} // namespace oomlint::checks::estimate
