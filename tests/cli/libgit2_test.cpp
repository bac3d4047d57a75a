#include <catch2/catch.hpp>
#include <string>

#include "cli/libgit2.h"

using namespace oomlint::cli;

TEST_CASE("libgit2: the configured soname loads with every function", "[cli][libgit2]") {
  std::string error = "stale";
  auto git = load_libgit2(libgit2_soname(), error);
  REQUIRE(git);
  CHECK(error.empty());
  CHECK(git->libgit2_init != nullptr);
  CHECK(git->libgit2_shutdown != nullptr);
  CHECK(git->repository_open_ext != nullptr);
  CHECK(git->repository_free != nullptr);
  CHECK(git->repository_is_bare != nullptr);
  CHECK(git->repository_workdir != nullptr);
  CHECK(git->ignore_path_is_ignored != nullptr);
  // The loaded functions work: init counts up, shutdown back down.
  int depth = git->libgit2_init();
  CHECK(depth >= 1);
  CHECK(git->libgit2_shutdown() == depth - 1);
}

TEST_CASE("libgit2: the process-wide library is loaded once", "[cli][libgit2]") {
  std::string error;
  const Libgit2* a = libgit2(error);
  REQUIRE(a);
  CHECK(error.empty());
  CHECK(libgit2(error) == a);
}

TEST_CASE("libgit2: a library that is missing is an error naming it", "[cli][libgit2]") {
  std::string error;
  auto git = load_libgit2("liboomlint-no-such-library.so.0", error);
  CHECK_FALSE(git);
  CHECK(error.find("liboomlint-no-such-library.so.0") != std::string::npos);
}

TEST_CASE("libgit2: a library without libgit2's functions is an error", "[cli][libgit2]") {
  std::string error;
  auto git = load_libgit2("libm.so.6", error);
  CHECK_FALSE(git);
  CHECK(error.find("libm.so.6") != std::string::npos);
  CHECK(error.find("git_libgit2_init") != std::string::npos);
}
