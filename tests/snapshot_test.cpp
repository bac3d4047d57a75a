// Fixture snapshots (tests/snapshot.h): each fixture's diagnostics and fixes, as rendered now,
// against tests/fixtures/snapshots/NAME.snap. OOMLINT_UPDATE_SNAPSHOTS=1 writes them instead.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string_view>

#include "fixture_support.h"
#include "snapshot.h"
#include "tool_commands.h"

using namespace oomlint;
namespace fs = std::filesystem;

namespace {

bool updating() {
  const char* v = std::getenv("OOMLINT_UPDATE_SNAPSHOTS");
  return v != nullptr && std::string_view(v) == "1";
}

std::string repo_path(const fs::path& p) {
  return p.lexically_relative(test::source_dir()).generic_string();
}

std::string how_to_update(const std::string& name) {
  return "  " + test::update_command("update-snapshots.sh", name) +
         "\n(or every snapshot: OOMLINT_UPDATE_SNAPSHOTS=1 ctest --test-dir " +
         test::build_dir_argument() + " -R snapshot), then review the change with git diff";
}

} // namespace

TEST_CASE("fixture snapshots: each fixture reports what its snapshot pins", "[fixtures]") {
  auto fixtures = test::fixture_files();
  REQUIRE_FALSE(fixtures.empty());
  for (const auto& path : fixtures) {
    fs::path snap = test::snapshot_path(path);
    std::string name = path.stem().string();
    std::string actual = test::render_snapshot(test::load_fixture(path));
    if (!fs::exists(snap)) continue; // the next test names it
    std::string expected = test::read_file(snap);
    if (actual == expected) continue;
    if (updating()) {
      std::ofstream(snap, std::ios::binary) << actual;
      WARN("updated " << repo_path(snap));
      continue;
    }
    // Printed as it is: Catch would wrap the long lines of a message at 80 columns.
    std::cout << "---- " << repo_path(snap) << " (- snapshot, + now)\n"
              << test::unified_diff(expected, actual, 3) << "----" << std::endl;
    FAIL_CHECK(repo_path(path) << " no longer gives what " << repo_path(snap)
                               << " pins: the diff is printed above. If the change is intended, "
                               << "update the snapshot:\n"
                               << how_to_update(name));
  }
}

TEST_CASE("fixture snapshots: every fixture has a snapshot and every snapshot a fixture",
          "[fixtures]") {
  for (const auto& path : test::fixture_files()) {
    fs::path snap = test::snapshot_path(path);
    if (fs::exists(snap)) continue;
    std::string name = path.stem().string();
    if (updating()) {
      fs::create_directories(snap.parent_path());
      std::ofstream(snap, std::ios::binary) << test::render_snapshot(test::load_fixture(path));
      WARN("created " << repo_path(snap));
      continue;
    }
    FAIL_CHECK(repo_path(path) << " has no snapshot " << repo_path(snap)
                               << ": write it, review it and commit it with the fixture:\n"
                               << how_to_update(name));
  }
  for (const auto& snap : test::snapshot_files()) {
    fs::path fixture = test::fixture_of_snapshot(snap);
    if (fs::exists(fixture)) continue;
    if (updating()) {
      fs::remove(snap);
      WARN("removed " << repo_path(snap) << " (no fixture " << repo_path(fixture) << ")");
      continue;
    }
    FAIL_CHECK(repo_path(snap) << " pins " << repo_path(fixture)
                               << ", which does not exist: remove the snapshot (git rm "
                               << repo_path(snap) << "), or run "
                               << test::update_command("update-snapshots.sh", "")
                               << " with no fixture named, which removes it");
  }
}
