// Words of an identifier-like text, as the facts read names (`val_loader` -> val, loader;
// `trainLoader` -> train, loader). The prefilter's word terms (Term::word()) split the same way.
#pragma once

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace oomlint::checks::facts {

// Split at bytes other than ASCII letters and digits (so at `_`) and between a lower-case letter
// and an upper-case one; lower-cased.
inline std::vector<std::string> words_of(std::string_view text) {
  std::vector<std::string> out;
  std::string cur;
  char prev = 0;
  for (char c : text) {
    bool alnum = std::isalnum(static_cast<unsigned char>(c));
    bool camel = std::isupper(static_cast<unsigned char>(c)) &&
                 std::islower(static_cast<unsigned char>(prev));
    if (!alnum || camel) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    }
    if (alnum) cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    prev = c;
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

} // namespace oomlint::checks::facts
