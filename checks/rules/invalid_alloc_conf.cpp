// OOM082 invalid-alloc-conf (M8): an allocator configuration string that PyTorch rejects when
// the caching allocator starts: unknown option, `true` instead of `True`, a size that is not a
// number, `=` or `;` instead of `:` and `,`.
#include <array>
#include <cctype>
#include <string>
#include <vector>

#include "kit.h"

namespace oomlint::checks {
namespace {

// Options PyTorch's allocator parsers know (c10 AllocatorConfig / CUDAAllocatorConfig, 2.x).
constexpr std::array<std::string_view, 7> kBoolOptions{"expandable_segments",
                                                       "release_lock_on_cudamalloc",
                                                       "release_lock_on_hipmalloc",
                                                       "pinned_use_cuda_host_register",
                                                       "pinned_use_hip_host_register",
                                                       "pinned_use_background_threads",
                                                       "graph_capture_record_stream_reuse"};
constexpr std::array<std::string_view, 5> kSizeOptions{
    "max_split_size_mb", "max_non_split_rounding_mb", "large_segment_size_mb",
    "pinned_num_register_threads", "pinned_reserve_segment_size_mb"};
constexpr std::array<std::string_view, 4> kOtherOptions{"garbage_collection_threshold",
                                                        "roundup_power2_divisions", "backend",
                                                        "per_process_memory_fraction"};

template <size_t N> bool in(const std::array<std::string_view, N>& set, std::string_view s) {
  for (auto x : set) {
    if (x == s) return true;
  }
  return false;
}

bool is_separator(std::string_view t) {
  return t == "," || t == ":" || t == "[" || t == "]";
}

// PyTorch's lexer: `,` `:` `[` `]` are tokens of their own, spaces are dropped.
std::vector<std::string> lex(std::string_view s) {
  std::vector<std::string> out;
  std::string buf;
  for (char c : s) {
    if (c == ',' || c == ':' || c == '[' || c == ']') {
      if (!buf.empty()) out.push_back(std::move(buf));
      buf.clear();
      out.emplace_back(1, c);
    } else if (c != ' ') {
      buf += c;
    }
  }
  if (!buf.empty()) out.push_back(std::move(buf));
  return out;
}

bool starts_with_digit(std::string_view s) {
  return !s.empty() && std::isdigit(static_cast<unsigned char>(s[0]));
}

unsigned long long leading_number(std::string_view s) {
  unsigned long long v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) break;
    v = v * 10 + static_cast<unsigned>(c - '0');
    if (v > (1ULL << 40)) break;
  }
  return v;
}

bool power_of_two(unsigned long long v) {
  return v != 0 && (v & (v - 1)) == 0;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// What PyTorch would reject in `conf`, or "" when it parses.
std::string problem(std::string_view conf) {
  auto t = lex(conf);
  size_t n = t.size();
  for (size_t i = 0; i < n; ++i) {
    const std::string& key = t[i];
    if (is_separator(key)) return "expected an option name where `" + key + "` stands";
    bool known = in(kBoolOptions, key) || in(kSizeOptions, key) || in(kOtherOptions, key);
    if (!known) {
      if (key.find('=') != std::string::npos) {
        return "`" + key + "` uses `=`: options are written `name:value`";
      }
      if (key.find(';') != std::string::npos) {
        return "`" + key + "` uses `;`: separate options with `,`";
      }
      std::string lk = lower(key);
      if (in(kBoolOptions, lk) || in(kSizeOptions, lk) || in(kOtherOptions, lk)) {
        return "option names are case-sensitive: write `" + lk + "`, not `" + key + "`";
      }
      return "unknown allocator option `" + key + "`";
    }
    if (i + 1 >= n || t[i + 1] != ":") return "`" + key + "` needs a value: `" + key + ":...`";
    if (i + 2 >= n || is_separator(t[i + 2])) {
      if (key == "roundup_power2_divisions" && i + 2 < n && t[i + 2] == "[") {
        // roundup_power2_divisions:[256:1,512:2,>:4]
        size_t j = i + 3;
        while (j < n && t[j] != "]") {
          const std::string& interval = t[j];
          if (interval != ">" &&
              (!starts_with_digit(interval) || !power_of_two(leading_number(interval)))) {
            return "roundup_power2_divisions intervals must be powers of 2 or `>`";
          }
          if (j + 2 >= n || t[j + 1] != ":" || !starts_with_digit(t[j + 2])) {
            return "roundup_power2_divisions entries are written `size:divisions`";
          }
          auto div = leading_number(t[j + 2]);
          if (div != 0 && !power_of_two(div)) {
            return "roundup_power2_divisions divisions must be powers of 2 (or 0)";
          }
          j += 3;
          if (j < n && t[j] == ",") ++j;
        }
        if (j >= n) return "roundup_power2_divisions list is missing its `]`";
        i = j;
      } else {
        return "`" + key + "` needs a value: `" + key + ":...`";
      }
    } else {
      const std::string& v = t[i + 2];
      if (in(kBoolOptions, key)) {
        if (v != "True" && v != "False") {
          return "`" + key + ":" + v + "`: PyTorch accepts only `True` or `False` (capitalised)";
        }
      } else if (in(kSizeOptions, key)) {
        if (!starts_with_digit(v)) return "`" + key + "` needs a whole number, not `" + v + "`";
        auto num = leading_number(v);
        if ((key == "max_split_size_mb" || key == "max_non_split_rounding_mb") && num < 20) {
          return "`" + key + ":" + v + "` is below the allocator's minimum of 20 MiB";
        }
        if (key == "pinned_num_register_threads" && (!power_of_two(num) || num > 128)) {
          return "`pinned_num_register_threads` must be a power of 2 up to 128";
        }
      } else if (key == "garbage_collection_threshold") {
        char* end = nullptr;
        std::string copy = v;
        double d = std::strtod(copy.c_str(), &end);
        if (end == copy.c_str()) return "`garbage_collection_threshold` needs a number in (0, 1)";
        if (!(d > 0.0 && d < 1.0)) {
          return "`garbage_collection_threshold:" + v + "` must lie strictly between 0 and 1";
        }
      } else if (key == "roundup_power2_divisions") {
        if (!starts_with_digit(v) || !power_of_two(leading_number(v))) {
          return "`roundup_power2_divisions:" + v + "` must be a power of 2";
        }
      } else if (key == "backend") {
        if (v != "native" && v != "cudaMallocAsync" && v != "hipMallocAsync") {
          return "`backend:" + v + "`: the backends are `native` and `cudaMallocAsync`";
        }
      }
      i += 2;
    }
    if (i + 1 < n && t[i + 1] != ",") {
      if (t[i].find(';') != std::string::npos) return "options are separated by `,`, not `;`";
      return "expected `,` between options, found `" + t[i + 1] + "`";
    }
    ++i; // the comma (a trailing one is accepted)
  }
  return "";
}

class InvalidAllocConf final : public RuleBase<InvalidAllocConf> {
public:
  static constexpr RuleMeta kMeta{
      .code = "OOM082",
      .slug = "invalid-alloc-conf",
      .section = "M8",
      .severity = Severity::Error,
      .fix = FixAvailability::None,
      .summary = "allocator configuration string that PyTorch rejects",
  };
  static constexpr NodeKind kKinds[] = {"call", "assignment", "pair"};
  static Prefilter needs() {
    return requires_all(anywhere("ALLOC_CONF") | anywhere("_set_allocator_settings"));
  }

  void check(Node node, Context& cx) const override {
    const Semantics& m = cx.sema();
    Node value;
    if (node.is("pair")) {
      // {"PYTORCH_CUDA_ALLOC_CONF": "..."}: os.environ.update, subprocess env dicts.
      auto key = m.string_value(node.field("key"));
      if (!key || !facts::is_alloc_conf_var(*key)) return;
      value = node.field("value");
    } else if (node.is("call") &&
               m.is_call_to(node, {"torch.cuda.memory._set_allocator_settings"})) {
      value = Semantics::positional(node, 0);
    } else {
      facts::AllocConfSet set = facts::alloc_conf_set(m, node);
      if (set.site.null()) return;
      if (node.is("call") && m.is_call_to(node, {"os.environ.update"}) &&
          m.keyword(node, "PYTORCH_CUDA_ALLOC_CONF").null() &&
          m.keyword(node, "PYTORCH_ALLOC_CONF").null()) {
        return; // the dict's pair is checked on its own
      }
      value = set.value;
    }
    auto conf = m.string_value(value);
    if (!conf) return;
    std::string why = problem(*conf);
    if (why.empty()) return;
    cx.report(value, "PyTorch rejects this allocator setting at the first CUDA allocation: " + why +
                         " (M8)");
  }
};

} // namespace
} // namespace oomlint::checks

OOMLINT_REGISTER_RULE(InvalidAllocConf)
