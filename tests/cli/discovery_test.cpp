#include <git2.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "cli/cli_test_support.h"
#include "cli/discovery.h"

using namespace oomlint::cli;
using oomlint::test::TempDir;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> names(const Discovery& d) {
  std::vector<std::string> out;
  for (const auto& f : d.files)
    out.push_back(f.display);
  return out;
}

void git_init(const fs::path& dir) {
  git_libgit2_init();
  git_repository* repo = nullptr;
  REQUIRE(git_repository_init(&repo, dir.c_str(), 0) == 0);
  git_repository_free(repo);
  git_libgit2_shutdown();
}

} // namespace

TEST_CASE("discovery: recursion, usual folders, kinds, sorted", "[cli][discovery]") {
  TempDir tmp;
  tmp.write("b.py", "");
  tmp.write("a/nb.ipynb", "{}");
  tmp.write("a/readme.md", "");
  tmp.write(".venv/lib/x.py", "");
  tmp.write("venv/y.py", "");
  tmp.write("pkg/__pycache__/z.py", "");
  tmp.write("node_modules/n.py", "");
  tmp.write("build/gen.py", "");
  tmp.write("configs/ds_config_zero3.json", "{}");
  tmp.write("configs/other.json", "{}");
  ConfigResolver configs(std::nullopt, true);
  Discovery d = discover({"."}, configs, {}, tmp.path());
  CHECK(names(d) == std::vector<std::string>{"a/nb.ipynb", "b.py", "configs/ds_config_zero3.json"});
  CHECK(d.files[0].kind == FileKind::Notebook);
  CHECK(d.files[2].kind == FileKind::DeepSpeedJson);
  CHECK(d.errors.empty());
}

TEST_CASE("discovery: .gitignore inside a git work tree", "[cli][discovery]") {
  TempDir tmp;
  git_init(tmp.path());
  tmp.write(".gitignore", "ignored.py\ngen/\n");
  tmp.write("kept.py", "");
  tmp.write("ignored.py", "");
  tmp.write("gen/x.py", "");
  tmp.write("src/gen/y.py", "");
  tmp.write("src/ok.py", "");
  ConfigResolver configs(std::nullopt, true);
  Discovery d = discover({"."}, configs, {}, tmp.path());
  CHECK(names(d) == std::vector<std::string>{"kept.py", "src/ok.py"});
  // Named explicitly: checked anyway.
  Discovery e = discover({"ignored.py"}, configs, {}, tmp.path());
  CHECK(names(e) == std::vector<std::string>{"ignored.py"});
}

TEST_CASE("discovery: --exclude and config exclude", "[cli][discovery]") {
  TempDir tmp;
  tmp.write("keep.py", "");
  tmp.write("old_train.py", "");
  tmp.write("legacy/a.py", "");
  tmp.write("sub/oomlint.toml", "exclude = [\"skip_*.py\"]\n");
  tmp.write("sub/skip_me.py", "");
  tmp.write("sub/fine.py", "");
  ConfigResolver configs(std::nullopt, false);
  CliOverrides cli;
  cli.exclude = {"old_*.py", "legacy/"};
  Discovery d = discover({"."}, configs, cli, tmp.path());
  CHECK(names(d) == std::vector<std::string>{"keep.py", "sub/fine.py"});
  Discovery e = discover({"legacy/a.py"}, configs, cli, tmp.path());
  CHECK(names(e) == std::vector<std::string>{"legacy/a.py"});
}

TEST_CASE("discovery: symlink loops end, duplicates are dropped", "[cli][discovery]") {
  TempDir tmp;
  tmp.write("d/x.py", "");
  fs::create_directory_symlink(tmp.path() / "d", tmp.path() / "d/loop");
  fs::create_directory_symlink(tmp.path(), tmp.path() / "d/up");
  fs::create_symlink(tmp.path() / "missing.py", tmp.path() / "dangling.py");
  ConfigResolver configs(std::nullopt, true);
  Discovery d = discover({".", "d"}, configs, {}, tmp.path());
  CHECK(names(d) == std::vector<std::string>{"d/x.py"});
}

TEST_CASE("discovery: missing paths are errors, the rest is still found", "[cli][discovery]") {
  TempDir tmp;
  tmp.write("a.py", "");
  ConfigResolver configs(std::nullopt, true);
  Discovery d = discover({"nope.py", "a.py"}, configs, {}, tmp.path());
  CHECK(names(d) == std::vector<std::string>{"a.py"});
  REQUIRE(d.errors.size() == 1);
  CHECK(d.errors[0].path == "nope.py");
}

TEST_CASE("discovery: display paths", "[cli][discovery]") {
  CHECK(display_path("/r/a/b.py", "/r") == "a/b.py");
  CHECK(display_path("/x/b.py", "/r") == "/x/b.py");
  CHECK(is_deepspeed_candidate_name("DeepSpeed_Config.json"));
  CHECK(is_deepspeed_candidate_name("zero2.json"));
  CHECK_FALSE(is_deepspeed_candidate_name("package.json"));
}
