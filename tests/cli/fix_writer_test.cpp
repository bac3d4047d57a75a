#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "cli/cli_test_support.h"
#include "cli/diff.h"
#include "cli/file_checker.h"
#include "cli/fix_writer.h"
#include "fixture_support.h"

using namespace oomlint::cli;
using oomlint::test::TempDir;
namespace fs = std::filesystem;

TEST_CASE("fix writer: line endings follow the file", "[cli][fix]") {
  CHECK(dominant_line_ending("a\r\nb\r\n") == LineEnding::CrLf);
  CHECK(dominant_line_ending("a\nb\r\nc\n") == LineEnding::Lf);
  CHECK(dominant_line_ending("") == LineEnding::Lf);
  CHECK(match_line_endings("a\r\nb\r\n", "a\r\nx\ny\r\nb\r\n") == "a\r\nx\r\ny\r\nb\r\n");
  CHECK(match_line_endings("a\nb\n", "a\nx\nb\n") == "a\nx\nb\n");
  CHECK(match_line_endings("a\rb\r", "a\rx\nb\r") == "a\rx\rb\r");
}

TEST_CASE("fix writer: atomic write keeps the mode, refuses a changed file", "[cli][fix]") {
  TempDir tmp;
  fs::path p = tmp.write("a.py", "old\n");
  ::chmod(p.c_str(), 0750);
  CHECK(write_file_atomically(p, "old\n", "new\n").empty());
  CHECK(oomlint::test::read_file(p) == "new\n");
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0750);
  // Someone changed it after we read "old": leave it alone.
  CHECK_FALSE(write_file_atomically(p, "old\n", "newer\n").empty());
  CHECK(oomlint::test::read_file(p) == "new\n");
  // No temporary files left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(tmp.path()))
    ++entries;
  CHECK(entries == 1);
  // Through a symlink: the target changes, the link stays.
  fs::create_symlink(p, tmp.path() / "link.py");
  CHECK(write_file_atomically(tmp.path() / "link.py", "new\n", "via link\n").empty());
  CHECK(fs::is_symlink(tmp.path() / "link.py"));
  CHECK(oomlint::test::read_file(p) == "via link\n");
}

TEST_CASE("fix writer: --fix on the OOM203 fixture matches OOM203.fixed.py", "[cli][fix]") {
  TempDir tmp;
  std::string src =
      oomlint::test::read_file(oomlint::test::source_dir() / "tests/fixtures/OOM203.py");
  std::string expected =
      oomlint::test::read_file(oomlint::test::source_dir() / "tests/fixtures/OOM203.fixed.py");
  fs::path p = tmp.write("OOM203.py", src);
  oomlint::checks::Settings settings;
  settings.select = {"OOM203"};
  oomlint::checks::Engine engine{settings};
  FileJob job;
  job.path = p;
  job.display = "OOM203.py";
  job.absolute = p.string();
  job.engine = &engine;
  FixOptions safe_only{FixMode::Apply, false, false};
  auto first = check_file(job, safe_only); // OOM203's fix is unsafe: nothing changes
  CHECK(first.fixed == 0);
  CHECK(oomlint::test::read_file(p) == src);
  CHECK_FALSE(first.findings.empty());

  FixOptions diff{FixMode::Diff, true, false};
  auto d = check_file(job, diff);
  CHECK(d.diff.find("-        torch.cuda.empty_cache()  # expect: OOM203\n") != std::string::npos);
  CHECK(oomlint::test::read_file(p) == src); // --diff writes nothing

  FixOptions unsafe{FixMode::Apply, true, false};
  auto fixed = check_file(job, unsafe);
  CHECK(fixed.errors.empty());
  CHECK(fixed.fixed > 0);
  CHECK(oomlint::test::read_file(p) == expected);
  auto again = check_file(job, unsafe);
  CHECK(again.fixed == 0);
  CHECK(oomlint::test::read_file(p) == expected);

  // CRLF and a BOM survive.
  std::string crlf = "\xEF\xBB\xBF";
  for (char c : src) {
    if (c == '\n')
      crlf += "\r\n";
    else
      crlf += c;
  }
  tmp.write("OOM203.py", crlf);
  auto c = check_file(job, unsafe);
  CHECK(c.fixed == fixed.fixed);
  std::string out = oomlint::test::read_file(p);
  CHECK(out.starts_with("\xEF\xBB\xBF"));
  CHECK(out.find("\r\n") != std::string::npos);
  size_t bare = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '\n' && (i == 0 || out[i - 1] != '\r')) ++bare;
  }
  CHECK(bare == 0);
}

TEST_CASE("diff: unified hunks", "[cli][diff]") {
  CHECK(unified_diff("a\nb\n", "a\nb\n", "x", "x").empty());
  std::string d =
      unified_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n", "f", "f");
  CHECK(d == "--- f\n+++ f\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n");
  std::string e = unified_diff("a", "b", "f", "f");
  CHECK(e.find("\\ No newline at end of file") != std::string::npos);
}
