#include "snapshot.h"

#include <algorithm>
#include <cstdint>
#include <tuple>

#include "engine/engine.h"

namespace oomlint::test {

namespace fs = std::filesystem;

namespace {

// Lines without their newline; a final newline ends the last line rather than starting another.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

void append_line(std::string& out, std::string_view indent, std::string_view line) {
  std::string l = std::string(indent) + std::string(line);
  while (!l.empty() && (l.back() == ' ' || l.back() == '\t' || l.back() == '\r'))
    l.pop_back();
  out += l;
  out += '\n';
}

std::string relative_to_source(const fs::path& p) {
  return p.lexically_relative(source_dir()).generic_string();
}

} // namespace

fs::path snapshot_dir() {
  return source_dir() / "tests" / "fixtures" / "snapshots";
}

fs::path snapshot_path(const fs::path& fixture) {
  return snapshot_dir() / (fixture.stem().string() + ".snap");
}

fs::path fixture_of_snapshot(const fs::path& snapshot) {
  return source_dir() / "tests" / "fixtures" / (snapshot.stem().string() + ".py");
}

std::vector<fs::path> snapshot_files() {
  std::vector<fs::path> out;
  if (!fs::is_directory(snapshot_dir())) return out;
  for (const auto& e : fs::directory_iterator(snapshot_dir())) {
    if (e.path().extension() == ".snap") out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string apply_edits(std::string_view source, std::vector<checks::Edit> edits) {
  std::sort(edits.begin(), edits.end(),
            [](const checks::Edit& a, const checks::Edit& b) { return a.start < b.start; });
  std::string out;
  size_t at = 0;
  for (const auto& e : edits) {
    size_t start = std::clamp<size_t>(e.start, at, source.size());
    out.append(source.substr(at, start - at));
    out += e.text;
    at = std::clamp<size_t>(e.end, start, source.size());
  }
  out.append(source.substr(at));
  return out;
}

std::string unified_diff(std::string_view before, std::string_view after, size_t context) {
  auto a = split_lines(before), b = split_lines(after);
  // The lines both share at the start and at the end, then a longest common subsequence of the
  // middle (fixes are local: the middle is a few lines).
  size_t pre = 0;
  while (pre < a.size() && pre < b.size() && a[pre] == b[pre])
    ++pre;
  size_t suf = 0;
  while (suf < a.size() - pre && suf < b.size() - pre &&
         a[a.size() - 1 - suf] == b[b.size() - 1 - suf]) {
    ++suf;
  }
  if (pre == a.size() && pre == b.size()) return "";
  const size_t n = a.size() - pre - suf, m = b.size() - pre - suf;
  // One operation per output line: ' ' kept, '-' only in `before`, '+' only in `after`, with
  // how many lines of each text come before it.
  struct Op {
    char kind;
    size_t ai, bi;
  };
  std::vector<Op> ops;
  for (size_t i = 0; i < pre; ++i)
    ops.push_back({' ', i, i});
  if (n * m > 4'000'000) {
    for (size_t i = 0; i < n; ++i)
      ops.push_back({'-', pre + i, pre});
    for (size_t j = 0; j < m; ++j)
      ops.push_back({'+', pre + n, pre + j});
  } else {
    // lcs[i][j]: the longest common subsequence of the middles from i and j on.
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
        ops.push_back({' ', pre + i, pre + j});
        ++i;
        ++j;
      } else if (i < n && (j == m || at(i + 1, j) >= at(i, j + 1))) {
        ops.push_back({'-', pre + i, pre + j});
        ++i;
      } else {
        ops.push_back({'+', pre + i, pre + j});
        ++j;
      }
    }
  }
  for (size_t k = 0; k < suf; ++k)
    ops.push_back({' ', a.size() - suf + k, b.size() - suf + k});

  std::string out;
  size_t k = 0;
  while (k < ops.size()) {
    // The next change, and the hunk around it: changes closer than 2 * context share one.
    while (k < ops.size() && ops[k].kind == ' ')
      ++k;
    if (k == ops.size()) break;
    size_t first = k >= context ? k - context : 0;
    size_t last = k; // last change of the hunk
    for (size_t q = k + 1; q < ops.size(); ++q) {
      if (ops[q].kind == ' ') continue;
      if (q - last > 2 * context) break;
      last = q;
    }
    size_t end = std::min(ops.size(), last + context + 1);
    size_t a_count = 0, b_count = 0;
    for (size_t q = first; q < end; ++q) {
      a_count += ops[q].kind != '+';
      b_count += ops[q].kind != '-';
    }
    // As diff -u: an empty range starts at the line before it.
    size_t a_start = ops[first].ai + (a_count > 0), b_start = ops[first].bi + (b_count > 0);
    out += "@@ -" + std::to_string(a_start) + "," + std::to_string(a_count) + " +" +
           std::to_string(b_start) + "," + std::to_string(b_count) + " @@\n";
    for (size_t q = first; q < end; ++q) {
      const Op& op = ops[q];
      append_line(out, std::string(1, op.kind), op.kind == '+' ? b[op.bi] : a[op.ai]);
    }
    k = end;
  }
  return out;
}

std::string render_snapshot(const Fixture& fixture) {
  checks::Engine engine(fixture.settings);
  auto diagnostics = engine.check(fixture.text);
  auto key = [](const checks::Diagnostic& d) {
    return std::tie(d.start_pos.line, d.start_pos.column, d.end_pos.line, d.end_pos.column, d.code,
                    d.message);
  };
  std::stable_sort(diagnostics.begin(), diagnostics.end(),
                   [&](const auto& x, const auto& y) { return key(x) < key(y); });
  size_t fixes = 0;
  for (const auto& d : diagnostics)
    fixes += d.fix.has_value();
  std::string out = "# " + relative_to_source(fixture.path) + ": ";
  if (diagnostics.empty()) {
    out += "no diagnostics\n";
    return out;
  }
  out += std::to_string(diagnostics.size()) +
         (diagnostics.size() == 1 ? " diagnostic, " : " diagnostics, ") + std::to_string(fixes) +
         " with a fix\n";
  for (const auto& d : diagnostics) {
    out += '\n';
    std::string head = std::to_string(d.start_pos.line) + ":" + std::to_string(d.start_pos.column) +
                       "-" + std::to_string(d.end_pos.line) + ":" +
                       std::to_string(d.end_pos.column) + " " + d.code + " " +
                       std::string(checks::to_string(d.severity)) + ": ";
    auto message = split_lines(d.message);
    append_line(out, head, message.empty() ? "" : message[0]);
    for (size_t i = 1; i < message.size(); ++i)
      append_line(out, "    ", message[i]);
    if (!d.fix) {
      append_line(out, "  ", "no fix");
      continue;
    }
    append_line(out, "  fix (" + std::string(checks::to_string(d.fix->applicability)) + "): ",
                d.fix->title);
    std::string diff = unified_diff(fixture.text, apply_edits(fixture.text, d.fix->edits), 2);
    if (diff.empty()) append_line(out, "  ", "(the edits change nothing)");
    for (auto line : split_lines(diff))
      append_line(out, line.starts_with("@@") ? "  " : "  |", line);
  }
  return out;
}

} // namespace oomlint::test
