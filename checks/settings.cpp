#include "settings.h"

#include <array>
#include <utility>

namespace oomlint::checks {

namespace {
constexpr std::array<std::pair<std::string_view, TargetGpu>, 6> kGpus = {{
    {"volta", TargetGpu::Volta},
    {"turing", TargetGpu::Turing},
    {"ampere", TargetGpu::Ampere},
    {"ada", TargetGpu::Ada},
    {"hopper", TargetGpu::Hopper},
    {"blackwell", TargetGpu::Blackwell},
}};

// Length of the longest prefix in `prefixes` that `code` starts with, or -1.
int longest_match(const std::vector<std::string>& prefixes, std::string_view code) {
  int best = -1;
  for (const auto& p : prefixes) {
    if (p == "ALL" || code.starts_with(p)) {
      int len = p == "ALL" ? 0 : static_cast<int>(p.size());
      if (len > best) best = len;
    }
  }
  return best;
}
} // namespace

std::optional<TargetGpu> parse_target_gpu(std::string_view name) {
  for (auto [n, g] : kGpus) {
    if (n == name) return g;
  }
  return std::nullopt;
}

std::string_view to_string(TargetGpu gpu) {
  for (auto [n, g] : kGpus) {
    if (g == gpu) return n;
  }
  return "ampere";
}

bool Settings::is_enabled(std::string_view code) const {
  int sel = longest_match(select, code);
  if (sel < 0) return false;
  return longest_match(ignore, code) < sel;
}

std::string settings_key(const Settings& s) {
  std::string key;
  for (const auto& p : s.select)
    key += p + ",";
  key += "|";
  for (const auto& p : s.ignore)
    key += p + ",";
  key += "|" + std::string(to_string(s.target_gpu)) + "|" +
         std::to_string(s.eval_accumulation_steps) + "|" + std::to_string(s.gpu_memory_bytes);
  return key;
}

} // namespace oomlint::checks
