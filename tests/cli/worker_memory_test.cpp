#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

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

bool kernel_offers_huge_pages() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string modes;
  std::getline(f, modes);
  return !modes.empty() && modes.find("[never]") == std::string::npos;
}

} // namespace

TEST_CASE("worker memory: a worker thread's malloc arena is advised to use huge pages") {
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
