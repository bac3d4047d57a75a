#include "deepspeed_json.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "facts/deepspeed.h"
#include "line_index.h"
#include "registry.h"

namespace oomlint::checks {

namespace {

// Byte offset of the opening quote of the object key at `path` (keys from the root object), or
// nullopt. nlohmann::json keeps no positions, so this walks the text: strings (with escapes),
// nesting, and the comments that the parse below also accepts. Keys inside arrays never match.
std::optional<uint32_t> key_offset(std::string_view text, const std::vector<std::string>& path) {
  struct Frame {
    bool object = false;
    bool expect_key = false;
    std::string key;
  };
  std::vector<Frame> stack;
  size_t i = 0, n = text.size();
  while (i < n) {
    char c = text[i];
    if (c == '/' && i + 1 < n && text[i + 1] == '/') {
      while (i < n && text[i] != '\n')
        ++i;
      continue;
    }
    if (c == '/' && i + 1 < n && text[i + 1] == '*') {
      size_t end = text.find("*/", i + 2);
      i = end == std::string_view::npos ? n : end + 2;
      continue;
    }
    if (c == '{' || c == '[') {
      stack.push_back({c == '{', c == '{', ""});
    } else if (c == '}' || c == ']') {
      if (!stack.empty()) stack.pop_back();
    } else if (c == ',') {
      if (!stack.empty() && stack.back().object) stack.back().expect_key = true;
    } else if (c == ':') {
      if (!stack.empty()) stack.back().expect_key = false;
    } else if (c == '"') {
      size_t start = i++;
      std::string s;
      while (i < n && text[i] != '"') {
        if (text[i] == '\\' && i + 1 < n) ++i; // keys we look for have no escapes
        s += text[i++];
      }
      if (!stack.empty() && stack.back().object && stack.back().expect_key) {
        stack.back().key = s;
        if (stack.size() == path.size()) {
          bool match = true;
          for (size_t k = 0; k < stack.size() && match; ++k) {
            match = stack[k].object && stack[k].key == path[k];
          }
          if (match) return static_cast<uint32_t>(start);
        }
      }
    }
    ++i;
  }
  return std::nullopt;
}

std::optional<std::string> device_of(const nlohmann::json& zero, const char* section) {
  auto it = zero.find(section);
  if (it == zero.end() || !it->is_object()) return std::nullopt;
  auto dev = it->find("device");
  if (dev == it->end() || !dev->is_string()) return std::nullopt;
  return dev->get<std::string>();
}

} // namespace

bool is_deepspeed_json(std::string_view text) {
  return text.find("\"zero_optimization\"") != std::string_view::npos;
}

namespace {

Diagnostic diagnostic_at(const Rule& rule, std::string message, uint32_t start, uint32_t end,
                         const LineIndex& lines) {
  const RuleMeta& m = rule.meta();
  Diagnostic d;
  d.code = std::string(m.code);
  d.slug = std::string(m.slug);
  d.section = std::string(m.section);
  d.severity = m.severity;
  d.message = std::move(message);
  d.start = start;
  d.end = end;
  d.start_pos = {lines.line_of(d.start) + 1, lines.codepoint_column(d.start) + 1};
  d.end_pos = {lines.line_of(d.end) + 1, lines.codepoint_column(d.end) + 1};
  return d;
}

// OOM061: DeepSpeed's fp16 mixed precision (`"fp16": {"enabled": true}`) where the target GPU
// has bf16. `"auto"` is Hugging Face's, decided by the Trainer's own settings.
void check_fp16(std::string_view text, const nlohmann::json& json, const Settings& settings,
                const LineIndex& lines, std::vector<Diagnostic>& out) {
  const Rule* rule = find_rule("OOM061");
  if (!rule || !settings.is_enabled("OOM061") || !supports_bf16(settings.target_gpu)) return;
  auto fp16 = json.find("fp16");
  if (fp16 == json.end() || !fp16->is_object()) return;
  auto enabled = fp16->find("enabled");
  if (enabled == fp16->end() || !enabled->is_boolean() || !enabled->get<bool>()) return;
  auto at = key_offset(text, {"fp16"});
  if (!at) return;
  std::string gpu(to_string(settings.target_gpu));
  if (!gpu.empty()) gpu[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(gpu[0])));
  out.push_back(diagnostic_at(*rule,
                              "DeepSpeed fp16 mixed precision on a GPU that supports bf16 (" + gpu +
                                  "): `\"bf16\": {\"enabled\": true}` needs no loss scaling and "
                                  "cannot overflow (M6)",
                              *at, *at + 6, lines));
}

} // namespace

std::vector<Diagnostic> check_deepspeed_json(std::string_view text, const Settings& settings) {
  std::vector<Diagnostic> out;
  auto json = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false,
                                    /*ignore_comments=*/true);
  if (json.is_discarded() || !json.is_object()) return out;
  LineIndex lines(text);
  check_fp16(text, json, settings, lines, out);
  const Rule* rule = find_rule("OOM091");
  if (!rule || !settings.is_enabled("OOM091")) return out;
  auto zero = json.find("zero_optimization");
  if (zero == json.end() || !zero->is_object()) return out;
  long long stage = 0;
  bool defaulted = true;
  if (auto s = zero->find("stage"); s != zero->end()) {
    if (!s->is_number_integer()) return out; // "auto" and friends: filled in elsewhere
    stage = s->get<long long>();
    defaulted = false;
  }
  auto issues = facts::zero_offload_issues(stage, device_of(*zero, "offload_param"),
                                           device_of(*zero, "offload_optimizer"), defaulted);
  for (auto& issue : issues) {
    auto at = key_offset(text, {"zero_optimization", std::string(issue.key)});
    if (!at) continue;
    out.push_back(diagnostic_at(*rule, std::move(issue.message), *at,
                                *at + static_cast<uint32_t>(issue.key.size()) + 2, lines));
  }
  return out;
}

} // namespace oomlint::checks
