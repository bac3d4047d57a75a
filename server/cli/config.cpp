#include "cli/config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include <toml++/toml.h>

#include "cli/glob.h"
#include "doc_links.h"
#include "registry.h"
#include "suppression.h"

namespace oomlint::cli {

namespace fs = std::filesystem;

namespace {

std::string trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string where(const fs::path& file, const toml::source_region& region) {
  std::string out = file.string();
  if (region.begin.line > 0) {
    out += ":" + std::to_string(region.begin.line) + ":" + std::to_string(region.begin.column);
  }
  return out;
}

[[noreturn]] void fail(const fs::path& file, const toml::node& node, std::string_view key,
                       std::string_view problem) {
  throw ConfigError(where(file, node.source()) + ": error: `" + std::string(key) +
                    "`: " + std::string(problem));
}

std::vector<std::string> string_list(const fs::path& file, const toml::node& node,
                                     std::string_view key) {
  const toml::array* arr = node.as_array();
  if (!arr) fail(file, node, key, "expected an array of strings");
  std::vector<std::string> out;
  for (const toml::node& item : *arr) {
    auto s = item.value<std::string>();
    if (!item.is_string() || !s) fail(file, item, key, "expected an array of strings");
    out.push_back(*s);
  }
  return out;
}

std::vector<std::string> selector_list(const fs::path& file, const toml::node& node,
                                       std::string_view key) {
  const toml::array* arr = node.as_array();
  if (!arr) fail(file, node, key, "expected an array of rule codes, e.g. [\"OOM203\"]");
  std::vector<std::string> out;
  for (const toml::node& item : *arr) {
    if (!item.is_string()) fail(file, item, key, "expected a rule code string");
    std::string code = trim(*item.value<std::string>());
    std::transform(code.begin(), code.end(), code.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (!is_known_selector(code)) {
      fail(file, item, key, "`" + code + "` matches no rule (see `oomlint rule --all`)");
    }
    out.push_back(code);
  }
  return out;
}

Config parse_table(const toml::table& table, const fs::path& file) {
  Config cfg;
  cfg.file = file;
  cfg.dir = file.parent_path();
  for (const auto& [k, v] : table) {
    std::string_view key = k.str();
    if (key == "select") {
      cfg.select = selector_list(file, v, key);
    } else if (key == "ignore") {
      cfg.ignore = selector_list(file, v, key);
    } else if (key == "extend-select") {
      cfg.extend_select = selector_list(file, v, key);
    } else if (key == "target-gpu") {
      auto s = v.value<std::string>();
      auto gpu = v.is_string() && s ? checks::parse_target_gpu(*s) : std::nullopt;
      if (!gpu) {
        fail(file, v, key,
             "expected one of \"volta\", \"turing\", \"ampere\", \"ada\", \"hopper\", "
             "\"blackwell\"");
      }
      cfg.target_gpu = gpu;
    } else if (key == "exclude") {
      cfg.exclude = string_list(file, v, key);
    } else if (key == "per-file-ignores") {
      const toml::table* t = v.as_table();
      if (!t) fail(file, v, key, "expected a table of glob = [codes]");
      for (const auto& [pk, pv] : *t) {
        std::string sub = std::string(key) + "." + std::string(pk.str());
        cfg.per_file_ignores.emplace_back(std::string(pk.str()), selector_list(file, pv, sub));
      }
    } else if (key == "eval-accumulation-steps") {
      auto n = v.value<int64_t>();
      if (!v.is_integer() || !n || *n < 1 || *n > 1000000) {
        fail(file, v, key, "expected a positive integer");
      }
      cfg.eval_accumulation_steps = static_cast<int>(*n);
    } else if (key == "gpu-memory") {
      std::optional<uint64_t> bytes;
      if (v.is_string()) {
        bytes = parse_memory_size(*v.value<std::string>());
      } else if (v.is_integer() && *v.value<int64_t>() > 0) {
        bytes = static_cast<uint64_t>(*v.value<int64_t>());
      }
      if (!bytes) fail(file, v, key, "expected a size such as \"80GB\" or \"24GiB\"");
      cfg.gpu_memory_bytes = bytes;
    } else if (key == "docs-url") {
      auto url = v.value<std::string>();
      if (!v.is_string() || !url || !checks::docs_base_from_setting(*url, cfg.dir)) {
        fail(file, v, key,
             "expected the URL of a hosted copy of oomlint's docs/ or a local directory, e.g. "
             "\"https://example.org/oomlint/docs/\"");
      }
      cfg.docs_url = *url;
    } else {
      throw ConfigError(where(file, k.source()) + ": error: unknown key `" + std::string(key) +
                        "` (known: select, ignore, extend-select, target-gpu, exclude, "
                        "per-file-ignores, eval-accumulation-steps, gpu-memory, docs-url)");
    }
  }
  return cfg;
}

} // namespace

bool is_known_selector(std::string_view selector) {
  if (selector == "ALL") return true;
  if (selector.empty()) return false;
  if (selector == checks::kUnusedNoqaCode) return true; // not a rule: suppression.h
  for (const checks::Rule* r : checks::all_rules()) {
    if (r->meta().code.starts_with(selector)) return true;
  }
  return false;
}

std::vector<std::string> split_selectors(std::string_view list) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    std::string item = trim(list.substr(pos, comma - pos));
    std::transform(item.begin(), item.end(), item.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    if (!item.empty()) out.push_back(item);
    pos = comma + 1;
  }
  return out;
}

std::optional<uint64_t> parse_memory_size(std::string_view text) {
  std::string s = trim(text);
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.'))
    ++i;
  if (i == 0) return std::nullopt;
  std::string number = s.substr(0, i);
  if (std::count(number.begin(), number.end(), '.') > 1) return std::nullopt;
  std::string unit = trim(s.substr(i));
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  double scale = 0;
  if (unit.empty() || unit == "b")
    scale = 1;
  else if (unit == "kb")
    scale = 1e3;
  else if (unit == "mb")
    scale = 1e6;
  else if (unit == "gb")
    scale = 1e9;
  else if (unit == "tb")
    scale = 1e12;
  else if (unit == "kib")
    scale = 1024.0;
  else if (unit == "mib")
    scale = 1024.0 * 1024;
  else if (unit == "gib")
    scale = 1024.0 * 1024 * 1024;
  else if (unit == "tib")
    scale = 1024.0 * 1024 * 1024 * 1024;
  else
    return std::nullopt;
  double value = 0;
  try {
    value = std::stod(number);
  } catch (...) {
    return std::nullopt;
  }
  double bytes = std::round(value * scale);
  if (!(bytes >= 1) || bytes > 1e18) return std::nullopt;
  return static_cast<uint64_t>(bytes);
}

std::optional<Config> parse_config(std::string_view text, const fs::path& file) {
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    throw ConfigError(where(file, e.source()) +
                      ": error: invalid TOML: " + std::string(e.description()));
  }
  if (file.filename() == "pyproject.toml") {
    const toml::node* tool = root.get("tool");
    if (!tool || !tool->is_table()) return std::nullopt;
    const toml::node* section = tool->as_table()->get("oomlint");
    if (!section) return std::nullopt;
    if (!section->is_table()) fail(file, *section, "tool.oomlint", "expected a table");
    return parse_table(*section->as_table(), file);
  }
  return parse_table(root, file);
}

std::optional<Config> load_config(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw ConfigError(file.string() + ": error: cannot read config file");
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw ConfigError(file.string() + ": error: cannot read config file");
  fs::path abs = fs::absolute(file).lexically_normal();
  return parse_config(ss.str(), abs);
}

ConfigResolver::ConfigResolver(std::optional<Config> fixed, bool isolated)
    : fixed_(std::move(fixed)), isolated_(isolated) {}

const Config* ConfigResolver::for_directory(const fs::path& dir) {
  if (fixed_) return &*fixed_;
  if (isolated_) return nullptr;
  std::vector<std::string> visited;
  const Config* found = nullptr;
  fs::path d = dir;
  for (;;) {
    std::string key = d.string();
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      found = it->second;
      break;
    }
    visited.push_back(key);
    std::error_code ec;
    bool hit = false;
    for (const char* name : {"oomlint.toml", "pyproject.toml"}) {
      fs::path candidate = d / name;
      if (!fs::is_regular_file(candidate, ec)) continue;
      if (auto cfg = load_config(candidate)) {
        configs_.push_back(std::move(*cfg));
        found = &configs_.back();
        hit = true;
        break;
      }
    }
    if (hit) break;
    fs::path parent = d.parent_path();
    if (parent == d || parent.empty()) break;
    d = parent;
  }
  for (const auto& v : visited)
    cache_[v] = found;
  return found;
}

checks::Settings resolve_settings(const Config* config, const CliOverrides& cli,
                                  const fs::path& absolute_file) {
  checks::Settings s;
  if (config) {
    if (config->select) s.select = *config->select;
    s.ignore = config->ignore;
    s.select.insert(s.select.end(), config->extend_select.begin(), config->extend_select.end());
    if (config->target_gpu) s.target_gpu = *config->target_gpu;
    if (config->eval_accumulation_steps)
      s.eval_accumulation_steps = *config->eval_accumulation_steps;
    if (config->gpu_memory_bytes) s.gpu_memory_bytes = *config->gpu_memory_bytes;
  }
  if (cli.select) {
    // As in Ruff, a selection on the command line replaces the config's selection and ignores.
    s.select = *cli.select;
    s.ignore.clear();
  }
  s.select.insert(s.select.end(), cli.extend_select.begin(), cli.extend_select.end());
  s.ignore.insert(s.ignore.end(), cli.ignore.begin(), cli.ignore.end());
  if (cli.target_gpu) s.target_gpu = *cli.target_gpu;
  if (config) apply_per_file_ignores(*config, absolute_file, s);
  return s;
}

bool apply_per_file_ignores(const Config& config, const fs::path& absolute_file,
                            checks::Settings& s) {
  // As in Ruff, per-file-ignores win over any selection, however specific: spell the enabled
  // rules out one by one, minus the ignored ones.
  std::vector<std::string> file_ignores;
  for (const auto& [pattern, codes] : config.per_file_ignores) {
    if (path_pattern_match(pattern, config.dir, absolute_file)) {
      file_ignores.insert(file_ignores.end(), codes.begin(), codes.end());
    }
  }
  if (file_ignores.empty()) return false;
  std::vector<std::string> enabled;
  for (const checks::Rule* r : checks::all_rules()) {
    std::string_view code = r->meta().code;
    if (!s.is_enabled(code)) continue;
    bool ignored = std::any_of(file_ignores.begin(), file_ignores.end(), [&](const std::string& p) {
      return p == "ALL" || code.starts_with(p);
    });
    if (!ignored) enabled.emplace_back(code);
  }
  s.select = std::move(enabled);
  s.ignore.clear();
  return true;
}

std::string resolve_docs_base(const std::string& flag, const Config* config) {
  if (auto base = checks::docs_base_from_setting(flag, {})) return *base;
  if (config && config->docs_url) return checks::docs_base(config->docs_url, config->dir);
  return checks::default_docs_base();
}

bool is_excluded(const Config* config, const CliOverrides& cli, const fs::path& absolute_path,
                 const fs::path& cwd) {
  for (const auto& p : cli.exclude) {
    if (path_pattern_match(p, cwd, absolute_path)) return true;
  }
  if (config) {
    for (const auto& p : config->exclude) {
      if (path_pattern_match(p, config->dir, absolute_path)) return true;
    }
  }
  return false;
}

} // namespace oomlint::cli
