// The fit planner: the per-layer activation formulas (Korthikanti et al. 2022 and its variants),
// the logits buffer, the ladder and the cheapest set of changes, GPU names, and the script
// reader that feeds it (batch, sequence length, checkpointing, attention; missing facts).
#include <catch2/catch.hpp>

#include "estimate/fit.h"
#include "estimate/plan.h"
#include "ts.h"

using namespace oomlint;
namespace est = checks::estimate;

namespace {

// A GPT-style block: 4h GELU MLP, dropout, no gating.
est::PlanInput gpt_like(double L, double h, double a, double s, double b) {
  est::PlanInput in;
  est::Architecture ar;
  ar.model_type = "gpt2";
  ar.layers = L;
  ar.hidden = h;
  ar.heads = a;
  ar.kv_heads = a;
  ar.intermediate = 4 * h;
  ar.vocab = 50257;
  ar.dropout = true;
  in.arch = ar;
  in.size.params = 12 * h * h * L;
  in.setup.precision = est::Precision::Half; // 16-bit activations, no autocast
  in.batch = static_cast<long long>(b);
  in.seq_len = static_cast<long long>(s);
  return in;
}

double bucket(const est::Plan& p, std::string_view name) {
  for (const auto& b : p.buckets) {
    if (b.name == name) return b.bytes;
  }
  FAIL("no bucket " << name);
  return 0;
}

est::FitSetup fit(const std::string& text, est::FitOverrides flags = {}) {
  ts::Parser parser;
  ts::Tree tree = parser.parse(text);
  REQUIRE(tree);
  return est::fit_setup(text, tree, "", flags);
}

} // namespace

TEST_CASE("activations follow Korthikanti et al.'s sbh(34 + 5as/h) per layer", "[fit]") {
  double L = 24, h = 1024, a = 16, s = 512, b = 4, sbh = s * b * h;
  auto in = gpt_like(L, h, a, s, b);
  in.attention = est::Attention::Eager;
  double extra = 2 * 2 * sbh; // embedding output and final norm input
  CHECK(bucket(est::plan_peak(in), "activations") ==
        Approx(L * sbh * (34 + 5 * a * s / h) + extra));
  SECTION("SDPA / FlashAttention drop the 5as^2b term (a 4 B statistic per row and head stays)") {
    in.attention = est::Attention::Sdpa;
    CHECK(bucket(est::plan_peak(in), "activations") ==
          Approx(L * (sbh * 34 + 4 * a * s * b) + extra));
  }
  SECTION("full checkpointing keeps each layer's input and recomputes one layer") {
    in.checkpointing = true;
    CHECK(bucket(est::plan_peak(in), "activations") ==
          Approx(L * 2 * sbh + sbh * (34 + 5 * a * s / h) + extra));
  }
  SECTION("fp32 doubles every 16-bit term but not the 1-byte dropout masks") {
    in.setup.precision = est::Precision::Fp32;
    CHECK(bucket(est::plan_peak(in), "activations") ==
          Approx(L * (66 * sbh + 9 * a * s * s * b) + 2 * 4 * sbh));
  }
}

TEST_CASE("a gated MLP without dropout keeps e*sbh + 4e*sbI for its MLP", "[fit]") {
  auto in = gpt_like(32, 4096, 32, 1024, 1);
  in.arch->gated_mlp = true;
  in.arch->dropout = false;
  in.arch->intermediate = 11008;
  double sbh = 1024.0 * 4096, sbI = 1024.0 * 11008;
  // attention 5e + norms 2e + MLP input e = 16 B x sbh; MLP 8 B x sbI; SDPA statistic.
  CHECK(bucket(est::plan_peak(in), "activations") ==
        Approx(32 * (16 * sbh + 8 * sbI + 4 * 32 * 1024) + 4 * sbh));
}

TEST_CASE("the causal-LM logits buffer counts transformers' fp32 upcast", "[fit]") {
  auto in = gpt_like(12, 768, 12, 1024, 8);
  double bsv = 8.0 * 1024 * 50257;
  CHECK(bucket(est::plan_peak(in), "logits and loss") == Approx(14 * bsv));
  in.loss = est::LossImpl::SameDtype;
  CHECK(bucket(est::plan_peak(in), "logits and loss") == Approx(6 * bsv));
  in.head = est::Head::Classification;
  CHECK(bucket(est::plan_peak(in), "logits and loss") == 0);
}

TEST_CASE("the peak adds the reserve and the CUDA context, buckets explain it", "[fit]") {
  auto in = gpt_like(12, 768, 12, 1024, 8);
  in.setup.method = est::Method::Full;
  auto p = est::plan_peak(in);
  CHECK(p.peak_reserved == Approx(p.peak_allocated * 1.05));
  CHECK(p.peak_bytes == Approx(p.peak_reserved + in.cuda_context_bytes));
  for (const auto& b : p.buckets) {
    INFO(b.name);
    CHECK_FALSE(b.formula.empty());
    CHECK_FALSE(b.source.empty());
  }
}

TEST_CASE("the ladder: used rungs, savings, and the cheapest set that fits", "[fit]") {
  auto r = est::resolve_architecture("meta-llama/Llama-2-7b-hf");
  REQUIRE(r);
  est::PlanInput in;
  in.model_id = "meta-llama/Llama-2-7b-hf";
  in.size = r->size;
  in.arch = r->arch;
  in.setup.precision = est::Precision::Mixed;
  in.batch = 4;
  in.seq_len = 2048;
  SECTION("LoRA at 4 x 2048 tokens: activations dominate; batch and checkpointing make it fit") {
    in.setup.method = est::Method::Lora;
    auto p = est::plan(in, 24e9, "RTX 4090");
    REQUIRE(p.ladder.size() == 10);
    CHECK_FALSE(p.fits);
    CHECK(p.ladder[1].used); // bf16 mixed precision
    CHECK(p.ladder[4].used); // SDPA
    CHECK_FALSE(p.ladder[2].used);
    CHECK(p.ladder[2].saves > 10e9);     // checkpointing
    CHECK_FALSE(p.ladder[7].applicable); // ZeRO needs 2+ GPUs
    CHECK(p.cheapest_found);
    CHECK(p.cheapest_peak <= 24e9);
    // Checkpointing alone brings it under 24 GB: the micro-batch change, tried first, is dropped
    // again because the set without it still fits.
    CHECK(p.ladder[2].in_cheapest_set);
    CHECK_FALSE(p.ladder[0].in_cheapest_set);
    CHECK_FALSE(p.ladder[5].in_cheapest_set); // shorter sequences change the task: never chosen
    CHECK_FALSE(p.ladder[9].in_cheapest_set); // it stops as soon as the run fits
  }
  SECTION("a full fine-tune: 40 GB of weights alone, only offloading gets it on one 24 GB card") {
    auto p = est::plan(in, 24e9, "RTX 4090");
    CHECK(p.cheapest_found);
    CHECK(p.ladder[8].in_cheapest_set);
    CHECK_FALSE(p.ladder[9].in_cheapest_set); // LoRA comes after: it changes what is trained
  }
  auto fits = est::plan(in, 1000e9, "big");
  CHECK(fits.fits);
  for (const auto& rung : fits.ladder)
    CHECK_FALSE(rung.in_cheapest_set);
}

TEST_CASE("GPU names and sizes", "[fit]") {
  CHECK(est::parse_gpu("A100-40GB")->bytes == 40e9);
  CHECK(est::parse_gpu("rtx 4090")->bytes == 24e9);
  CHECK(est::parse_gpu("H100")->bytes == 80e9);
  CHECK(est::parse_gpu("24GB")->bytes == 24e9);
  CHECK(est::parse_gpu("24")->bytes == 24e9);
  CHECK(est::parse_gpu("16GiB")->bytes == 16.0 * 1073741824.0);
  CHECK_FALSE(est::parse_gpu("tpu"));
  CHECK_FALSE(est::parse_gpu("24TB"));
  CHECK_FALSE(est::parse_gpu(""));
}

TEST_CASE("fit reads the step's shape through the analysis' constants", "[fit]") {
  auto f = fit(R"(import argparse
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainingArguments, Trainer
MODEL = "meta-llama/Llama-2-7b-hf"
BATCH = 2
parser = argparse.ArgumentParser()
parser.add_argument("--max_len", type=int, default=2048)
args = parser.parse_args()
tok = AutoTokenizer.from_pretrained(MODEL)
model = AutoModelForCausalLM.from_pretrained(MODEL, attn_implementation="eager")
ds = ds.map(lambda x: tok(x["text"], truncation=True, max_length=args.max_len))
targs = TrainingArguments("out", per_device_train_batch_size=BATCH, bf16=True,
                          gradient_checkpointing=True, gradient_accumulation_steps=8)
Trainer(model=model, args=targs, train_dataset=ds).train()
)");
  REQUIRE(f.input);
  CHECK(f.input->model_id == "meta-llama/Llama-2-7b-hf");
  CHECK(f.input->batch == 2);
  CHECK(f.input->seq_len == 2048);
  CHECK(f.input->grad_accum == 8);
  CHECK(f.input->grads_kept);
  CHECK(f.input->checkpointing);
  CHECK(f.input->attention == est::Attention::Eager);
  CHECK(f.input->head == est::Head::CausalLm);
  CHECK(f.input->setup.precision == est::Precision::Mixed);
  for (const auto& a : f.assumptions) {
    CHECK(a.what != "the micro-batch");
    CHECK(a.what != "the sequence length");
  }
}

TEST_CASE("fit says what it assumed and which flag sets it", "[fit]") {
  std::string text =
      R"(from transformers import AutoModelForSequenceClassification, TrainingArguments, Trainer
model = AutoModelForSequenceClassification.from_pretrained("bert-large-uncased")
Trainer(model=model, args=TrainingArguments("out"), train_dataset=ds).train()
)";
  auto f = fit(text);
  REQUIRE(f.input);
  CHECK(f.input->batch == 8); // TrainingArguments' default
  CHECK(f.input->head == est::Head::Classification);
  bool batch = false, seq = false;
  for (const auto& a : f.assumptions) {
    if (a.what == "the micro-batch") batch = a.flag == "--batch N";
    if (a.what == "the sequence length") seq = a.flag == "--seq-len N";
  }
  CHECK(batch);
  CHECK(seq);
  est::FitOverrides flags;
  flags.batch = 3;
  flags.seq_len = 128;
  auto g = fit(text, flags);
  REQUIRE(g.input);
  CHECK(g.input->batch == 3);
  CHECK(g.input->seq_len == 128);
}

TEST_CASE("fit without a model or a training set-up names the missing facts", "[fit]") {
  auto none = fit("import torch\nx = torch.zeros(3)\n");
  CHECK_FALSE(none.input);
  REQUIRE(none.missing.size() == 2);
  CHECK(none.missing[0].how.find("--model") != std::string::npos);
  auto dynamic = fit(R"(import sys
from transformers import AutoModelForCausalLM
model = AutoModelForCausalLM.from_pretrained(sys.argv[1])
model(x).loss.backward()
)");
  CHECK_FALSE(dynamic.input);
  REQUIRE(dynamic.missing.size() == 1);
  CHECK(dynamic.missing[0].how.find("not a literal") != std::string::npos);
  est::FitOverrides flags;
  flags.model = "gpt2";
  auto given = fit("import sys\nfrom transformers import AutoModelForCausalLM\n"
                   "model = AutoModelForCausalLM.from_pretrained(sys.argv[1])\n"
                   "model(x).loss.backward()\n",
                   flags);
  CHECK(given.input);
  auto unknown = fit("from transformers import AutoModelForCausalLM\n"
                     "model = AutoModelForCausalLM.from_pretrained(\"acme/mystery\")\n"
                     "model(x).loss.backward()\n");
  CHECK_FALSE(unknown.input);
  REQUIRE(unknown.missing.size() == 1);
  CHECK(unknown.missing[0].fact == "the size of acme/mystery");
}
