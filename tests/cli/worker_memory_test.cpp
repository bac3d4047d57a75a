#include <catch2/catch.hpp>

#include <fcntl.h>
#include <link.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "cli/worker_memory.h"

using namespace oomlint::cli;

namespace {

// The VmFlags line of the /proc/self/smaps entry that maps `address`, or "" if none does.
std::string vm_flags_of(uintptr_t address) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long long lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-' && line.find(':') > line.find(' ')) {
      inside = address >= lo && address < hi;
      continue;
    }
    if (inside && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return {};
}

// The first two tests assert what the hints do to a fresh malloc arena: the main arena as a
// process starts, and the arena of the first thread a process starts. They cannot assert it in
// a process where other tests ran first. There the main arena holds free blocks those tests left,
// which a new block may be carved from instead of the advised top; and glibc gives a new thread
// the arena of a thread that has exited (its free list comes before a new arena), whose top is
// wherever that thread left it. Run in the whole binary, shuffled, the main-heap test failed in 6
// of 7 runs. So each of them runs its body in a new process of this binary, alone.
constexpr const char* kFreshProcessVariable = "OOMLINT_TEST_FRESH_PROCESS";

bool in_fresh_process() {
  const char* v = std::getenv(kFreshProcessVariable);
  return v != nullptr && std::string_view(v) == "1";
}

// Runs the current test case alone in a new process of this test binary (with
// kFreshProcessVariable set, so that it runs the body there) and checks that it passed.
void run_in_fresh_process() {
  std::string name = Catch::getResultCapture().getCurrentTestName();
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e)
    env_strings.emplace_back(*e);
  env_strings.push_back(std::string(kFreshProcessVariable) + "=1");
  std::vector<char*> envp;
  for (auto& e : env_strings)
    envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe", colour_flag = "--use-colour", colour = "no";
  std::vector<char*> argv{exe.data(), name.data(), colour_flag.data(), colour.data(), nullptr};

  int out[2];
  REQUIRE(pipe(out) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(out[1]);
  std::string output;
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;)
    output.append(buf, static_cast<size_t>(n));
  close(out[0]);
  REQUIRE(spawned == 0);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  INFO("the test alone in a new process (" << kFreshProcessVariable << "=1 " << exe << " \"" << name
                                           << "\") said:\n"
                                           << output);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // It ran this test case, and no other.
  CHECK(output.find("1 test case") != std::string::npos);
}

bool kernel_offers_huge_pages() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(f, modes);
  return !modes.empty() && modes.find("[never]") == std::string::npos;
}

} // namespace

TEST_CASE("worker memory: a worker thread's malloc arena is advised to use huge pages") {
  if (!in_fresh_process()) {
    run_in_fresh_process();
    return;
  }
  // The worker below is the first thread of this process: glibc gives it a new arena.
  prepare_worker_allocator();
  bool advised = false;
  std::string flags;
  uintptr_t address = 0;
  std::thread worker([&] {
    advised = hint_huge_pages_for_this_thread();
    std::unique_ptr<char[]> block(new char[1 << 20]); // where the worker's parse trees go
    address = reinterpret_cast<uintptr_t>(block.get());
    flags = vm_flags_of(address);
  });
  worker.join();
  if (!tunes_glibc_malloc()) {
    CHECK_FALSE(advised); // a sanitizer's allocator: nothing to tune
    return;
  }
  REQUIRE(kernel_offers_huge_pages() == advised);
  if (advised) {
    INFO(flags);
    CHECK(flags.find(" hg") != std::string::npos);
    // The arena was padded to the next 2 MB boundary, so the block starts there, after malloc's
    // 16-byte header: no part of a range whose first page was already in use.
    CHECK(address % (uintptr_t{2} << 20) == 16);
  }
}

TEST_CASE("worker memory: the main heap hint gives the main arena's next blocks huge pages") {
  if (!in_fresh_process()) {
    run_in_fresh_process();
    return;
  }
  // As at the start of `oomlint check`: only start-up has used the main arena.
  prepare_worker_allocator();
  bool advised = hint_huge_pages_for_main_heap();
  if (!tunes_glibc_malloc()) {
    CHECK_FALSE(advised);
    return;
  }
  REQUIRE(kernel_offers_huge_pages() == advised);
  if (!advised) return;
  std::unique_ptr<char[]> block(new char[4 << 20]); // the size of a large results cache
  uintptr_t address = reinterpret_cast<uintptr_t>(block.get());
  std::string flags = vm_flags_of(address);
  INFO(flags);
  CHECK(flags.find(" hg") != std::string::npos);
  CHECK(address % (uintptr_t{2} << 20) == 16);
}

TEST_CASE("worker memory: the main thread's arena is not a glibc heap and is left alone") {
  // The main arena grows with brk(), not in a 64 MB-aligned mapping: the hint must decline
  // rather than advise whatever memory happens to lie around it.
  std::unique_ptr<char[]> block(new char[4096]);
  std::string before = vm_flags_of(reinterpret_cast<uintptr_t>(block.get()));
  bool advised = hint_huge_pages_for_this_thread();
  std::string after = vm_flags_of(reinterpret_cast<uintptr_t>(block.get()));
  CHECK_FALSE(advised);
  CHECK(before == after);
}

TEST_CASE("worker memory: every page of the executable's code and constants gets mapped") {
  size_t mapped = map_executable_now();
  if (mapped == 0) {
    WARN("this kernel has no MADV_POPULATE_READ (before Linux 5.14): nothing to check");
    return;
  }
  // The read-only segments of the executable (this test binary), as dl_iterate_phdr gives them.
  std::vector<std::pair<uintptr_t, uintptr_t>> segments;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        auto* list = static_cast<std::vector<std::pair<uintptr_t, uintptr_t>>*>(out);
        for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type == PT_LOAD && !(ph.p_flags & PF_W) && ph.p_memsz > 0)
            list->emplace_back(info->dlpi_addr + ph.p_vaddr, ph.p_memsz);
        }
        return 1;
      },
      &segments);
  REQUIRE_FALSE(segments.empty());
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  size_t total = 0;
  for (auto [begin, size] : segments)
    total += ((begin + size + page - 1) & ~(page - 1)) - (begin & ~(page - 1));
  CHECK(mapped == total);
  // /proc/self/pagemap: one 64-bit word per page, bit 63 set when the page is in the page table
  // (readable without privileges; only the frame numbers are hidden).
  int fd = open("/proc/self/pagemap", O_RDONLY);
  REQUIRE(fd >= 0);
  size_t pages = 0, present = 0;
  for (auto [begin, size] : segments) {
    for (uintptr_t p = begin & ~(page - 1); p < begin + size; p += page) {
      uint64_t word = 0;
      REQUIRE(pread(fd, &word, sizeof word, static_cast<off_t>(p / page * sizeof word)) ==
              sizeof word);
      ++pages;
      present += (word >> 63) & 1;
    }
  }
  close(fd);
  CHECK(pages * page == total);
  CHECK(present == pages);
}
