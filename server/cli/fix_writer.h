// Writing fixed files safely: the edits' newlines follow the file's line endings, and the file
// is replaced atomically (temp file in the same directory, fsync, rename) keeping its mode, and
// only if it still holds what was read.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace oomlint::cli {

enum class LineEnding { Lf, CrLf, Cr };

// The most common line terminator of `text` (Lf when there is none).
LineEnding dominant_line_ending(std::string_view text);

// `fixed` is `original` after edits. When the original uses CRLF (or CR) throughout, newlines
// that the edits brought in as bare "\n" are converted to the file's terminator.
std::string match_line_endings(std::string_view original, std::string fixed);

// Replaces `path` with `content` atomically, provided the file still holds `expected`.
// Returns an empty string on success, else the reason (the file is then left untouched).
std::string write_file_atomically(const std::filesystem::path& path, std::string_view expected,
                                  std::string_view content);

} // namespace oomlint::cli
