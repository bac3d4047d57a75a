// libgit2, opened with dlopen() the first time something needs it (a directory walk's .gitignore
// matching, SARIF's source root). Linking it would make every start pay for loading it and the
// twenty libraries it needs (mbedtls, libssh2, krb5, OpenSSL, ...): about 10 ms, most of the
// time `oomlint check one_file.py` takes, which the pre-commit hook pays once per commit.
//
// The function types come from <git2.h>, so the build still checks every call against the
// headers of the libgit2 whose soname (OOMLINT_LIBGIT2_SONAME, read from its libgit2.so at
// configure time) is loaded.
#pragma once

#include <git2.h>

#include <filesystem>
#include <optional>
#include <string>

namespace oomlint::cli {

// The functions oomlint calls, resolved from the loaded library.
struct Libgit2 {
  decltype(&::git_libgit2_init) libgit2_init = nullptr;
  decltype(&::git_libgit2_shutdown) libgit2_shutdown = nullptr;
  decltype(&::git_repository_open_ext) repository_open_ext = nullptr;
  decltype(&::git_repository_free) repository_free = nullptr;
  decltype(&::git_repository_is_bare) repository_is_bare = nullptr;
  decltype(&::git_repository_workdir) repository_workdir = nullptr;
  decltype(&::git_ignore_path_is_ignored) ignore_path_is_ignored = nullptr;
};

// The soname oomlint loads, e.g. "libgit2.so.1.5".
const char* libgit2_soname();

// Opens `soname` and resolves every function of Libgit2. On failure returns nullopt and sets
// `error` to a message naming the library and what is missing. The library is never closed.
std::optional<Libgit2> load_libgit2(const char* soname, std::string& error);

// The process's libgit2 (libgit2_soname()), loaded once, on the first call (thread-safe). nullptr
// when it cannot be loaded; `error` then says why (the caller says what needed it).
const Libgit2* libgit2(std::string& error);

// Can `dir` be in a git work tree? A work tree has a `.git` entry (a directory, or a file for
// worktrees and submodules) in its root, at or above `dir`; only $GIT_DIR points elsewhere. When
// neither is there, libgit2 would find no repository (and .gitignore applies only inside one),
// so callers need not load it: that costs about 10 ms of start-up.
bool may_be_in_git_work_tree(const std::filesystem::path& dir);

} // namespace oomlint::cli
