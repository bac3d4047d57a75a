#include "lsp/settings_source.h"

#include <cctype>

#include "cli/config.h"
#include "doc_links.h"

namespace oomlint::lsp {

void SettingsPatch::apply_to(checks::Settings& s) const {
  if (select) s.select = *select;
  if (ignore) s.ignore = *ignore;
  if (extend_select) s.select.insert(s.select.end(), extend_select->begin(), extend_select->end());
  if (target_gpu) s.target_gpu = *target_gpu;
  if (eval_accumulation_steps) s.eval_accumulation_steps = *eval_accumulation_steps;
  if (gpu_memory_bytes) s.gpu_memory_bytes = *gpu_memory_bytes;
}

SettingsPatch SettingsPatch::from_config(const cli::Config& config) {
  SettingsPatch p;
  p.select = config.select;
  p.ignore = config.ignore;
  p.extend_select = config.extend_select;
  p.target_gpu = config.target_gpu;
  p.eval_accumulation_steps = config.eval_accumulation_steps;
  p.gpu_memory_bytes = config.gpu_memory_bytes;
  p.docs_url = config.docs_url;
  return p;
}

namespace {
[[noreturn]] void bad(const std::string& m) {
  throw RpcError(error_code::kInvalidParams, m);
}

std::vector<std::string> string_list(const json& v, const char* name) {
  if (!v.is_array()) bad(std::string("`") + name + "` must be a list of rule codes");
  std::vector<std::string> out;
  for (const auto& item : v) {
    if (!item.is_string()) bad(std::string("`") + name + "` must be a list of rule codes");
    out.push_back(item.get<std::string>());
  }
  return out;
}

checks::TargetGpu gpu_from(const std::string& name) {
  std::string low;
  for (char c : name)
    low += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto g = checks::parse_target_gpu(low);
  if (!g) bad("unknown target GPU `" + name + "` (volta, turing, ampere, ada, hopper, blackwell)");
  return *g;
}
} // namespace

SettingsPatch settings_from_lsp(const json& j) {
  SettingsPatch p;
  if (!j.is_object()) return p;
  const json& o = j.contains("oomlint") && j["oomlint"].is_object() ? j["oomlint"] : j;
  if (auto it = o.find("select"); it != o.end() && !it->is_null())
    p.select = string_list(*it, "select");
  if (auto it = o.find("ignore"); it != o.end() && !it->is_null())
    p.ignore = string_list(*it, "ignore");
  if (auto it = o.find("extendSelect"); it != o.end() && !it->is_null()) {
    p.extend_select = string_list(*it, "extendSelect");
  }
  if (auto it = o.find("targetGpu"); it != o.end() && !it->is_null()) {
    if (!it->is_string()) bad("`targetGpu` must be a string");
    p.target_gpu = gpu_from(it->get<std::string>());
  }
  if (auto it = o.find("evalAccumulationSteps"); it != o.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 1 << 20) {
      bad("`evalAccumulationSteps` must be a positive integer");
    }
    p.eval_accumulation_steps = static_cast<int>(it->get<int64_t>());
  }
  if (auto it = o.find("gpuMemory"); it != o.end() && !it->is_null()) {
    std::optional<uint64_t> bytes;
    if (it->is_number_unsigned()) bytes = it->get<uint64_t>();
    if (it->is_string()) bytes = cli::parse_memory_size(it->get<std::string>());
    if (!bytes) bad("`gpuMemory` must be a size such as \"24GB\" or a number of bytes");
    p.gpu_memory_bytes = *bytes;
  }
  if (auto it = o.find("docsUrl"); it != o.end() && !it->is_null()) {
    if (!it->is_string()) bad("`docsUrl` must be a string: a URL or a directory");
    // An empty value means the default, as if it were not set.
    if (checks::docs_base_from_setting(it->get<std::string>(), {}))
      p.docs_url = it->get<std::string>();
  }
  return p;
}

bool is_config_file_name(std::string_view name) {
  return name == "pyproject.toml" || name == "oomlint.toml";
}

std::optional<ConfigFile> load_config(const std::filesystem::path& folder, std::string& error) {
  // The command line's loader, so both front ends read a config file the same way; in one
  // directory oomlint.toml wins over pyproject.toml, as for the CLI.
  for (const char* name : {"oomlint.toml", "pyproject.toml"}) {
    std::filesystem::path file = folder / name;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) continue;
    try {
      std::optional<cli::Config> config = cli::load_config(file);
      if (!config) continue; // a pyproject.toml without [tool.oomlint]
      return ConfigFile{file, std::move(config)};
    } catch (const std::exception& e) {
      error = e.what();
      return std::nullopt;
    }
  }
  return ConfigFile{};
}

} // namespace oomlint::lsp
