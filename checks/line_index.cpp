#include "line_index.h"

#include <algorithm>
#include <cstring>

namespace oomlint::checks {

int utf8_sequence_length(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b & 0xE0) == 0xC0) return 2;
  if ((b & 0xF0) == 0xE0) return 3;
  if ((b & 0xF8) == 0xF0) return 4;
  return 1;
}

namespace {
// Returns the length of a valid UTF-8 sequence at text[i], or 1 if it is invalid.
size_t valid_sequence(std::string_view text, size_t i, size_t limit) {
  auto b = static_cast<unsigned char>(text[i]);
  int n = utf8_sequence_length(b);
  if (n == 1 || i + n > limit) return 1;
  for (int k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return 1;
  }
  return static_cast<size_t>(n);
}

// True when every byte is below 0x80: then each byte is one code point and one UTF-16 unit.
bool ascii(std::string_view s) {
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    if (w & 0x8080808080808080ULL) return false;
  }
  for (; i < s.size(); ++i)
    if (static_cast<unsigned char>(s[i]) >= 0x80) return false;
  return true;
}
} // namespace

LineIndex::LineIndex(std::string_view text) : text_(text) {
  starts_.push_back(0);
  const char* data = text.data();
  const size_t size = text.size();
  if (std::memchr(data, '\r', size) == nullptr) {
    // No carriage returns (nearly every file): the line breaks are the "\n"s, which memchr
    // finds many bytes at a time.
    for (const char* p = data; (p = static_cast<const char*>(std::memchr(
                                    p, '\n', size - static_cast<size_t>(p - data)))) != nullptr;) {
      ++p;
      starts_.push_back(static_cast<uint32_t>(p - data));
    }
    return;
  }
  for (size_t i = 0; i < size; ++i) {
    char c = text[i];
    if (c == '\n') {
      starts_.push_back(static_cast<uint32_t>(i + 1));
    } else if (c == '\r') {
      if (i + 1 < size && text[i + 1] == '\n') ++i;
      starts_.push_back(static_cast<uint32_t>(i + 1));
    }
  }
}

uint32_t LineIndex::line_of(uint32_t offset) const {
  auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
  return static_cast<uint32_t>(it - starts_.begin()) - 1;
}

uint32_t LineIndex::line_start(uint32_t line) const {
  if (line >= starts_.size()) return static_cast<uint32_t>(text_.size());
  return starts_[line];
}

uint32_t LineIndex::line_end(uint32_t line) const {
  if (line >= starts_.size()) return static_cast<uint32_t>(text_.size());
  uint32_t end =
      line + 1 < starts_.size() ? starts_[line + 1] : static_cast<uint32_t>(text_.size());
  uint32_t begin = starts_[line];
  if (end > begin && text_[end - 1] == '\n') --end;
  if (end > begin && text_[end - 1] == '\r') --end;
  return end;
}

std::string_view LineIndex::line_text(uint32_t line) const {
  uint32_t s = line_start(line);
  return text_.substr(s, line_end(line) - s);
}

uint32_t LineIndex::utf16_column(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
  uint32_t line = line_of(offset);
  size_t begin = starts_[line];
  if (ascii(text_.substr(begin, offset - begin))) return offset - static_cast<uint32_t>(begin);
  uint32_t col = 0;
  for (size_t i = begin; i < offset;) {
    size_t n = valid_sequence(text_, i, offset);
    col += n == 4 ? 2 : 1;
    i += n;
  }
  return col;
}

uint32_t LineIndex::codepoint_column(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
  uint32_t line = line_of(offset);
  size_t begin = starts_[line];
  if (ascii(text_.substr(begin, offset - begin))) return offset - static_cast<uint32_t>(begin);
  uint32_t col = 0;
  for (size_t i = begin; i < offset;) {
    i += valid_sequence(text_, i, offset);
    ++col;
  }
  return col;
}

uint32_t LineIndex::offset_from_utf16(uint32_t line, uint32_t utf16_col) const {
  if (line >= starts_.size()) return static_cast<uint32_t>(text_.size());
  uint32_t end = line_end(line);
  size_t i = starts_[line];
  uint32_t col = 0;
  while (i < end && col < utf16_col) {
    size_t n = valid_sequence(text_, i, end);
    uint32_t units = n == 4 ? 2 : 1;
    if (col + units > utf16_col) break; // inside a surrogate pair: stay before it
    col += units;
    i += n;
  }
  return static_cast<uint32_t>(i);
}

uint32_t LineIndex::offset_from_utf8(uint32_t line, uint32_t byte_col) const {
  if (line >= starts_.size()) return static_cast<uint32_t>(text_.size());
  // Clamp the column before adding: a huge column must not wrap around to an earlier line.
  return starts_[line] + std::min(byte_col, line_end(line) - starts_[line]);
}

} // namespace oomlint::checks
