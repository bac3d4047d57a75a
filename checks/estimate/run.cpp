#include "estimate/run.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "facts/training_args.h"
#include "model/analysis.h"
#include "model/semantics.h"

namespace oomlint::checks::estimate {

namespace {

using ts::Node;

std::string at_line(std::string_view text, Node n) {
  size_t line = 1;
  for (size_t i = 0; i < n.start() && i < text.size(); ++i)
    line += text[i] == '\n';
  return " (line " + std::to_string(line) + ")";
}

struct Reader {
  std::string_view text;
  const Semantics& sema;
  const Analysis& analysis;
  std::string_view base_dir;
  RunFacts facts;

  std::optional<long long> int_of(Node v) const {
    if (v.null()) return std::nullopt;
    auto c = analysis.constant(v);
    if (c && c->kind == Const::Kind::Int && c->i > 0) return c->i;
    return std::nullopt;
  }
  std::optional<bool> bool_of(Node v) const {
    if (v.null()) return std::nullopt;
    auto c = analysis.constant(v);
    if (c && (c->kind == Const::Kind::Bool || c->kind == Const::Kind::Int)) return c->truthy();
    return std::nullopt;
  }
  std::optional<std::string> str_of(Node v) const {
    if (v.null()) return std::nullopt;
    auto c = analysis.constant(v);
    if (c && c->kind == Const::Kind::Str) return c->s;
    return std::nullopt;
  }

  template <typename T> void set(Read<T>& r, T v, std::string from) {
    if (!r.value) {
      r.value = v;
      r.from = std::move(from);
    }
  }
  void take_int(Read<long long>& r, Node call, std::string_view key) {
    Node v = sema.keyword(call, key);
    if (auto i = int_of(v))
      set(r, *i, std::string(key) + "=" + std::to_string(*i) + at_line(text, v));
  }
  // Sequence lengths: the largest one the script pads or truncates to.
  void take_seq(Node call) {
    for (std::string_view key :
         {"max_length", "max_seq_length", "block_size", "model_max_length", "max_seq_len"}) {
      Node v = sema.keyword(call, key);
      auto i = int_of(v);
      if (!i || *i > (1 << 24)) continue;
      if (!facts.seq_len.value || *i > *facts.seq_len.value) {
        facts.seq_len.value = *i;
        facts.seq_len.from = std::string(key) + "=" + std::to_string(*i) + at_line(text, v);
      }
    }
  }

  void deepspeed_file(Node v) {
    auto path = str_of(v);
    if (!path || base_dir.empty()) return;
    std::filesystem::path p{*path};
    if (!p.is_absolute()) p = std::filesystem::path(std::string(base_dir)) / p;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) return;
    if (std::filesystem::file_size(p, ec) > (16u << 20) || ec) return;
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    auto j = nlohmann::json::parse(ss.str(), nullptr, false);
    if (!j.is_object()) return;
    auto mb = j.find("train_micro_batch_size_per_gpu");
    if (mb != j.end() && mb->is_number_integer() && mb->get<long long>() > 0) {
      set(facts.batch, mb->get<long long>(),
          "train_micro_batch_size_per_gpu in " + std::string(*path));
    }
    auto ga = j.find("gradient_accumulation_steps");
    if (ga != j.end() && ga->is_number_integer() && ga->get<long long>() > 0) {
      set(facts.grad_accum, ga->get<long long>(),
          "gradient_accumulation_steps in " + std::string(*path));
    }
  }

  void on_call(Node call) {
    std::string_view tail = sema.callee_tail(call);
    if (tail == "generate" || tail == "pipeline") return; // generation lengths, not training
    auto q = sema.callee_name(call);
    std::string_view name = q ? *q : std::string_view{};
    if (tail == "gradient_checkpointing_enable") {
      set(facts.checkpointing, true, "gradient_checkpointing_enable()" + at_line(text, call));
    }
    if (name == "torch.utils.checkpoint.checkpoint" ||
        name == "torch.utils.checkpoint.checkpoint_sequential") {
      set(facts.checkpointing, true, std::string(name) + at_line(text, call));
    }
    if (tail == "from_pretrained") {
      if (auto a = str_of(sema.keyword(call, "attn_implementation"))) {
        Attention at = *a == "eager"                           ? Attention::Eager
                       : a->find("flash") != std::string::npos ? Attention::Flash
                                                               : Attention::Sdpa;
        set(facts.attention, at, "attn_implementation=\"" + *a + "\"" + at_line(text, call));
      }
      if (bool_of(sema.keyword(call, "use_flash_attention_2")) == true) {
        set(facts.attention, Attention::Flash, "use_flash_attention_2=True" + at_line(text, call));
      }
      Node f = Semantics::callee(call);
      auto cls = f.is("attribute") ? sema.qualified_name(f.field("object")) : std::nullopt;
      if (cls) {
        std::string_view c = *cls;
        if (c.find("CausalLM") != std::string_view::npos ||
            c.find("LMHead") != std::string_view::npos) {
          set(facts.head, Head::CausalLm, std::string(c) + at_line(text, call));
        } else if (c.find("Classification") != std::string_view::npos ||
                   c.find("QuestionAnswering") != std::string_view::npos) {
          set(facts.head, Head::Classification, std::string(c) + at_line(text, call));
        }
      }
      take_seq(call);
      return;
    }
    if (facts::is_training_arguments_class(name)) {
      facts.training_args.push_back({call.start(), call.end(), name.starts_with("trl.")});
      take_int(facts.batch, call, "per_device_train_batch_size");
      take_int(facts.grad_accum, call, "gradient_accumulation_steps");
      if (auto g = bool_of(sema.keyword(call, "gradient_checkpointing"))) {
        set(facts.checkpointing, *g,
            std::string("gradient_checkpointing=") + (*g ? "True" : "False") + at_line(text, call));
      }
      if (!facts::has_dictionary_splat(call)) {
        set(facts.batch_default, 8LL,
            std::string(name.substr(name.rfind('.') + 1)) +
                " default per_device_train_batch_size=8" + at_line(text, call));
        if (name.starts_with("trl.")) {
          set(facts.seq_default, 1024LL,
              std::string(name.substr(name.rfind('.') + 1)) + " default max_length=1024" +
                  at_line(text, call));
          set(facts.head, Head::CausalLm, std::string(name) + at_line(text, call));
        }
      }
      deepspeed_file(sema.keyword(call, "deepspeed"));
      take_seq(call);
      return;
    }
    if (name == "torch.utils.data.DataLoader" || name == "torch.utils.data.dataloader.DataLoader") {
      Node v = sema.keyword(call, "batch_size");
      if (v.null()) v = Semantics::positional(call, 1);
      if (auto i = int_of(v)) {
        set(facts.batch, *i,
            "DataLoader(batch_size=" + std::to_string(*i) + ")" + at_line(text, v));
      }
      return;
    }
    if (name == "pytorch_lightning.Trainer" || name == "lightning.Trainer" ||
        name == "lightning.pytorch.Trainer") {
      take_int(facts.grad_accum, call, "accumulate_grad_batches");
      return;
    }
    if (name == "deepspeed.initialize") {
      deepspeed_file(sema.keyword(call, "config"));
      return;
    }
    take_seq(call);
  }
};

} // namespace

RunFacts read_run(std::string_view text, const ts::Tree& tree, std::string_view base_dir) {
  return read_run(text, tree.root(), base_dir);
}

RunFacts read_run(std::string_view text, Node root, std::string_view base_dir) {
  Semantics sema(text);
  RunFacts empty;
  if (root.null()) return empty;
  sema.prescan_module(root);
  FileContext file;
  Analysis analysis(text, root, sema, file);
  Reader r{text, sema, analysis, base_dir, {}};
  r.facts.expandable_segments = text.find("expandable_segments:True") != std::string_view::npos;
  struct Item {
    Node node;
    Node function;
    bool class_member;
    bool class_body;
  };
  std::vector<Item> stack{{root, Node(), false, false}};
  while (!stack.empty()) {
    Item it = stack.back();
    stack.pop_back();
    sema.enter(it.node, it.function, it.class_member);
    if (it.node.is("call") && !analysis.is_dead(it.node)) r.on_call(it.node);
    Node fn = it.node.is("function_definition") ? it.node : it.function;
    bool members = it.class_body || (it.class_member && it.node.is("decorated_definition"));
    bool is_class = it.node.is("class_definition");
    for (uint32_t i = it.node.named_child_count(); i-- > 0;) {
      Node child = it.node.named_child(i);
      stack.push_back({child, fn, members, is_class && child.is("block")});
    }
  }
  return r.facts;
}

std::optional<RunFacts::ArgsCall> training_args_at(std::string_view text, const ts::Tree& tree,
                                                   uint32_t byte_offset) {
  std::optional<RunFacts::ArgsCall> best;
  for (const auto& c : read_run(text, tree).training_args) {
    if (byte_offset < c.start || byte_offset >= c.end) continue;
    if (!best || c.end - c.start < best->end - best->start) best = c;
  }
  return best;
}

} // namespace oomlint::checks::estimate
