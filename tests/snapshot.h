// Fixture snapshots, as Ruff's insta snapshots: tests/fixtures/snapshots/NAME.snap pins every
// diagnostic that tests/fixtures/NAME.py gives (position, code, severity, message) and each fix
// (title, applicability, and its edits as a unified diff against the fixture). snapshot_test.cpp
// compares them; tools/update-snapshots.sh (oomlint_dev snapshots) writes them. Both render with
// render_snapshot(), so what is written is exactly what is compared.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostic.h"
#include "fixture_support.h"

namespace oomlint::test {

// tests/fixtures/snapshots
std::filesystem::path snapshot_dir();
// The snapshot of a fixture: tests/fixtures/snapshots/<fixture's stem>.snap.
std::filesystem::path snapshot_path(const std::filesystem::path& fixture);
// The fixture a snapshot pins: tests/fixtures/<snapshot's stem>.py.
std::filesystem::path fixture_of_snapshot(const std::filesystem::path& snapshot);
// Every .snap file in snapshot_dir(), sorted.
std::vector<std::filesystem::path> snapshot_files();

// The snapshot text of a fixture as the engine reports it now:
//
//   # tests/fixtures/OOM203.py: 2 diagnostics, 1 with a fix
//
//   12:9-12:33 OOM203 warning: `empty_cache()` runs on every step: ...
//     fix (unsafe): Remove the `empty_cache()` call
//     @@ -10,5 +10,4 @@
//     |         loss.backward()
//     |-        torch.cuda.empty_cache()
//
//   30:5-30:29 OOM203 warning: ...
//     no fix
//
// Positions are 1-based lines and columns (code points), start and end; diagnostics are in
// order of position. The diff of a fix has 2 lines of context, each line after a `|` gutter.
// Lines carry no trailing whitespace.
std::string render_snapshot(const Fixture& fixture);

// A unified diff (`@@ -a,b +c,d @@` hunks, `context` lines around each change) turning the lines
// of `before` into those of `after`; "" when they are equal.
std::string unified_diff(std::string_view before, std::string_view after, size_t context);

// A fix's edits applied to `source` (non-overlapping edits, in any order).
std::string apply_edits(std::string_view source, std::vector<checks::Edit> edits);

} // namespace oomlint::test
