// Converts byte offsets to lines and columns. Lines end at "\n", "\r\n" or a lone "\r" (as the
// LSP specification and Python both count them). Columns are available in UTF-8 bytes, UTF-16
// code units and Unicode code points; invalid UTF-8 bytes count as one unit each.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace oomlint::checks {

class LineIndex {
public:
  explicit LineIndex(std::string_view text);

  uint32_t line_count() const { return static_cast<uint32_t>(starts_.size()); }
  // 0-based line containing byte `offset` (offsets past the end clamp to the end).
  uint32_t line_of(uint32_t offset) const;
  uint32_t line_start(uint32_t line) const;
  // Byte offset of the end of `line`'s content (before its line terminator).
  uint32_t line_end(uint32_t line) const;
  std::string_view line_text(uint32_t line) const;

  // Columns (0-based) of `offset` within its line.
  uint32_t utf16_column(uint32_t offset) const;
  uint32_t codepoint_column(uint32_t offset) const;
  // Inverse of utf16_column/byte column: clamps columns past the line end to the line end.
  uint32_t offset_from_utf16(uint32_t line, uint32_t utf16_col) const;
  uint32_t offset_from_utf8(uint32_t line, uint32_t byte_col) const;

  std::string_view text() const { return text_; }

private:
  std::string_view text_;
  std::vector<uint32_t> starts_;
};

// Length of the UTF-8 sequence that starts with byte `b` (1 for invalid lead bytes).
int utf8_sequence_length(unsigned char b);

} // namespace oomlint::checks
