#include "lsp/settings_source.h"

#include <cctype>
#include <toml++/toml.h>

namespace oomlint::lsp {

void SettingsPatch::apply_to(checks::Settings& s) const {
  if (select) s.select = *select;
  if (ignore) s.ignore = *ignore;
  if (extend_select) s.select.insert(s.select.end(), extend_select->begin(), extend_select->end());
  if (target_gpu) s.target_gpu = *target_gpu;
  if (eval_accumulation_steps) s.eval_accumulation_steps = *eval_accumulation_steps;
  if (gpu_memory_bytes) s.gpu_memory_bytes = *gpu_memory_bytes;
}

std::optional<uint64_t> parse_memory_size(std::string_view text) {
  size_t i = 0;
  double value = 0;
  bool digits = false;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    value = value * 10 + (text[i++] - '0');
    digits = true;
  }
  if (i < text.size() && text[i] == '.') {
    double scale = 0.1;
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      value += (text[i] - '0') * scale;
      scale /= 10;
      digits = true;
    }
  }
  if (!digits) return std::nullopt;
  while (i < text.size() && text[i] == ' ')
    ++i;
  std::string unit;
  for (; i < text.size(); ++i)
    unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
  double mult = 1;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "k" || unit == "kb" || unit == "kib")
    mult = 1024.0;
  else if (unit == "m" || unit == "mb" || unit == "mib")
    mult = 1024.0 * 1024;
  else if (unit == "g" || unit == "gb" || unit == "gib")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "t" || unit == "tb" || unit == "tib")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    return std::nullopt;
  double bytes = value * mult;
  if (bytes > 1.8e19) return std::nullopt;
  return static_cast<uint64_t>(bytes);
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
    if (it->is_string()) bytes = parse_memory_size(it->get<std::string>());
    if (!bytes) bad("`gpuMemory` must be a size such as \"24GB\" or a number of bytes");
    p.gpu_memory_bytes = *bytes;
  }
  return p;
}

bool is_config_file_name(std::string_view name) {
  return name == "pyproject.toml" || name == "oomlint.toml" || name == ".oomlint.toml";
}

namespace {
std::string key_error(const std::filesystem::path& file, std::string_view key, const char* what) {
  return file.string() + ": `" + std::string(key) + "` " + what;
}

SettingsPatch patch_from_table(const toml::table& t, const std::filesystem::path& file) {
  SettingsPatch p;
  auto list = [&](std::string_view key) -> std::optional<std::vector<std::string>> {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    const toml::array* a = n->as_array();
    if (!a) throw std::runtime_error(key_error(file, key, "must be a list of rule codes"));
    std::vector<std::string> out;
    for (const auto& item : *a) {
      auto s = item.value<std::string>();
      if (!s) throw std::runtime_error(key_error(file, key, "must be a list of rule codes"));
      out.push_back(*s);
    }
    return out;
  };
  auto any = [&](std::initializer_list<std::string_view> keys) -> const toml::node* {
    for (auto k : keys) {
      if (const toml::node* n = t.get(k)) return n;
    }
    return nullptr;
  };
  p.select = list("select");
  p.ignore = list("ignore");
  p.extend_select = list("extend-select");
  if (const toml::node* n = any({"target-gpu", "target_gpu"})) {
    auto s = n->value<std::string>();
    if (!s) throw std::runtime_error(key_error(file, "target-gpu", "must be a string"));
    std::string low;
    for (char c : *s)
      low += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto g = checks::parse_target_gpu(low);
    if (!g)
      throw std::runtime_error(key_error(file, "target-gpu", "names no known GPU generation"));
    p.target_gpu = *g;
  }
  if (const toml::node* n = any({"eval-accumulation-steps", "eval_accumulation_steps"})) {
    auto v = n->value<int64_t>();
    if (!v || *v < 1 || *v > (1 << 20)) {
      throw std::runtime_error(
          key_error(file, "eval-accumulation-steps", "must be a positive integer"));
    }
    p.eval_accumulation_steps = static_cast<int>(*v);
  }
  if (const toml::node* n = any({"gpu-memory", "gpu_memory"})) {
    std::optional<uint64_t> bytes;
    if (auto v = n->value<int64_t>(); v && *v >= 0) bytes = static_cast<uint64_t>(*v);
    if (auto s = n->value<std::string>()) bytes = parse_memory_size(*s);
    if (!bytes)
      throw std::runtime_error(key_error(file, "gpu-memory", "must be a size like \"24GB\""));
    p.gpu_memory_bytes = *bytes;
  }
  return p;
}
} // namespace

std::optional<ConfigFile> load_config(const std::filesystem::path& folder, std::string& error) {
  for (const char* name : {"oomlint.toml", ".oomlint.toml", "pyproject.toml"}) {
    std::filesystem::path file = folder / name;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) continue;
    try {
      toml::table root = toml::parse_file(file.string());
      const toml::table* t = nullptr;
      if (const toml::table* tool = root["tool"].as_table()) t = (*tool)["oomlint"].as_table();
      bool own_file = std::string_view(name) != "pyproject.toml";
      if (!t && own_file) t = &root;
      if (!t) continue; // a pyproject.toml without [tool.oomlint]
      return ConfigFile{file, patch_from_table(*t, file)};
    } catch (const toml::parse_error& e) {
      error = file.string() + ":" + std::to_string(e.source().begin.line) + ": " +
              std::string(e.description());
      return std::nullopt;
    } catch (const std::exception& e) {
      error = e.what();
      return std::nullopt;
    }
  }
  return ConfigFile{};
}

} // namespace oomlint::lsp
