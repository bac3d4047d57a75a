#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

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

// A byte-at-a-time model of what the index must answer, to hold its shortcuts (line breaks
// found with memchr when there is no "\r"; columns as byte counts on ASCII runs) to.
namespace {
struct Model {
  std::vector<uint32_t> starts{0};
  explicit Model(std::string_view t) {
    for (size_t i = 0; i < t.size(); ++i) {
      if (t[i] == '\n' || (t[i] == '\r' && !(i + 1 < t.size() && t[i + 1] == '\n'))) {
        starts.push_back(static_cast<uint32_t>(i + 1));
      }
    }
  }
};
} // namespace

TEST_CASE("line index shortcuts agree with a byte-by-byte count", "[line_index]") {
  // Pieces chosen to put line breaks, multi-byte characters and invalid bytes on either side
  // of 8-byte boundaries, with and without carriage returns in the text.
  const std::vector<std::string> pieces = {"a",
                                           "bcdefghij",
                                           "\n",
                                           "\r\n",
                                           "\r",
                                           "é",
                                           "😀",
                                           "\xff",
                                           " ",
                                           "x = y(z)",
                                           "\t\t",
                                           "ab\xe2\x82",
                                           "0123456789abcdef"};
  uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) & 0x7fff;
  };
  for (int round = 0; round < 300; ++round) {
    std::string text;
    int n = static_cast<int>(next() % 40);
    bool no_cr = round % 2 == 0;
    for (int k = 0; k < n; ++k) {
      const std::string& p = pieces[next() % pieces.size()];
      if (no_cr && p.find('\r') != std::string::npos) continue;
      text += p;
    }
    LineIndex idx(text);
    Model model(text);
    REQUIRE(idx.line_count() == model.starts.size());
    for (uint32_t off = 0; off <= text.size(); ++off) {
      uint32_t line =
          static_cast<uint32_t>(std::upper_bound(model.starts.begin(), model.starts.end(), off) -
                                model.starts.begin() - 1);
      REQUIRE(idx.line_of(off) == line);
      // Columns: one per code point (invalid bytes one each); UTF-16 adds one per 4-byte one.
      uint32_t cp = 0, u16 = 0;
      for (uint32_t i = model.starts[line]; i < off;) {
        auto b = static_cast<unsigned char>(text[i]);
        uint32_t len = b < 0x80             ? 1
                       : (b & 0xE0) == 0xC0 ? 2
                       : (b & 0xF0) == 0xE0 ? 3
                       : (b & 0xF8) == 0xF0 ? 4
                                            : 1;
        bool valid = len > 1 && i + len <= off;
        for (uint32_t k = 1; valid && k < len; ++k)
          valid = (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
        if (!valid) len = 1;
        cp += 1;
        u16 += len == 4 ? 2 : 1;
        i += len;
      }
      INFO("text " << text << " offset " << off);
      REQUIRE(idx.codepoint_column(off) == cp);
      REQUIRE(idx.utf16_column(off) == u16);
    }
  }
}
