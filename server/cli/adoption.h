// Adopting oomlint on a large existing repository (`oomlint check`): --add-noqa marks every
// current finding with a `# noqa: OOMnnn` comment, --write-baseline / --baseline record the
// current findings by fingerprint and report only new ones, and --watch checks again whenever a
// file changes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cli/findings.h"

namespace oomlint::cli {

// ---- --add-noqa ----

// `text` with `# noqa: CODES` appended to each 1-based line of `codes_by_line` (or the codes
// merged into the line's existing `# noqa: ...` list, keeping its other codes). Lines that end in
// a backslash continuation or inside a string literal that spans lines are left alone and listed
// in `skipped`. `changed` counts the lines
// edited. Line endings are kept.
std::string add_noqa_to_text(std::string_view text,
                             const std::map<uint32_t, std::set<std::string>>& codes_by_line,
                             size_t& changed, std::vector<uint32_t>* skipped = nullptr);

// ---- baselines ----

// The findings of a baseline file: fingerprint (line_fingerprint of renderers.h, with the path
// relative to the baseline's folder) -> how many.
struct Baseline {
  std::filesystem::path root; // paths in fingerprints are relative to it
  std::map<std::string, int> fingerprints;
};

// Reads a baseline written by write_baseline; nullopt and `error` set when it cannot.
std::optional<Baseline> load_baseline(const std::filesystem::path& file, std::string& error);
// Writes the findings' fingerprints to `file` atomically; an error message or "".
std::string write_baseline(const std::filesystem::path& file, const std::vector<Finding>& findings);
// Removes the findings that the baseline holds (each baseline entry absorbs one finding);
// returns how many were removed. `findings` must be in file order (as check sorts them).
size_t filter_baseline(std::vector<Finding>& findings, const Baseline& baseline);

// ---- --watch ----

// A cheap stamp of the checkable files under `paths` (names, sizes, modification times), to
// notice a change by polling.
uint64_t watch_stamp(const std::vector<std::string>& paths);

// Runs `once`, then again after every change of the files under `paths` (polled every
// `interval`), until SIGINT or SIGTERM arrives; returns 0 then. Prints a line before each run.
int watch_loop(const std::vector<std::string>& paths, const std::function<int()>& once,
               std::chrono::milliseconds interval = std::chrono::milliseconds(300));

} // namespace oomlint::cli
