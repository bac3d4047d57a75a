#include <catch2/catch.hpp>

#include "line_index.h"

using oomlint::checks::LineIndex;

TEST_CASE("line index splits on LF, CRLF and lone CR", "[line_index]") {
  LineIndex idx("a\nbc\r\nd\re");
  REQUIRE(idx.line_count() == 4);
  CHECK(idx.line_of(0) == 0);
  CHECK(idx.line_of(2) == 1);
  CHECK(idx.line_text(1) == "bc");
  CHECK(idx.line_of(6) == 2);
  CHECK(idx.line_text(2) == "d");
  CHECK(idx.line_text(3) == "e");
  CHECK(idx.line_end(1) == 4);
}

TEST_CASE("columns count UTF-16 units and code points", "[line_index]") {
  // "é" is 2 bytes / 1 unit; "😀" is 4 bytes / 2 UTF-16 units / 1 code point.
  std::string text = "x = \"é😀\" + y\n";
  LineIndex idx(text);
  uint32_t y = static_cast<uint32_t>(text.find('y'));
  CHECK(idx.codepoint_column(y) == 11);
  CHECK(idx.utf16_column(y) == 12);
  CHECK(idx.offset_from_utf16(0, 12) == y);
  CHECK(idx.offset_from_utf8(0, y) == y);
  // A column inside the surrogate pair stays before the character.
  uint32_t emoji = static_cast<uint32_t>(text.find("😀"));
  CHECK(idx.offset_from_utf16(0, 7) == emoji);
  // Past the end of the line clamps to the line end.
  CHECK(idx.offset_from_utf16(0, 500) == text.size() - 1);
  CHECK(idx.offset_from_utf16(9, 0) == text.size());
}

TEST_CASE("invalid UTF-8 counts one unit per byte", "[line_index]") {
  std::string text = "a\xff\xfe b";
  LineIndex idx(text);
  CHECK(idx.utf16_column(5) == 5);
  CHECK(idx.codepoint_column(5) == 5);
}

TEST_CASE("tabs are one column", "[line_index]") {
  LineIndex idx("\tx");
  CHECK(idx.utf16_column(1) == 1);
}
