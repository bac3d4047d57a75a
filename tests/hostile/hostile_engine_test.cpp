// Hostile inputs to the engine and to `oomlint check`'s per-file path (read, check, fix, write),
// one test case each. Every case must give a clear error or a clean result, and the ordinary
// finding around the hostile part must still be reported at the right place.
// The 50 MB file is tested on the real binary only (tests/integration/hostile_cli.sh).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <random>

#include "cli/cli_test_support.h"
#include "cli/discovery.h"
#include "cli/file_checker.h"
#include "engine/engine.h"
#include "fixture_support.h"
#include "hostile/hostile_support.h"

using namespace oomlint::cli;
using oomlint::test::kRow;
using oomlint::test::kTrain;
using oomlint::test::kTrainFixed;
using oomlint::test::replace_all;
using oomlint::test::TempDir;
namespace fs = std::filesystem;

namespace {

struct Result {
  FileOutcome outcome;
  std::string after; // the file after the run
};

// Runs the per-file path of `oomlint check` (OOM203 only) on a file holding `raw`.
Result check_raw(const std::string& raw, FixMode mode = FixMode::None) {
  TempDir tmp;
  fs::path p = tmp.write("t.py", raw);
  oomlint::checks::Settings settings;
  settings.select = {"OOM203"};
  oomlint::checks::Engine engine{settings};
  FileJob job;
  job.path = p;
  job.display = "t.py";
  job.absolute = p.string();
  job.engine = &engine;
  FixOptions options;
  options.mode = mode;
  options.unsafe = true;
  Result r;
  r.outcome = check_file(job, options);
  r.after = oomlint::test::read_file(p);
  return r;
}

// (row, column) of every OOM203 finding.
std::vector<std::pair<uint32_t, uint32_t>> positions(const FileOutcome& o) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  for (const auto& f : o.findings) {
    if (f.diagnostic.code == "OOM203") out.emplace_back(f.location.row, f.location.column);
  }
  return out;
}

using Positions = std::vector<std::pair<uint32_t, uint32_t>>;

} // namespace

TEST_CASE("hostile: 100,000 nested brackets", "[hostile][engine]") {
  constexpr size_t kDepth = 100000;
  SECTION("balanced, before ordinary code") {
    std::string raw =
        "x = " + std::string(kDepth, '(') + "1" + std::string(kDepth, ')') + "\n" + kTrain;
    Result r = check_raw(raw);
    CHECK(r.outcome.errors.empty());
    CHECK(positions(r.outcome) == Positions{{kRow + 1, 9}});
    Result fixed = check_raw(raw, FixMode::Apply);
    CHECK(fixed.outcome.errors.empty());
    CHECK(fixed.after == raw.substr(0, raw.size() - kTrain.size()) + kTrainFixed);
  }
  SECTION("mixed kinds, inside the training loop") {
    std::string open, close;
    for (size_t i = 0; i < kDepth; ++i) {
      open += "([{"[i % 3];
      close.insert(close.begin(), ")]}"[i % 3]);
    }
    std::string raw = replace_all(kTrain, "        optimizer.step()\n",
                                  "        y = " + open + close + "\n        optimizer.step()\n");
    Result r = check_raw(raw);
    CHECK(r.outcome.errors.empty());
    CHECK(positions(r.outcome) == Positions{{kRow, 9}});
  }
  SECTION("never closed, after ordinary code") {
    std::string raw = kTrain + "z = " + std::string(kDepth, '[') + "\n";
    Result r = check_raw(raw);
    CHECK(r.outcome.errors.empty());
    // The file does not parse; the engine reports what it can and never crashes.
    for (const auto& [row, col] : positions(r.outcome))
      CHECK(row == kRow);
    // A fix must not be applied on top of a syntax error it cannot vouch for... or, if applied,
    // leave the unclosed tail as it was.
    Result fixed = check_raw(raw, FixMode::Apply);
    CHECK(fixed.after.ends_with("z = " + std::string(kDepth, '[') + "\n"));
  }
}

TEST_CASE("hostile: 100,000 nested calls inside a training loop", "[hostile][engine]") {
  // Every level is a call in a step loop, so every level asks the engine for its loop, function
  // and grad mode: those answers must not walk all the ancestors each time (that took 38 s at
  // 20,000 levels). A hang here shows as the test timing out.
  constexpr size_t kDepth = 100000;
  std::string nested;
  nested.reserve(kDepth * 3 + 8);
  for (size_t i = 0; i < kDepth; ++i)
    nested += "f(";
  nested += "batch";
  nested += std::string(kDepth, ')');
  std::string raw = replace_all(kTrain, "        optimizer.step()\n",
                                "        total += " + nested + "\n        optimizer.step()\n");
  // The whole catalogue, every rule on every node.
  oomlint::checks::Engine engine{oomlint::checks::Settings{}};
  auto diags = engine.check(raw, /*no_prefilter=*/true);
  bool found = false;
  for (const auto& d : diags)
    found = found || (d.code == "OOM203" && d.start_pos.line == kRow && d.start_pos.column == 9);
  CHECK(found);
}

TEST_CASE("hostile: a one-million-character line", "[hostile][engine]") {
  constexpr size_t kLong = 1000000;
  SECTION("a string literal line before ordinary code") {
    std::string raw = "s = '" + std::string(kLong, 'a') + "'\n" + kTrain;
    Result r = check_raw(raw);
    CHECK(r.outcome.errors.empty());
    CHECK(positions(r.outcome) == Positions{{kRow + 1, 9}});
    Result fixed = check_raw(raw, FixMode::Apply);
    CHECK(fixed.after == "s = '" + std::string(kLong, 'a') + "'\n" + kTrainFixed);
  }
  SECTION("the finding itself at the end of the long line") {
    // `pad = '...'; torch.cuda.empty_cache()` inside the loop: the column is past one million.
    std::string pad = "pad = '" + std::string(kLong, 'b') + "'; ";
    std::string raw = replace_all(kTrain, "        torch.cuda.empty_cache()\n",
                                  "        " + pad + "torch.cuda.empty_cache()\n");
    Result r = check_raw(raw);
    CHECK(r.outcome.errors.empty());
    CHECK(positions(r.outcome) == Positions{{kRow, static_cast<uint32_t>(9 + pad.size())}});
  }
  SECTION("one long expression: 1+1+...+1 (a very deep left-nested tree)") {
    std::string expr = "e = 1";
    while (expr.size() < kLong)
      expr += "+1";
    std::string raw = expr + "\n" + kTrain;
    Result r = check_raw(raw);
    CHECK(r.outcome.errors.empty());
    CHECK(positions(r.outcome) == Positions{{kRow + 1, 9}});
  }
}

TEST_CASE("hostile: NUL bytes", "[hostile][engine]") {
  SECTION("in a comment and a string of otherwise ordinary code") {
    std::string raw = replace_all(kTrain, "optimizer.step()\n",
                                  std::string("optimizer.step()  # \0\0 nul\n", 27));
    raw = std::string("s = '\0'\n", 8) + raw;
    Result r = check_raw(raw);
    CHECK(r.outcome.errors.empty());
    CHECK(positions(r.outcome) == Positions{{kRow + 1, 9}});
    Result fixed = check_raw(raw, FixMode::Apply);
    CHECK(fixed.outcome.errors.empty());
    CHECK(fixed.after.size() + 33 == raw.size()); // the empty_cache() line is gone, NULs kept
    CHECK(fixed.after.find('\0') != std::string::npos);
  }
  SECTION("a file of NUL bytes only") {
    Result r = check_raw(std::string(100000, '\0'));
    CHECK(r.outcome.errors.empty());
    CHECK(r.outcome.findings.empty());
  }
  SECTION("NUL right after the finding on its line") {
    std::string raw = replace_all(kTrain, "empty_cache()\n", std::string("empty_cache()\0\n", 15));
    Result r = check_raw(raw);
    CHECK(r.outcome.errors.empty());
    Result fixed = check_raw(raw, FixMode::Apply);
    CHECK(fixed.outcome.errors.empty()); // fixed or left alone, never damaged
    CHECK((fixed.after == raw || fixed.after.find("empty_cache") == std::string::npos));
  }
}

TEST_CASE("hostile: invalid UTF-8", "[hostile][engine]") {
  // Overlong, truncated, lone continuation bytes, surrogates encoded in UTF-8, 0xFF.
  const std::string junk = "\xC0\xAF \xE2\x82 \x80\x80 \xED\xA0\x80 \xFF\xFE \xF4\x90\x80\x80";
  // Bytes that can start no sequence: one column each.
  const std::string stray = "\xFF\xFE\x80\x80";
  std::string raw =
      "s = '" + junk + "'  # " + junk + "\n" +
      replace_all(kTrain, "        torch.cuda", "        x = '" + stray + "'; torch.cuda");
  Result r = check_raw(raw);
  CHECK(r.outcome.errors.empty());
  auto pos = positions(r.outcome);
  REQUIRE(pos.size() == 1);
  CHECK(pos[0].first == kRow + 1);
  // Columns count code points; each stray byte counts as one.
  CHECK(pos[0].second == 9 + 8 + stray.size());
  REQUIRE(r.outcome.findings.size() == 1);
  CHECK(r.outcome.findings[0].line_text.find("torch.cuda.empty_cache()") != std::string::npos);
  // (OOM203 offers no fix for a call that shares its line with another statement.)
  std::string own_line = "s = '" + junk + "'  # " + junk + "\n" + kTrain;
  Result fixed = check_raw(own_line, FixMode::Apply);
  CHECK(fixed.outcome.errors.empty());
  CHECK(fixed.after == "s = '" + junk + "'  # " + junk + "\n" + kTrainFixed);
}

TEST_CASE("hostile: a byte order mark", "[hostile][engine]") {
  const std::string bom = "\xEF\xBB\xBF";
  Result r = check_raw(bom + kTrain);
  CHECK(r.outcome.errors.empty());
  CHECK(positions(r.outcome) == Positions{{kRow, 9}}); // the BOM is not a column
  Result fixed = check_raw(bom + kTrain, FixMode::Apply);
  CHECK(fixed.after == bom + kTrainFixed);
  // A BOM in the middle of a file is just a strange character, not a crash.
  Result middle = check_raw(kTrain + bom + "x = 1\n");
  CHECK(middle.outcome.errors.empty());
  CHECK(positions(middle.outcome) == Positions{{kRow, 9}});
  // A file that is only a BOM.
  Result only = check_raw(bom);
  CHECK(only.outcome.errors.empty());
  CHECK(only.outcome.findings.empty());
}

TEST_CASE("hostile: CRLF line endings", "[hostile][engine]") {
  std::string raw = replace_all(kTrain, "\n", "\r\n");
  Result r = check_raw(raw);
  CHECK(r.outcome.errors.empty());
  CHECK(positions(r.outcome) == Positions{{kRow, 9}});
  REQUIRE(r.outcome.findings.size() == 1);
  CHECK(r.outcome.findings[0].line_text.find('\r') == std::string::npos);
  Result fixed = check_raw(raw, FixMode::Apply);
  CHECK(fixed.after == replace_all(kTrainFixed, "\n", "\r\n"));
}

TEST_CASE("hostile: lone CR line endings", "[hostile][engine]") {
  std::string raw = replace_all(kTrain, "\n", "\r");
  Result r = check_raw(raw);
  CHECK(r.outcome.errors.empty());
  CHECK(positions(r.outcome) == Positions{{kRow, 9}});
  Result fixed = check_raw(raw, FixMode::Apply);
  CHECK(fixed.after == replace_all(kTrainFixed, "\n", "\r"));
  // Mixed: CR, LF and CRLF in one file; rows follow every kind of line break.
  std::string mixed = "import torch\r\rdef train(model, loader, optimizer):\r\n"
                      "    for batch in loader:\n        model(batch).sum().backward()\r"
                      "        torch.cuda.empty_cache()\r\n        optimizer.step()\n";
  Result m = check_raw(mixed);
  CHECK(positions(m.outcome) == Positions{{kRow, 9}});
}

TEST_CASE("hostile: a binary file named .py", "[hostile][engine]") {
  std::mt19937 rng(7);
  std::string raw(256 * 1024, '\0');
  for (auto& c : raw)
    c = static_cast<char>(rng() & 0xFF);
  Result r = check_raw(raw);
  CHECK(r.outcome.errors.empty());
  Result fixed = check_raw(raw, FixMode::Apply);
  CHECK(fixed.outcome.errors.empty());
  CHECK(fixed.after == raw); // nothing to fix in noise; the bytes are untouched
  // An ELF-like header followed by ordinary code: still read and checked.
  std::string elf = std::string("\x7F"
                                "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\n",
                                17) +
                    kTrain;
  Result e = check_raw(elf);
  CHECK(e.outcome.errors.empty());
}

TEST_CASE("hostile: a symlink loop in the tree", "[hostile][engine]") {
  TempDir tmp;
  tmp.write("pkg/ok.py", kTrain);
  fs::create_symlink("self.py", tmp.path() / "pkg/self.py"); // a file link to itself
  fs::create_symlink("b.py", tmp.path() / "pkg/a.py");       // a.py -> b.py -> a.py
  fs::create_symlink("a.py", tmp.path() / "pkg/b.py");
  fs::create_directory_symlink("..", tmp.path() / "pkg/parent"); // a directory cycle
  ConfigResolver configs(std::nullopt, true);
  // Walking the tree: the looping links are skipped, the real file is found once.
  Discovery walked = discover({"."}, configs, {}, tmp.path());
  CHECK(walked.errors.empty());
  REQUIRE(walked.files.size() == 1);
  CHECK(walked.files[0].display == "pkg/ok.py");
  // Naming a looping link explicitly: a clear error, the other file is still checked.
  Discovery named = discover({"pkg/self.py", "pkg/a.py", "pkg/ok.py"}, configs, {}, tmp.path());
  REQUIRE(named.errors.size() == 2);
  for (const auto& e : named.errors)
    CHECK(e.message.find("symbolic links") != std::string::npos);
  REQUIRE(named.files.size() == 1);
  std::string error;
  CHECK_FALSE(read_source_file(tmp.path() / "pkg/self.py", error));
  CHECK(error.find("symbolic links") != std::string::npos);
}

TEST_CASE("hostile: an unreadable file", "[hostile][engine]") {
  TempDir tmp;
  fs::path p = tmp.write("locked.py", kTrain);
  REQUIRE(::chmod(p.c_str(), 0) == 0);
  if (::geteuid() != 0) {
    std::string error;
    CHECK_FALSE(read_source_file(p, error));
    CHECK(error == "Permission denied");
  } else {
    // Root reads mode-000 files; check as `nobody` in a child process instead.
    ::chmod(tmp.path().c_str(), 0755);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
      std::string error;
      auto data = read_source_file(p, error);
      ::_exit(data ? 1 : error == "Permission denied" ? 0 : 2);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 3) {
      WARN("cannot switch to uid 65534 here; the unreadable-file case is checked by "
           "tests/integration/hostile_cli.sh");
    } else {
      CHECK(WEXITSTATUS(status) == 0);
    }
  }
  // Root or not: a directory named like a source file, and a path that is not there.
  fs::create_directory(tmp.path() / "dir.py");
  std::string error;
  CHECK_FALSE(read_source_file(tmp.path() / "dir.py", error));
  CHECK(error == "is a directory");
  CHECK_FALSE(read_source_file(tmp.path() / "missing.py", error));
  CHECK(error == "No such file or directory");
  ::chmod(p.c_str(), 0644);
}
