#include "cli/fit_command.h"
#include "cli/arguments.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/rule_command.h"
#include "doc_links.h"
#include "estimate/fit.h"
#include "estimate/plan.h"
#include "ts.h"

namespace oomlint::cli {

namespace {

using Json = nlohmann::ordered_json;
namespace est = checks::estimate;

std::optional<std::string> read_file(const std::filesystem::path& p, std::string& error) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(p, ec)) {
    error = p.string() + ": not a regular file";
    return std::nullopt;
  }
  auto size = std::filesystem::file_size(p, ec);
  if (ec || size > (64u << 20)) {
    error = p.string() + ": cannot read it (or larger than 64 MiB)";
    return std::nullopt;
  }
  std::ifstream in(p, std::ios::binary);
  if (!in) {
    error = p.string() + ": cannot open it";
    return std::nullopt;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Json plan_json(const est::Plan& p, const std::string& base,
               const std::vector<std::string>& uncertain) {
  Json buckets = Json::array();
  for (const auto& b : p.buckets) {
    buckets.push_back(
        {{"name", b.name}, {"bytes", b.bytes}, {"formula", b.formula}, {"source", b.source}});
  }
  Json assumptions = Json::array();
  for (const auto& a : p.assumptions) {
    assumptions.push_back({{"what", a.what}, {"assumed", a.assumed}, {"flag", a.flag}});
  }
  Json ladder = Json::array();
  for (const auto& r : p.ladder) {
    ladder.push_back({{"rung", r.step},
                      {"name", r.name},
                      {"section", r.section},
                      {"url", checks::guide_url(r.section, base)},
                      {"change", r.change},
                      {"used", r.used},
                      {"applicable", r.applicable},
                      {"saves_bytes", r.saves},
                      {"in_cheapest_set", r.in_cheapest_set},
                      {"note", r.note}});
  }
  Json j{{"model", p.model_id},
         {"setup", p.setup},
         {"buckets", buckets},
         {"peak_bytes", p.peak_bytes},
         {"peak_moment", p.peak_moment},
         {"peak_allocated_bytes", p.peak_allocated},
         {"peak_reserved_bytes", p.peak_reserved},
         {"cpu_bytes", p.cpu_bytes},
         {"assumptions", assumptions},
         {"not_read", uncertain},
         {"ladder", ladder}};
  if (p.gpu_bytes) {
    j["gpu"] = Json{{"name", p.gpu_name},
                    {"bytes", *p.gpu_bytes},
                    {"fits", p.fits},
                    {"fits_after_cheapest_set", p.cheapest_found},
                    {"cheapest_set_peak_bytes", p.cheapest_peak}};
  }
  return j;
}

} // namespace

int run_fit(const std::vector<std::string>& args) {
  CLI::App app{"Predict the peak GPU memory of the training run a script sets up, bucket by "
               "bucket, and the cheapest rungs of the guide's ladder (M4) that make it fit.",
               "oomlint fit"};
  std::string script, gpu, model, attention, format = "text", docs_url;
  long long batch = 0, seq_len = 0;
  int gpus = 0;
  app.add_option("script", script, "The training script (.py)")->required();
  app.add_option("--gpu", gpu, "The GPU: " + est::known_gpus());
  app.add_option("--gpus", gpus, "Number of GPUs (ZeRO / FSDP shard over them)")
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--seq-len", seq_len, "Tokens per sequence (overrides the script)")
      ->check(CLI::Range(1LL, 1LL << 24));
  app.add_option("--batch", batch, "Micro-batch per GPU (overrides the script)")
      ->check(CLI::Range(1LL, 1LL << 20));
  app.add_option("--model", model, "Model id or local directory (overrides the script)");
  app.add_option("--attention", attention, "eager, sdpa or flash (overrides the script)");
  app.add_option("--output-format", format, "text (default) or json");
  add_docs_url_option(app, docs_url);
  if (auto code = parse_arguments(app, args)) return *code;
  if (format != "text" && format != "json") {
    std::cerr << "error: --output-format: expected text or json, got `" << format << "`\n";
    return 2;
  }
  est::FitOverrides flags;
  if (!model.empty()) flags.model = model;
  if (batch > 0) flags.batch = batch;
  if (seq_len > 0) flags.seq_len = seq_len;
  if (gpus > 0) flags.gpus = gpus;
  if (!attention.empty()) {
    if (attention == "eager") {
      flags.attention = est::Attention::Eager;
    } else if (attention == "sdpa") {
      flags.attention = est::Attention::Sdpa;
    } else if (attention == "flash" || attention == "flash_attention_2") {
      flags.attention = est::Attention::Flash;
    } else {
      std::cerr << "error: --attention: expected eager, sdpa or flash, got `" << attention << "`\n";
      return 2;
    }
  }
  std::optional<est::Gpu> card;
  if (!gpu.empty()) {
    card = est::parse_gpu(gpu);
    if (!card) {
      std::cerr << "error: --gpu: unknown GPU `" << gpu << "`: give one of " << est::known_gpus()
                << "\n";
      return 2;
    }
  }
  std::string error;
  std::filesystem::path path(script);
  auto text = read_file(path, error);
  if (!text) {
    std::cerr << "error: " << error << "\n";
    return 2;
  }
  ts::Parser parser;
  ts::Tree tree = parser.parse(*text);
  if (!tree) {
    std::cerr << "error: " << script << ": could not be parsed\n";
    return 2;
  }
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::absolute(path, ec).parent_path();
  auto setup = est::fit_setup(*text, tree, dir.string(), flags);
  if (!setup.input) {
    if (format == "json") {
      Json missing = Json::array();
      for (const auto& m : setup.missing)
        missing.push_back({{"fact", m.fact}, {"how", m.how}});
      std::cout << Json{{"error", "missing facts"}, {"missing", missing}}.dump(2) << "\n";
    } else {
      std::cerr << script << ": no prediction: the script does not show\n";
      for (const auto& m : setup.missing)
        std::cerr << "  - " << m.fact << ": " << m.how << "\n";
    }
    return 3;
  }
  auto plan = card ? est::plan(*setup.input, card->bytes, card->name) : est::plan(*setup.input);
  plan.assumptions = setup.assumptions;
  std::string base = docs_base_for_command(docs_url);
  if (format == "json") {
    std::cout << plan_json(plan, base, setup.uncertain).dump(2) << "\n";
  } else {
    std::cout << est::plan_text(plan, [&](std::string_view section) {
      return std::string(section) + " " + checks::guide_url(section, base);
    });
    if (!setup.uncertain.empty()) {
      std::cout << "\nNot read from the script, so not in these figures:\n";
      for (const auto& u : setup.uncertain)
        std::cout << "  - " << u << "\n";
    }
  }
  return plan.fits ? 0 : 1;
}

} // namespace oomlint::cli
