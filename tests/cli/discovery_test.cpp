#include <git2.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

namespace {

// Every file's display path is what display_path() makes of its absolute path, and a walked
// file is opened by its absolute path.
void check_paths(const Discovery& d, const fs::path& cwd) {
  for (const auto& f : d.files) {
    INFO(f.absolute);
    CHECK(f.display == display_path(f.absolute, cwd));
    CHECK(fs::path(f.absolute) == fs::path(f.absolute).lexically_normal());
    if (!f.explicit_path) CHECK(f.path == f.absolute);
  }
}

} // namespace

TEST_CASE("discovery: deep trees are walked to the bottom", "[cli][discovery]") {
  TempDir tmp;
  // Eighty levels: the display paths are built level by level.
  std::string deep;
  for (int i = 0; i < 80; ++i) {
    deep += "d" + std::to_string(i % 10) + "/";
    if (i % 20 == 19) tmp.write(deep + "at" + std::to_string(i) + ".py", "");
  }
  tmp.write(deep + "bottom.py", "");
  tmp.write("top.py", "");
  ConfigResolver configs(std::nullopt, true);
  Discovery d = discover({"."}, configs, {}, tmp.path());
  CHECK(d.errors.empty());
  REQUIRE(d.files.size() == 6);
  CHECK(d.files.back().display == "top.py");
  CHECK(d.files[4].display == deep + "bottom.py");
  check_paths(d, tmp.path());
  // The same tree given by its absolute path, from inside it.
  Discovery e = discover({tmp.path().string()}, configs, {}, tmp.path() / "d0");
  REQUIRE(e.files.size() == 6);
  auto shown = names(e);
  CHECK(std::count(shown.begin(), shown.end(), (tmp.path() / "top.py").string()) == 1);
  CHECK(std::count(shown.begin(), shown.end(), deep.substr(3) + "bottom.py") == 1);
  check_paths(e, tmp.path() / "d0");
}

TEST_CASE("discovery: file names and kinds", "[cli][discovery]") {
  TempDir tmp;
  for (const char* name : {"a.py", ".py", "b.PY", "..c.py", "d.py.txt", "e.ipynb", ".ipynb",
                           "zero3.json", "Ds_Config.json", "zero.JSON", "package.json", "f",
                           "g.pyi", "..dir/h.py", ".hidden/i.py", "j.k/l.py"})
    tmp.write(name, "");
  ConfigResolver configs(std::nullopt, true);
  Discovery d = discover({"."}, configs, {}, tmp.path());
  CHECK(d.errors.empty());
  // "..c.py" and "..dir" would be shown relative as "..c.py" and "..dir/h.py"; like a path
  // above the current directory, they are shown whole.
  const std::string abs = tmp.path().string() + "/";
  std::vector<std::string> want = {
      abs + "..c.py", abs + "..dir/h.py", ".hidden/i.py", "Ds_Config.json",
      "a.py",         "e.ipynb",          "j.k/l.py",     "zero3.json"};
  std::sort(want.begin(), want.end());
  CHECK(names(d) == want);
  check_paths(d, tmp.path());
  for (const auto& f : d.files) {
    INFO(f.display);
    CHECK(f.kind == kind_for(f.absolute));
  }
}

TEST_CASE("discovery: walking from above and beside the current directory", "[cli][discovery]") {
  TempDir tmp;
  tmp.write("top.py", "");
  tmp.write("a/b/in_cwd.py", "");
  tmp.write("a/b/c/deeper.py", "");
  tmp.write("a/beside.py", "");
  tmp.write("x/other.py", "");
  const fs::path cwd = tmp.path() / "a/b";
  ConfigResolver configs(std::nullopt, true);
  // From the root above: the walk comes down into the current directory, whose files are shown
  // relative to it.
  Discovery up = discover({"../.."}, configs, {}, cwd);
  CHECK(up.errors.empty());
  CHECK(names(up) == std::vector<std::string>{
                         tmp.path().string() + "/a/beside.py", tmp.path().string() + "/top.py",
                         tmp.path().string() + "/x/other.py", "c/deeper.py", "in_cwd.py"});
  check_paths(up, cwd);
  // The same, the current directory spelled with a trailing slash.
  Discovery slash = discover({"../.."}, configs, {}, cwd.string() + "/");
  CHECK(names(slash) == names(up));
  check_paths(slash, cwd.string() + "/");
  Discovery side = discover({"../../x", "."}, configs, {}, cwd);
  CHECK(names(side) ==
        std::vector<std::string>{tmp.path().string() + "/x/other.py", "c/deeper.py", "in_cwd.py"});
  check_paths(side, cwd);
  // The file system root as the current directory.
  Discovery root = discover({tmp.path().string() + "/a"}, configs, {}, "/");
  REQUIRE(root.files.size() == 3);
  CHECK(root.files[0].display == tmp.path().relative_path().string() + "/a/b/c/deeper.py");
  check_paths(root, "/");
}

TEST_CASE("discovery: symbolic links", "[cli][discovery]") {
  TempDir tmp;
  tmp.write("src/real.py", "");
  tmp.write("src/notes.txt", "");
  tmp.write("outside/lib/far.py", "");
  fs::create_symlink(tmp.path() / "src/real.py", tmp.path() / "src/alias.py");
  fs::create_symlink(tmp.path() / "src/notes.txt", tmp.path() / "src/notes.py.txt");
  fs::create_symlink(tmp.path() / "src/gone.py", tmp.path() / "src/dangling.py");
  fs::create_directory_symlink(tmp.path() / "outside/lib", tmp.path() / "src/linked");
  fs::create_directory_symlink(tmp.path() / "outside/lib", tmp.path() / "src/build");
  fs::create_directory_symlink(tmp.path() / "src/missing", tmp.path() / "src/broken_dir");
  ConfigResolver configs(std::nullopt, true);
  Discovery d = discover({"src"}, configs, {}, tmp.path());
  CHECK(d.errors.empty());
  // A link to a file is a file by the link's name; a link to a directory is walked under its
  // name, unless that name is one never walked; broken links are passed over.
  CHECK(names(d) == std::vector<std::string>{"src/alias.py", "src/linked/far.py", "src/real.py"});
  check_paths(d, tmp.path());
  // Reached twice, a directory is walked once: under the name met first.
  Discovery both = discover({"outside", "src"}, configs, {}, tmp.path());
  CHECK(names(both) ==
        std::vector<std::string>{"outside/lib/far.py", "src/alias.py", "src/real.py"});
}

TEST_CASE("discovery: a directory that cannot be read", "[cli][discovery]") {
  TempDir tmp;
  tmp.write("ok.py", "");
  tmp.write("locked/hidden.py", "");
  tmp.write("locked/inner/deep.py", "");
  ConfigResolver configs(std::nullopt, true);
  const fs::path locked = tmp.path() / "locked";
  REQUIRE(::chmod(locked.c_str(), 0) == 0);
  auto expect = [&](const Discovery& d) {
    CHECK(names(d) == std::vector<std::string>{"ok.py"});
    REQUIRE(d.errors.size() == 1);
    CHECK(d.errors[0].path == "locked");
    CHECK(d.errors[0].message == "Permission denied");
  };
  if (::geteuid() != 0) {
    expect(discover({"."}, configs, {}, tmp.path()));
  } else {
    // Root reads any directory; walk as `nobody` in a child process instead.
    ::chmod(tmp.path().c_str(), 0755);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
      Discovery d = discover({"."}, configs, {}, tmp.path());
      bool ok = names(d) == std::vector<std::string>{"ok.py"} && d.errors.size() == 1 &&
                d.errors[0].path == "locked" && d.errors[0].message == "Permission denied";
      ::_exit(ok ? 0 : 1);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 3) {
      WARN("cannot switch to uid 65534 here; the unreadable directory is not checked");
    } else {
      CHECK(WEXITSTATUS(status) == 0);
    }
  }
  ::chmod(locked.c_str(), 0755);
}

TEST_CASE("discovery: .gitignore when the walk starts below or outside the work tree root",
          "[cli][discovery]") {
  TempDir tmp;
  const fs::path repo = tmp.path() / "repo";
  fs::create_directories(repo);
  git_init(repo);
  tmp.write("repo/.gitignore", "/src/gen/\n*_pb2.py\n");
  tmp.write("repo/src/gen/a.py", "");
  tmp.write("repo/src/gen2/b.py", "");
  tmp.write("repo/src/c_pb2.py", "");
  tmp.write("repo/src/d.py", "");
  tmp.write("repo/gen/e.py", "");
  ConfigResolver configs(std::nullopt, true);
  const std::vector<std::string> kept = {"gen/e.py", "src/d.py", "src/gen2/b.py"};
  CHECK(names(discover({"."}, configs, {}, repo)) == kept);
  CHECK(names(discover({"."}, configs, {}, repo / "src")) ==
        std::vector<std::string>{"d.py", "gen2/b.py"});
  // From outside the work tree, given by a relative path.
  std::vector<std::string> outside;
  for (const auto& k : kept)
    outside.push_back("repo/" + k);
  CHECK(names(discover({"repo"}, configs, {}, tmp.path())) == outside);
}
