#include "cli/estimate_command.h"
#include "cli/arguments.h"

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "estimate/memory.h"
#include "estimate/model_size.h"

namespace oomlint::cli {

namespace {

using Json = nlohmann::ordered_json;
namespace est = checks::estimate;

Json row_json(const est::MemoryRow& r) {
  return Json{{"label", r.label},
              {"section", r.section},
              {"weights_bytes", r.weights},
              {"gradients_bytes", r.gradients},
              {"optimizer_bytes", r.optimizer},
              {"total_bytes", r.total},
              {"cpu_bytes", r.cpu},
              {"trainable_params", r.trainable},
              {"current", r.current},
              {"assumed_gpu_count", r.assumed}};
}

// A config.json file, a directory holding one, a hub id. Errors go to `error`.
std::optional<est::ModelSize> size_of(const std::string& what, std::string& error) {
  std::error_code ec;
  std::filesystem::path p(what);
  std::filesystem::path config;
  if (std::filesystem::is_regular_file(p, ec)) {
    config = p;
  } else if (std::filesystem::is_regular_file(p / "config.json", ec)) {
    config = p / "config.json";
  }
  if (!config.empty()) {
    std::ifstream in(config, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string err;
    if (auto m = est::params_from_config(ss.str(), &err)) return m;
    error = config.string() + ": " + err;
    return std::nullopt;
  }
  if (auto m = est::resolve_model(what)) return m;
  error = "`" + what +
          "`: parameter count not known (not a local config.json, not in the built-in table, no "
          "size such as 7b in the id)";
  return std::nullopt;
}

} // namespace

int run_estimate(const std::vector<std::string>& args) {
  CLI::App app{"Estimate the GPU memory a model needs before activations (guide M1, M9, M10, M12, "
               "M13), with the cheaper rungs of the ladder.",
               "oomlint estimate"};
  std::string model;
  bool lora = false, qlora = false, inference = false, offload_optimizer = false,
       offload_params = false;
  int lora_r = 8, zero = 0, gpus = 0;
  std::string optim = "adamw", precision = "bf16", format = "text";
  double gpu_memory_gb = 0;
  app.add_option("model", model,
                 "Hub id (meta-llama/Llama-2-7b-hf), local directory or config.json")
      ->required();
  app.add_flag("--lora", lora, "LoRA: frozen 16-bit base, trained adapters (M13)");
  app.add_flag("--qlora", qlora, "QLoRA: frozen 4-bit base, trained adapters (M13)");
  app.add_option("--lora-r", lora_r, "LoRA rank (default 8)")->check(CLI::Range(1, 65536));
  app.add_flag("--inference", inference, "Weights only, no training state");
  app.add_option("--optim", optim,
                 "adamw (default), adamw_8bit / adamw_bnb_8bit, paged_adamw_8bit, adafactor, sgd, "
                 "lion...");
  app.add_option("--zero", zero, "DeepSpeed ZeRO stage 0-3 (or FSDP equivalent)")
      ->check(CLI::Range(0, 3));
  app.add_option("--gpus", gpus, "Number of GPUs the state is sharded over")
      ->check(CLI::Range(1, 1 << 20));
  app.add_flag("--offload-optimizer", offload_optimizer, "Optimizer state on CPU (M10)");
  app.add_flag("--offload-params", offload_params, "Weights on CPU (ZeRO-3 only, M10)");
  app.add_option("--precision", precision,
                 "bf16 / fp16 (mixed, fp32 master weights; default bf16), fp32, pure-bf16 / "
                 "pure-fp16 (16-bit weights, no master copy)");
  app.add_option("--gpu-memory", gpu_memory_gb,
                 "Memory of one GPU in GB: exit 1 if it does not fit")
      ->check(CLI::PositiveNumber);
  app.add_option("--output-format", format, "text (default) or json");
  if (auto code = parse_arguments(app, args)) return *code;
  if (format != "text" && format != "json") {
    std::cerr << "error: --output-format: expected text or json, got `" << format << "`\n";
    return 2;
  }
  est::TrainingSetup setup;
  auto opt = est::parse_optimizer(optim);
  if (!opt) {
    std::cerr << "error: --optim: unknown optimizer `" << optim << "`\n";
    return 2;
  }
  setup.optimizer = *opt;
  if (precision == "bf16" || precision == "fp16") {
    setup.precision = est::Precision::Mixed;
    setup.half_type = precision;
  } else if (precision == "pure-bf16" || precision == "pure-fp16") {
    setup.precision = est::Precision::Half;
    setup.half_type = precision.substr(5);
  } else if (precision == "fp32") {
    setup.precision = est::Precision::Fp32;
  } else {
    std::cerr << "error: --precision: expected bf16, fp16, fp32, pure-bf16 or pure-fp16, got `"
              << precision << "`\n";
    return 2;
  }
  if (lora && qlora) {
    std::cerr << "error: give --lora or --qlora, not both\n";
    return 2;
  }
  if (inference && (lora || qlora)) {
    std::cerr << "error: --inference trains nothing: drop --lora / --qlora\n";
    return 2;
  }
  if (offload_params && zero != 3) {
    std::cerr << "error: --offload-params needs --zero 3 (M10)\n";
    return 2;
  }
  setup.method = inference         ? est::Method::Inference
                 : (lora || qlora) ? est::Method::Lora
                                   : est::Method::Full;
  if (qlora) setup.quant_bits = 4;
  setup.lora_r = lora_r;
  setup.zero_stage = zero;
  setup.gpus = gpus;
  setup.offload_optimizer = offload_optimizer;
  setup.offload_params = offload_params;

  std::string error;
  auto size = size_of(model, error);
  if (!size) {
    std::cerr << "error: " << error << "\n";
    return 2;
  }
  auto e = est::estimate(model, *size, setup);
  double gpu = gpu_memory_gb * 1e9;
  const est::MemoryRow* rung = gpu > 0 ? est::cheapest_fitting_rung(e, gpu) : nullptr;
  bool fits = gpu <= 0 || e.current.total <= gpu;
  if (format == "json") {
    Json rows = Json::array();
    rows.push_back(row_json(e.current));
    for (const auto& r : e.rungs)
      rows.push_back(row_json(r));
    Json j{{"model", model},
           {"parameters", size->params},
           {"parameter_source", std::string(est::to_string(size->source))},
           {"parameter_note", size->note},
           {"approximate", size->approximate},
           {"setup", setup.describe()},
           {"rows", rows}};
    if (gpu > 0) {
      j["gpu_memory_bytes"] = gpu;
      j["fits"] = fits;
      j["first_fitting_rung"] = rung ? Json(rung->label) : Json(nullptr);
    }
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << est::table_text(e);
    if (gpu > 0) {
      std::cout << "\n"
                << (fits ? "Fits" : "Does not fit") << " a " << est::format_gb(gpu) << " GPU";
      if (!fits) {
        std::cout << (rung ? "; first rung of the ladder that fits: " + rung->label + " (" +
                                 rung->section + ")"
                           : "; no single rung fits");
      }
      std::cout << ".\n";
    }
  }
  return fits ? 0 : 1;
}

} // namespace oomlint::cli
