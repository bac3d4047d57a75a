#include "cli/glob.h"

#include <string>

namespace oomlint::cli {

namespace {

// Matches a character class starting at pattern[pi] == '['; sets `next` past the class.
bool match_class(std::string_view pattern, size_t pi, char c, size_t& next, bool& valid) {
  size_t i = pi + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool matched = false;
  bool first = true;
  for (; i < pattern.size() && (first || pattern[i] != ']'); ++i, first = false) {
    char lo = pattern[i];
    char hi = lo;
    if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      hi = pattern[i + 2];
      i += 2;
    }
    if (lo <= c && c <= hi) matched = true;
  }
  if (i >= pattern.size()) {
    valid = false; // no closing bracket: treat '[' literally
    return false;
  }
  valid = true;
  next = i + 1;
  return matched != negate;
}

bool match_from(std::string_view p, size_t pi, std::string_view t, size_t ti) {
  while (pi < p.size()) {
    char pc = p[pi];
    if (pc == '*') {
      if (pi + 1 < p.size() && p[pi + 1] == '*') {
        // `**`: any sequence, slashes included. `**/` may also match nothing.
        size_t rest = pi + 2;
        if (rest < p.size() && p[rest] == '/') {
          if (match_from(p, rest + 1, t, ti)) return true;
        }
        for (size_t k = ti; k <= t.size(); ++k) {
          if (match_from(p, rest, t, k)) return true;
        }
        return false;
      }
      for (size_t k = ti; k <= t.size(); ++k) {
        if (match_from(p, pi + 1, t, k)) return true;
        if (k < t.size() && t[k] == '/') break;
      }
      return false;
    }
    if (ti >= t.size()) return false;
    if (pc == '?') {
      if (t[ti] == '/') return false;
      ++pi;
      ++ti;
      continue;
    }
    if (pc == '[') {
      size_t next = 0;
      bool valid = false;
      bool m = match_class(p, pi, t[ti], next, valid);
      if (valid) {
        if (!m || t[ti] == '/') return false;
        pi = next;
        ++ti;
        continue;
      }
    }
    if (pc == '\\' && pi + 1 < p.size()) {
      ++pi;
      pc = p[pi];
    }
    if (pc != t[ti]) return false;
    ++pi;
    ++ti;
  }
  return ti == t.size();
}

} // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
  return match_from(pattern, 0, text, 0);
}

bool path_pattern_match(std::string_view pattern, const std::filesystem::path& base,
                        const std::filesystem::path& absolute_path) {
  std::string pat(pattern);
  while (pat.size() > 1 && pat.back() == '/')
    pat.pop_back(); // "build/" names a directory
  if (pat.starts_with("./")) pat = pat.substr(2);
  if (pat.find('/') == std::string::npos) {
    return glob_match(pat, absolute_path.filename().string());
  }
  std::filesystem::path anchored =
      std::filesystem::path(pat).is_absolute() ? std::filesystem::path(pat) : base / pat;
  return glob_match(anchored.lexically_normal().string(),
                    absolute_path.lexically_normal().string());
}

} // namespace oomlint::cli
