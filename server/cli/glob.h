// Glob patterns for --exclude, `exclude` and `per-file-ignores`: `*` and `?` stop at `/`,
// `**` crosses directories (`**/` also matches no directory), `[abc]`, `[a-z]` and `[!x]` classes.
#pragma once

#include <filesystem>
#include <string_view>

namespace oomlint::cli {

bool glob_match(std::string_view pattern, std::string_view text);

// Ruff's rule for path patterns: a pattern without `/` is matched against the file or directory
// name; one with `/` is anchored at `base` (the current directory for the command line, the
// config file's directory for config keys) and matched against the whole absolute path.
bool path_pattern_match(std::string_view pattern, const std::filesystem::path& base,
                        const std::filesystem::path& absolute_path);

} // namespace oomlint::cli
