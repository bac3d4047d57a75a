#include "suppression.h"

#include <cctype>

namespace oomlint::checks {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads codes like "OOM201, OOM203" from the start of `s`, stopping at the first non-code word.
std::vector<std::string> read_codes(std::string_view s) {
  std::vector<std::string> codes;
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
      out.codes = read_codes(comment.substr(j + 1));
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
    auto& slot = by_line_[line];
    slot.all = slot.all || s.all;
    slot.codes.insert(slot.codes.end(), s.codes.begin(), s.codes.end());
  }
}

bool Suppressions::line_suppresses(uint32_t line, std::string_view code) const {
  auto it = by_line_.find(line);
  if (it == by_line_.end()) return false;
  if (it->second.all) return true;
  for (const auto& c : it->second.codes) {
    if (c == code) return true;
  }
  return false;
}

bool Suppressions::suppressed(const Diagnostic& d) const {
  if (file_.all) return true;
  for (const auto& c : file_.codes) {
    if (c == d.code) return true;
  }
  return line_suppresses(lines_.line_of(d.start), d.code) ||
         line_suppresses(lines_.line_of(d.end), d.code);
}

} // namespace oomlint::checks
