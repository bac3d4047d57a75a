#include "cli/libgit2.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>

#if !defined(OOMLINT_LIBGIT2_SONAME) && !defined(OOMLINT_LIBGIT2_STATIC)
#error "OOMLINT_LIBGIT2_SONAME must name the libgit2 to load (set by server/CMakeLists.txt)"
#endif

namespace oomlint::cli {

namespace {

template <typename Fn> bool resolve(void* handle, const char* name, Fn& out, std::string& error) {
  void* sym = ::dlsym(handle, name);
  if (!sym) {
    if (error.empty()) error = std::string("symbol ") + name + " not found";
    return false;
  }
  // POSIX guarantees that a function's address returned by dlsym converts to a function pointer.
  out = reinterpret_cast<Fn>(sym);
  return true;
}

} // namespace

#ifdef OOMLINT_LIBGIT2_STATIC
// Linked in (OOMLINT_LIBGIT2_STATIC, the wheel's build): nothing to load.
const char* libgit2_soname() {
  return "libgit2 (linked in)";
}

std::optional<Libgit2> load_libgit2(const char*, std::string& error) {
  error.clear();
  Libgit2 git;
  git.libgit2_init = &::git_libgit2_init;
  git.libgit2_shutdown = &::git_libgit2_shutdown;
  git.repository_open_ext = &::git_repository_open_ext;
  git.repository_free = &::git_repository_free;
  git.repository_is_bare = &::git_repository_is_bare;
  git.repository_workdir = &::git_repository_workdir;
  git.ignore_path_is_ignored = &::git_ignore_path_is_ignored;
  return git;
}
#else
const char* libgit2_soname() {
  return OOMLINT_LIBGIT2_SONAME;
}

std::optional<Libgit2> load_libgit2(const char* soname, std::string& error) {
  error.clear();
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    error = why ? why : std::string(soname) + ": cannot be loaded";
    return std::nullopt;
  }
  Libgit2 git;
  std::string missing;
  bool ok = resolve(handle, "git_libgit2_init", git.libgit2_init, missing) &&
            resolve(handle, "git_libgit2_shutdown", git.libgit2_shutdown, missing) &&
            resolve(handle, "git_repository_open_ext", git.repository_open_ext, missing) &&
            resolve(handle, "git_repository_free", git.repository_free, missing) &&
            resolve(handle, "git_repository_is_bare", git.repository_is_bare, missing) &&
            resolve(handle, "git_repository_workdir", git.repository_workdir, missing) &&
            resolve(handle, "git_ignore_path_is_ignored", git.ignore_path_is_ignored, missing);
  if (!ok) {
    ::dlclose(handle);
    error = std::string(soname) + ": " + missing;
    return std::nullopt;
  }
  return git;
}

#endif

const Libgit2* libgit2(std::string& error) {
  struct Loaded {
    std::optional<Libgit2> git;
    std::string error;
  };
  static const Loaded loaded = [] {
    Loaded l;
    l.git = load_libgit2(libgit2_soname(), l.error);
    if (!l.git) {
      l.error += std::string(" (install the libgit2 that provides ") + libgit2_soname() + ")";
    }
    return l;
  }();
  if (!loaded.git) {
    error = loaded.error;
    return nullptr;
  }
  error.clear();
  return &*loaded.git;
}

bool may_be_in_git_work_tree(const std::filesystem::path& dir) {
  if (const char* env = std::getenv("GIT_DIR"); env && *env) return true;
  for (std::filesystem::path p = dir;; p = p.parent_path()) {
    struct stat st {};
    if (::lstat((p / ".git").c_str(), &st) == 0) return true;
    if (p == p.parent_path()) return false;
  }
}

} // namespace oomlint::cli
