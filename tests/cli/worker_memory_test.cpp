#include <catch2/catch.hpp>

#include <fcntl.h>
#include <link.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
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
