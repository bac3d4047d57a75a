#include "suppression.h"

#include <algorithm>
#include <cctype>

#include "registry.h"

namespace oomlint::checks {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads codes like "OOM201, OOM203" from the start of `s`, stopping at the first non-code word.
// `end`, when given, receives the offset just after the last code read.
std::vector<std::string> read_codes(std::string_view s, size_t* end = nullptr) {
  std::vector<std::string> codes;
  if (end) *end = 0;
  size_t i = 0;
  for (;;) {
    while (i < s.size() && (s[i] == ' ' || s[i] == ',' || s[i] == '\t'))
      ++i;
    size_t start = i;
    while (i < s.size() && std::isupper(static_cast<unsigned char>(s[i])))
      ++i;
    size_t letters = i - start;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
      ++i;
    if (letters == 0 || i == start + letters) break;
    codes.emplace_back(s.substr(start, i - start));
    if (end) *end = i;
  }
  return codes;
}

} // namespace

bool parse_suppression(std::string_view comment, SuppressionComment& out) {
  std::string low = lower(comment);
  // oomlint: ignore[...] / oomlint: noqa[: codes]
  for (size_t pos = low.find("oomlint:"); pos != std::string::npos;
       pos = low.find("oomlint:", pos + 1)) {
    size_t i = pos + 8;
    while (i < low.size() && low[i] == ' ')
      ++i;
    std::string_view rest = std::string_view(low).substr(i);
    if (rest.starts_with("ignore")) {
      size_t j = i + 6;
      if (j < comment.size() && comment[j] == '[') {
        size_t close = comment.find(']', j);
        if (close == std::string_view::npos) return false;
        out.codes = read_codes(comment.substr(j + 1, close - j - 1));
        out.all = out.codes.empty();
        out.directive_start = pos;
        out.codes_start = j + 1;
        out.codes_end = close;
      } else {
        out.all = true;
      }
      return true;
    }
    if (rest.starts_with("noqa")) {
      out.file_level = true;
      size_t j = i + 4;
      if (j < comment.size() && comment[j] == ':') {
        out.codes = read_codes(comment.substr(j + 1));
        out.all = out.codes.empty();
      } else {
        out.all = true;
      }
      return true;
    }
  }
  // # noqa / # noqa: CODES (the "noqa" must follow a '#')
  for (size_t hash = low.find('#'); hash != std::string::npos; hash = low.find('#', hash + 1)) {
    size_t i = hash + 1;
    while (i < low.size() && low[i] == ' ')
      ++i;
    if (low.compare(i, 4, "noqa") != 0) continue;
    size_t j = i + 4;
    if (j < comment.size() && comment[j] == ':') {
      size_t end = 0;
      out.codes = read_codes(comment.substr(j + 1), &end);
      out.directive_start = hash;
      out.codes_start = j + 1;
      out.codes_end = j + 1 + end;
      // "# noqa:" followed by no code suppresses nothing: be strict like Ruff.
      out.all = false;
      return !out.codes.empty();
    }
    if (j < comment.size() && std::isalnum(static_cast<unsigned char>(comment[j]))) continue;
    out.all = true;
    return true;
  }
  return false;
}

Suppressions::Suppressions(std::string_view text, const LineIndex& lines,
                           const std::vector<ts::Node>& comments)
    : lines_(lines) {
  for (ts::Node c : comments) {
    SuppressionComment s;
    if (!parse_suppression(c.text(text), s)) continue;
    uint32_t line = lines.line_of(c.start());
    if (s.file_level) {
      // Only a comment that stands on its own line applies to the whole file.
      std::string_view before =
          text.substr(lines.line_start(line), c.start() - lines.line_start(line));
      if (before.find_first_not_of(" \t") == std::string_view::npos) {
        file_.all = file_.all || s.all;
        file_.codes.insert(file_.codes.end(), s.codes.begin(), s.codes.end());
      }
      continue;
    }
    LineDirective d;
    d.start = c.start();
    d.end = c.end();
    d.used.assign(s.codes.size(), 0);
    d.s = std::move(s);
    by_line_[line].push_back(directives_.size());
    directives_.push_back(std::move(d));
  }
}

bool Suppressions::line_suppresses(uint32_t line, std::string_view code) {
  auto it = by_line_.find(line);
  if (it == by_line_.end()) return false;
  bool hit = false;
  for (size_t i : it->second) {
    LineDirective& d = directives_[i];
    if (d.s.all) hit = true;
    for (size_t k = 0; k < d.s.codes.size(); ++k) {
      if (d.s.codes[k] == code) {
        d.used[k] = 1;
        hit = true;
      }
    }
  }
  return hit;
}

bool Suppressions::suppressed(const Diagnostic& d) {
  if (file_.all) return true;
  for (const auto& c : file_.codes) {
    if (c == d.code) return true;
  }
  return line_suppresses(lines_.line_of(d.start), d.code) ||
         line_suppresses(lines_.line_of(d.end), d.code);
}

bool reports_unused_noqa(const Settings& settings) {
  return std::find(settings.select.begin(), settings.select.end(), kUnusedNoqaCode) !=
             settings.select.end() &&
         settings.is_enabled(kUnusedNoqaCode);
}

std::vector<Diagnostic> Suppressions::unused(std::string_view text,
                                             const Settings& settings) const {
  std::vector<Diagnostic> out;
  auto blank = [](char ch) { return ch == ' ' || ch == '\t'; };
  for (const LineDirective& d : directives_) {
    std::vector<std::string> unused_codes, kept;
    for (size_t k = 0; k < d.s.codes.size(); ++k) {
      const std::string& code = d.s.codes[k];
      // Codes of other tools (E501), unknown codes and rules turned off are not ours to judge.
      bool judged = code != kUnusedNoqaCode && find_rule(code) && settings.is_enabled(code);
      (judged && !d.used[k] ? unused_codes : kept).push_back(code);
    }
    if (unused_codes.empty()) continue;
    std::string_view c = text.substr(d.start, d.end - d.start);
    bool bracket = d.s.codes_end < c.size() && c[d.s.codes_end] == ']';
    size_t removal_end = d.s.codes_end + (bracket ? 1 : 0);
    size_t d0 = d.s.directive_start;
    if (d0 > 0 && c[0] == '#') {
      size_t k = 1;
      while (k < d0 && blank(c[k]))
        ++k;
      if (k == d0 && c.substr(d0).starts_with("oomlint:")) d0 = 0; // "# oomlint: ignore[...]"
    }
    Fix fix;
    fix.applicability = Applicability::Safe;
    if (!kept.empty()) {
      std::string list;
      for (const auto& k : kept)
        list += (list.empty() ? "" : ", ") + k;
      fix.title = "Remove the unused code" + std::string(unused_codes.size() > 1 ? "s" : "");
      fix.edits.push_back({d.start + static_cast<uint32_t>(d.s.codes_start),
                           d.start + static_cast<uint32_t>(d.s.codes_end),
                           bracket ? list : " " + list});
    } else {
      fix.title = "Remove the unused `noqa` directive";
      size_t rest = removal_end;
      while (rest < c.size() && blank(c[rest]))
        ++rest;
      uint32_t from = 0, to = 0;
      std::string replacement;
      if (d0 == 0 && rest == c.size()) {
        // The whole comment, with the blanks before it.
        from = d.start;
        while (from > 0 && blank(text[from - 1]))
          --from;
        to = d.end;
      } else if (d0 == 0 && c[rest] == '#') {
        from = d.start; // "# noqa: X  # type: ignore" -> "# type: ignore"
        to = d.start + static_cast<uint32_t>(rest);
      } else if (d0 == 0) {
        from = d.start; // "# noqa: X reason" -> "# reason"
        to = d.start + static_cast<uint32_t>(removal_end);
        replacement = "#";
      } else {
        size_t b = d0; // "# reason  # noqa: X" -> "# reason"
        while (b > 0 && blank(c[b - 1]))
          --b;
        from = d.start + static_cast<uint32_t>(b);
        to = d.start + static_cast<uint32_t>(removal_end);
      }
      fix.edits.push_back({from, to, replacement});
    }
    Diagnostic diag;
    diag.code = std::string(kUnusedNoqaCode);
    diag.slug = std::string(kUnusedNoqaSlug);
    diag.severity = Severity::Warning;
    std::string list;
    for (const auto& u : unused_codes)
      list += (list.empty() ? "" : ", ") + u;
    diag.message = "Unused `noqa` code" + std::string(unused_codes.size() > 1 ? "s" : "") + " (" +
                   list + "): nothing on this line is reported for " +
                   (unused_codes.size() > 1 ? "them" : "it");
    diag.start = d.start + static_cast<uint32_t>(d.s.codes_start);
    diag.end = d.start + static_cast<uint32_t>(d.s.codes_end);
    while (diag.start < diag.end && blank(text[diag.start]))
      ++diag.start;
    diag.fix = std::move(fix);
    out.push_back(std::move(diag));
  }
  return out;
}

} // namespace oomlint::checks
