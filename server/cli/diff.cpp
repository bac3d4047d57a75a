#include "cli/diff.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace oomlint::cli {

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    size_t end = nl == std::string_view::npos ? text.size() : nl + 1;
    out.push_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}

enum class Op : uint8_t { Equal, Delete, Insert };

struct Step {
  Op op;
  size_t a; // line in before (Equal, Delete)
  size_t b; // line in after (Equal, Insert)
};

// Line-level edit script: common prefix and suffix, LCS in between (or, when the middle is too
// large for the quadratic table, the whole middle replaced).
std::vector<Step> edit_script(const std::vector<std::string_view>& a,
                              const std::vector<std::string_view>& b) {
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre])
    ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre &&
         a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) {
    ++suf;
  }
  std::vector<Step> steps;
  for (size_t i = 0; i < pre; ++i)
    steps.push_back({Op::Equal, i, i});
  size_t n = a.size() - pre - suf;
  size_t m = b.size() - pre - suf;
  if (n > 0 && m > 0 && n * m <= 16'000'000) {
    std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
    for (size_t i = n; i-- > 0;) {
      for (size_t j = m; j-- > 0;) {
        at(i, j) =
            a[pre + i] == b[pre + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
      }
    }
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[pre + i] == b[pre + j]) {
        steps.push_back({Op::Equal, pre + i, pre + j});
        ++i;
        ++j;
      } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
        steps.push_back({Op::Delete, pre + i, pre + j}); // deletions first, as diff(1) does
        ++i;
      } else {
        steps.push_back({Op::Insert, pre + i, pre + j});
        ++j;
      }
    }
  } else {
    for (size_t i = 0; i < n; ++i)
      steps.push_back({Op::Delete, pre + i, pre});
    for (size_t j = 0; j < m; ++j)
      steps.push_back({Op::Insert, pre + n, pre + j});
  }
  for (size_t k = 0; k < suf; ++k) {
    steps.push_back({Op::Equal, a.size() - suf + k, b.size() - suf + k});
  }
  return steps;
}

void append_line(std::string& out, char mark, std::string_view line) {
  out += mark;
  out += line;
  if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
}

std::string range(size_t start, size_t count) {
  // Unified diff: 1-based start; an empty range names the line before it.
  size_t first = count == 0 ? start : start + 1;
  if (count == 1) return std::to_string(first);
  return std::to_string(first) + "," + std::to_string(count);
}

} // namespace

std::string unified_diff(std::string_view before, std::string_view after,
                         std::string_view from_name, std::string_view to_name, int context) {
  if (before == after) return {};
  auto a = split_lines(before);
  auto b = split_lines(after);
  auto steps = edit_script(a, b);
  std::string out = "--- " + std::string(from_name) + "\n+++ " + std::string(to_name) + "\n";
  size_t ctx = static_cast<size_t>(std::max(context, 0));
  size_t k = 0;
  while (k < steps.size()) {
    while (k < steps.size() && steps[k].op == Op::Equal)
      ++k;
    if (k == steps.size()) break;
    // Hunk: from `ctx` equal lines before the change to `ctx` equal lines after the last change
    // that is less than 2*ctx equal lines away from the next.
    size_t start = k >= ctx ? k - ctx : 0;
    size_t end = k;
    for (;;) {
      while (end < steps.size() && steps[end].op != Op::Equal)
        ++end;
      size_t eq = end;
      while (eq < steps.size() && steps[eq].op == Op::Equal)
        ++eq;
      if (eq < steps.size() && eq - end <= 2 * ctx) {
        end = eq;
        continue;
      }
      end = std::min(end + ctx, steps.size());
      break;
    }
    size_t a_start = steps[start].a, b_start = steps[start].b, a_count = 0, b_count = 0;
    std::string body;
    for (size_t i = start; i < end; ++i) {
      const Step& s = steps[i];
      if (s.op == Op::Equal) {
        append_line(body, ' ', a[s.a]);
        ++a_count;
        ++b_count;
      } else if (s.op == Op::Delete) {
        append_line(body, '-', a[s.a]);
        ++a_count;
      } else {
        append_line(body, '+', b[s.b]);
        ++b_count;
      }
    }
    out += "@@ -" + range(a_start, a_count) + " +" + range(b_start, b_count) + " @@\n" + body;
    k = end;
  }
  return out;
}

} // namespace oomlint::cli
