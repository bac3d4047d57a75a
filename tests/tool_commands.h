// The commands a failing test tells a contributor to run (tools/update-*.sh), with this test
// build's directory where the script would not pick it by itself.
#pragma once

#include <filesystem>
#include <string>

#include "fixture_support.h"

namespace oomlint::test {

// This test build's directory as a script takes it: relative to the repository when inside it.
inline std::string build_dir_argument() {
  std::filesystem::path build = OOMLINT_BUILD_DIR;
  auto rel = build.lexically_relative(source_dir());
  if (!rel.empty() && *rel.begin() != "..") return rel.generic_string();
  return build.generic_string();
}

// tools/update-rule-table.sh takes the build directory as its argument.
inline std::string update_rule_table_command() {
  return "tools/update-rule-table.sh " + build_dir_argument();
}

// tools/update-snapshots.sh and tools/update-fixed.sh use build-test unless told otherwise.
inline std::string update_command(const std::string& script, const std::string& args) {
  std::string build = build_dir_argument();
  std::string cmd = "tools/" + script;
  if (build != "build-test") cmd += " --build " + build;
  if (!args.empty()) cmd += " " + args;
  return cmd;
}

} // namespace oomlint::test
