// The estimator: parameter counts of real configs against their published figures, the guide's
// arithmetic (M1, M9, M10, M12, M13), the script reader, the hover and the inlay hints.
#include <catch2/catch.hpp>

#include "estimate/memory.h"
#include "estimate/model_size.h"
#include "estimate/script.h"
#include "fixture_support.h"
#include "ts.h"

using namespace oomlint;
namespace est = checks::estimate;

namespace {

std::string models_dir() {
  return (test::source_dir() / "tests" / "fixtures" / "models").string();
}

est::ModelSize config(const std::string& name) {
  auto text =
      test::read_file(test::source_dir() / "tests" / "fixtures" / "models" / name / "config.json");
  std::string err;
  auto m = est::params_from_config(text, &err);
  INFO(name << ": " << err);
  REQUIRE(m);
  return *m;
}

est::ModelSize params(double p) {
  est::ModelSize m;
  m.params = p;
  return m;
}

} // namespace

TEST_CASE("parameter counts of real configs match their published figures", "[estimate]") {
  struct Case {
    const char* dir;
    double exact;     // what the architecture's layer sizes add up to
    double published; // what the model's publisher states
  };
  const Case cases[] = {
      {"gpt2", 124439808, 124e6},              // GPT-2 small "124M"
      {"bert-base-uncased", 109482240, 110e6}, // BERT-base "110M" (with the pooler)
      {"llama-2-7b-hf", 6738415616, 6.74e9},   // Llama 2 7B: 6.74B
      {"mistral-7b-v0.1", 7241732096, 7.24e9}, // Mistral 7B: 7.24B
      {"qwen2-0.5b", 494032768, 0.49e9},       // Qwen2-0.5B: 0.49B (tied embeddings)
      {"tinyllama-1.1b-chat-v1.0", 1100048384, 1.1e9},
      {"t5-small", 60506624, 60e6},               // T5-small "60M"
      {"pythia-70m", 70426624, 70426624},         // Pythia paper: 70,426,624
      {"opt-125m", 125239296, 125e6},             // OPT-125M
      {"falcon-7b", 6921720704, 7e9},             // Falcon-7B "7B"
      {"mixtral-8x7b-v0.1", 46702792704, 46.7e9}, // Mixtral 8x7B: 46.7B total
  };
  for (const auto& c : cases) {
    INFO(c.dir);
    auto m = config(c.dir);
    CHECK(m.source == est::ParamSource::ConfigJson);
    CHECK(m.params == Approx(c.exact).epsilon(1e-9));
    CHECK(m.params == Approx(c.published).epsilon(0.02));
  }
}

TEST_CASE("bad or unknown configs give an error, not a crash", "[estimate]") {
  std::string err;
  CHECK_FALSE(est::params_from_config("{not json", &err));
  CHECK_FALSE(err.empty());
  CHECK_FALSE(est::params_from_config(R"({"model_type": "llama", "hidden_size": 4096})", &err));
  CHECK(err.find("lacks") != std::string::npos);
  CHECK_FALSE(est::params_from_config(R"({"model_type": "mamba"})", &err));
  CHECK(err.find("mamba") != std::string::npos);
  CHECK_FALSE(est::params_from_config("[1, 2]", &err));
  CHECK_FALSE(est::params_from_config(
      R"({"model_type": "gpt2", "n_embd": "768", "n_layer": 12, "n_positions": 1024, "vocab_size": 1})",
      &err));
  CHECK_FALSE(est::resolve_model(""));
  CHECK_FALSE(est::resolve_model("some/unknown-model"));
}

TEST_CASE("sizes from the table and from the id", "[estimate]") {
  auto gpt2 = est::params_from_table("openai-community/gpt2");
  REQUIRE(gpt2);
  CHECK(gpt2->params == 124e6);
  CHECK(est::params_from_table("GPT2")->params == 124e6);
  CHECK(est::params_from_table("meta-llama/Llama-2-7b-hf")->params == 6.74e9);
  CHECK_FALSE(est::params_from_table("someone/Llama-2-7b-hf")); // namespaced entries match exactly

  CHECK(est::params_from_id("facebook/opt-1.3b")->params == Approx(1.3e9));
  CHECK(est::params_from_id("EleutherAI/pythia-70m-deduped")->params == Approx(70e6));
  CHECK(est::params_from_id("meta-llama/Llama-2-13b-chat")->params == Approx(13e9));
  CHECK(est::params_from_id("bigscience/bloom-7b1")->params == Approx(7.1e9));
  CHECK(est::params_from_id("Qwen/Qwen2.5-7B-Instruct-1M")->params == Approx(7e9));
  // Mixture of experts: not 8 x 22 = 176B; Mixtral 8x22B has 141B.
  auto moe = est::params_from_id("mistralai/Mixtral-8x22B-v0.1");
  REQUIRE(moe);
  CHECK(moe->approximate);
  CHECK(moe->params == Approx(141e9).epsilon(0.01));
  CHECK_FALSE(est::params_from_id("Qwen/Qwen1.5-MoE-A2.7B")); // A2.7B counts active parameters
  CHECK_FALSE(est::params_from_id("microsoft/phi-2"));
  CHECK_FALSE(est::params_from_id("bert-base-uncased"));

  // Order: local config.json, then the table, then the id.
  auto local = est::resolve_model("llama-2-7b-hf", models_dir());
  REQUIRE(local);
  CHECK(local->source == est::ParamSource::ConfigJson);
  CHECK(est::resolve_model("meta-llama/Llama-2-7b-hf")->source == est::ParamSource::Table);
  CHECK(est::resolve_model("meta-llama/Llama-2-7b-chat-hf")->params == 6.74e9);
  CHECK(est::resolve_model("huggyllama/llama-7b")->source == est::ParamSource::IdSize);
}

TEST_CASE("M1: Adam mixed precision costs 18 B/param, a 4B model 72 GB", "[estimate]") {
  est::TrainingSetup s; // full fine-tune, AdamW, bf16 mixed precision
  auto r = est::estimate_row(params(4e9), s);
  CHECK(r.weights == Approx(24e9));   // 6 B: 2 working + 4 fp32 master
  CHECK(r.gradients == Approx(16e9)); // 4 B
  CHECK(r.optimizer == Approx(32e9)); // 8 B: m and v
  CHECK(r.total == Approx(72e9));
  CHECK(est::format_gb(r.total) == "72 GB");

  s.method = est::Method::Inference;
  s.precision = est::Precision::Half;
  CHECK(est::estimate_row(params(4e9), s).total == Approx(8e9)); // 2 B/param

  est::TrainingSetup fp32;
  fp32.precision = est::Precision::Fp32;
  CHECK(est::estimate_row(params(1e9), fp32).total == Approx(16e9));
  est::TrainingSetup pure;
  pure.precision = est::Precision::Half; // 16-bit weights: 2 + 2 + 4 (Adam state in bf16)
  CHECK(est::estimate_row(params(1e9), pure).total == Approx(8e9));
}

TEST_CASE("M12: an 8-bit optimizer keeps ~2 B/param of state", "[estimate]") {
  est::TrainingSetup s;
  s.optimizer = *est::parse_optimizer("adamw_bnb_8bit");
  auto r = est::estimate_row(params(4e9), s);
  CHECK(r.optimizer == Approx(8e9));
  CHECK(r.total == Approx(48e9));
  CHECK(est::parse_optimizer("paged_adamw_8bit") == est::Optimizer::PagedAdamW8bit);
  CHECK(est::parse_optimizer("adamw_8bit") == est::Optimizer::AdamW8bit);
  CHECK(est::parse_optimizer("AdamW8bit") == est::Optimizer::AdamW8bit);
  CHECK(est::parse_optimizer("adamw_torch_fused") == est::Optimizer::AdamW);
  CHECK(est::parse_optimizer("adafactor") == est::Optimizer::Adafactor);
  CHECK(est::parse_optimizer("sgd") == est::Optimizer::Sgd);
  CHECK_FALSE(est::parse_optimizer("rmsprop"));
}

TEST_CASE("M9/M10: ZeRO shards optimizer, then gradients, then weights, offload moves them",
          "[estimate]") {
  est::TrainingSetup s;
  s.gpus = 4;
  s.zero_stage = 1;
  CHECK(est::estimate_row(params(4e9), s).total == Approx(24e9 + 16e9 + 8e9));
  s.zero_stage = 2;
  CHECK(est::estimate_row(params(4e9), s).total == Approx(24e9 + 4e9 + 8e9));
  s.zero_stage = 3;
  CHECK(est::estimate_row(params(4e9), s).total == Approx(18e9)); // 72 GB / 4
  s.offload_optimizer = true;
  auto r = est::estimate_row(params(4e9), s);
  CHECK(r.optimizer == 0);
  CHECK(r.cpu == Approx(8e9));
  s.offload_params = true;
  r = est::estimate_row(params(4e9), s);
  CHECK(r.total == Approx(4e9)); // only the gradient shard stays
  CHECK(r.cpu == Approx(8e9 + 6e9));
  // Sharding over an unknown number of GPUs is flagged.
  est::TrainingSetup unknown;
  unknown.zero_stage = 3;
  CHECK(est::estimate_row(params(4e9), unknown).assumed);
}

TEST_CASE("M13: LoRA trains adapters over a 16-bit base, QLoRA stores it in 4 bits", "[estimate]") {
  auto llama = config("llama-2-7b-hf");
  est::TrainingSetup s;
  s.method = est::Method::Lora;
  // r=8 on q_proj and v_proj of Llama 2 7B: the 4,194,304 trainable parameters peft reports.
  CHECK(est::lora_params(llama, s) == Approx(4194304));
  s.lora_all_linear = true;
  s.lora_r = 16;
  CHECK(est::lora_params(llama, s) == Approx(32.0 * 16 * (4 * (4096 + 4096) + 3 * (4096 + 11008))));
  s.lora_all_linear = false;
  s.lora_r = 8;
  auto r = est::estimate_row(llama, s);
  CHECK(r.trainable == Approx(4194304));
  CHECK(r.weights == Approx(2 * llama.params + 6 * 4194304.0));
  CHECK(r.total == Approx(2 * llama.params + 18 * 4194304.0));
  s.quant_bits = 4;
  auto q = est::estimate_row(llama, s);
  // Linear layers at ~0.5 B/param, embeddings and head kept in 16 bits.
  double emb = 2 * 32000.0 * 4096;
  CHECK(q.weights == Approx((llama.params - emb) * 0.516 + emb * 2 + 6 * 4194304.0));
  CHECK(q.total < 5e9);
  // Without layer shapes the adapters are 1% of the model.
  CHECK(est::lora_params(params(7e9), s) == Approx(7e7));
}

TEST_CASE("the ladder lists cheaper rungs and names the first that fits", "[estimate]") {
  auto llama = *est::resolve_model("meta-llama/Llama-2-7b-hf");
  est::TrainingSetup s;
  s.gpus = 8;
  auto e = est::estimate("meta-llama/Llama-2-7b-hf", llama, s);
  CHECK(e.current.total == Approx(6.74e9 * 18));
  REQUIRE(e.rungs.size() == 5);
  CHECK(e.rungs[0].section == "M12");
  CHECK(e.rungs[0].total == Approx(6.74e9 * 12));
  CHECK(e.rungs[1].section == "M9");
  CHECK(e.rungs[1].total == Approx(6.74e9 * 18 / 8));
  CHECK(e.rungs[2].section == "M10");
  CHECK(e.rungs[3].section == "M13");
  CHECK(e.rungs[4].section == "M13");
  CHECK(e.rungs[4].label.find("QLoRA") != std::string::npos);
  const auto* fit = est::cheapest_fitting_rung(e, 80e9);
  REQUIRE(fit);
  CHECK(fit->section == "M9"); // 8-bit AdamW still needs 81 GB
  CHECK(est::cheapest_fitting_rung(e, 1e6) == nullptr);

  std::string md = est::table_markdown(e);
  CHECK(md.find("6.74B parameters") != std::string::npos);
  CHECK(md.find("| **121 GB** |") != std::string::npos);
  for (const char* m : {"M1", "M9", "M10", "M12", "M13"})
    CHECK(md.find(m) != std::string::npos);
  std::string text = est::table_text(e);
  CHECK(text.find("121 GB") != std::string::npos);
}

namespace {

struct Parsed {
  std::string text;
  ts::Parser parser;
  ts::Tree tree;
  explicit Parsed(std::string t) : text(std::move(t)), tree(parser.parse(text)) {}
};

} // namespace

TEST_CASE("the script reader finds the model and the training set-up", "[estimate]") {
  Parsed p(R"(import os
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, BitsAndBytesConfig
from transformers import TrainingArguments as TA, Trainer

os.environ["CUDA_VISIBLE_DEVICES"] = "0,1,2,3"
name = "meta-llama/Llama-2-7b-hf"
tok = AutoTokenizer.from_pretrained(name)
bnb = BitsAndBytesConfig(load_in_4bit=True)
model = AutoModelForCausalLM.from_pretrained(name, quantization_config=bnb, torch_dtype=torch.bfloat16)
model = get_peft_model(model, LoraConfig(r=32, target_modules=["q_proj", "k_proj"]))
ds = {"zero_optimization": {"stage": 2, "offload_optimizer": {"device": "cpu"}}}
args = TA(output_dir="o", bf16=True, optim="paged_adamw_8bit", deepspeed=ds)
Trainer(model=model, args=args).train()
)");
  auto a = est::analyze_script(p.text, p.tree);
  REQUIRE(a.models.size() == 1); // the tokenizer is not a model
  const auto& ref = a.models[0];
  CHECK(ref.id == "meta-llama/Llama-2-7b-hf");
  CHECK(p.text.substr(ref.start, ref.end - ref.start) == "\"meta-llama/Llama-2-7b-hf\"");
  CHECK(p.text.substr(ref.arg_start, ref.arg_end - ref.arg_start) == "name");
  CHECK(ref.quant_bits == 4);
  CHECK(ref.dtype == "bf16");
  CHECK(ref.trained);
  CHECK_FALSE(ref.spread);
  CHECK(a.trains);
  CHECK(a.uncertain.empty());
  CHECK(a.setup.method == est::Method::Lora);
  CHECK(a.setup.lora_r == 32);
  CHECK(a.setup.lora_targets == std::vector<std::string>{"q_proj", "k_proj"});
  CHECK(a.setup.optimizer == est::Optimizer::PagedAdamW8bit);
  CHECK(a.setup.precision == est::Precision::Mixed);
  CHECK(a.setup.zero_stage == 2);
  CHECK(a.setup.offload_optimizer);
  CHECK(a.setup.gpus == 4);
  auto s = est::setup_for(a, ref, nullptr);
  CHECK(s.qlora());
  CHECK(s.precision == est::Precision::Half);
}

TEST_CASE("a model that no optimizer trains, or that device_map spreads, is marked", "[estimate]") {
  Parsed p(R"(import torch
from transformers import AutoModel
enc = AutoModel.from_pretrained("gpt2", device_map="auto")
head = torch.nn.Linear(768, 2)
opt = torch.optim.AdamW(head.parameters())
loss.backward()
)");
  auto a = est::analyze_script(p.text, p.tree);
  REQUIRE(a.models.size() == 1);
  CHECK(a.trains);
  CHECK_FALSE(a.models[0].trained);
  CHECK(a.models[0].spread);

  Parsed q(R"(import torch
from transformers import AutoModel
enc = AutoModel.from_pretrained("gpt2", device_map={"": 0})
opt = torch.optim.AdamW(enc.parameters())
)");
  auto b = est::analyze_script(q.text, q.tree);
  REQUIRE(b.models.size() == 1);
  CHECK(b.models[0].trained);
  CHECK_FALSE(b.models[0].spread);

  // Casts after loading make the weights 16-bit; a dtype that is not a literal is unknown.
  Parsed c(R"(import torch
from transformers import AutoModel
a = AutoModel.from_pretrained("gpt2")
a = a.half()
b = AutoModel.from_pretrained("gpt2").to(torch.bfloat16)
c = AutoModel.from_pretrained("gpt2", torch_dtype=args.dtype)
)");
  auto d = est::analyze_script(c.text, c.tree);
  REQUIRE(d.models.size() == 3);
  CHECK(d.models[0].dtype == "fp16");
  CHECK(d.models[1].dtype == "bf16");
  CHECK(d.models[2].dtype == "?");
}

TEST_CASE("the script reader stays unsure where the script does not say", "[estimate]") {
  Parsed p(
      R"(from transformers import AutoModelForCausalLM, HfArgumentParser, TrainingArguments, Trainer
parser = HfArgumentParser((TrainingArguments,))
(training_args,) = parser.parse_args_into_dataclasses()
model = AutoModelForCausalLM.from_pretrained("gpt2")
Trainer(model=model, args=training_args).train()
)");
  auto a = est::analyze_script(p.text, p.tree);
  CHECK(a.trains);
  CHECK_FALSE(a.uncertain.empty());

  Parsed file_cfg(R"(from transformers import AutoModelForCausalLM, TrainingArguments
model = AutoModelForCausalLM.from_pretrained("gpt2")
args = TrainingArguments(output_dir="o", deepspeed="ds.json")
)");
  CHECK_FALSE(est::analyze_script(file_cfg.text, file_cfg.tree).uncertain.empty());

  Parsed inference(R"(from transformers import pipeline
pipe = pipeline("text-generation", model="gpt2")
)");
  auto b = est::analyze_script(inference.text, inference.tree);
  CHECK_FALSE(b.trains);
  REQUIRE(b.models.size() == 1);
  CHECK(b.models[0].pipeline);
  CHECK(b.setup.method == est::Method::Inference);
}

TEST_CASE("hover and inlay hints on a model id", "[estimate]") {
  Parsed p(R"(from transformers import AutoModelForCausalLM, Trainer, TrainingArguments
model = AutoModelForCausalLM.from_pretrained("llama-2-7b-hf")
trainer = Trainer(model=model, args=TrainingArguments(output_dir="o", bf16=True))
trainer.train()
)");
  uint32_t on_id = static_cast<uint32_t>(p.text.find("llama-2-7b-hf"));
  auto ref = est::find_model_at(p.text, p.tree, on_id);
  REQUIRE(ref);
  CHECK(ref->id == "llama-2-7b-hf");
  CHECK_FALSE(est::find_model_at(p.text, p.tree, 0));

  std::string md = est::hover_markdown(p.text, p.tree, on_id, models_dir());
  INFO(md);
  CHECK(md.find("computed from config.json (llama)") != std::string::npos);
  CHECK(md.find("6.74B parameters") != std::string::npos);
  CHECK(md.find("**121 GB**") != std::string::npos);
  CHECK(md.find("QLoRA") != std::string::npos);
  CHECK(est::hover_markdown(p.text, p.tree, 0, models_dir()).empty());

  auto hints = est::inlay_hints(p.text, p.tree, models_dir());
  REQUIRE(hints.size() == 1);
  uint32_t call_end = static_cast<uint32_t>(p.text.find(")\n") + 1);
  CHECK(hints[0].first == call_end);
  CHECK(hints[0].second == "≈ 121 GB before activations");

  // Without the directory the id "llama-2-7b-hf" still gives a nominal 7B.
  auto nominal = est::inlay_hints(p.text, p.tree);
  REQUIRE(nominal.size() == 1);
  CHECK(nominal[0].second == "≈ 126 GB before activations");
}
