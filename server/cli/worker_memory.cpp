#include "cli/worker_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace oomlint::cli {

namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kOwnAllocator = false; // the sanitizer's allocator replaces glibc's
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kOwnAllocator = false;
#else
constexpr bool kOwnAllocator = true;
#endif
#else
constexpr bool kOwnAllocator = true;
#endif

// glibc's non-main arenas live in heaps of HEAP_MAX_SIZE bytes aligned to their size:
// 2 * DEFAULT_MMAP_THRESHOLD_MAX, which is 64 MB on 64-bit targets.
constexpr uintptr_t kGlibcHeapSize = uintptr_t{64} << 20;

} // namespace

void prepare_worker_allocator() {
#if defined(__GLIBC__)
  if (kOwnAllocator) ::mallopt(M_TOP_PAD, 64 << 20);
#endif
}

bool tunes_glibc_malloc() {
#if defined(__GLIBC__)
  return kOwnAllocator;
#else
  return false;
#endif
}

bool hint_huge_pages_for_this_thread() {
#if defined(__GLIBC__) && defined(MADV_HUGEPAGE)
  if (!kOwnAllocator || sizeof(void*) != 8) return false;
  // A block from this thread's arena, held until the end.
  std::unique_ptr<void, decltype(&std::free)> probe(std::malloc(64), &std::free);
  if (!probe) return false;
  const uintptr_t address = reinterpret_cast<uintptr_t>(probe.get());
  // The main arena grows with brk() and lies below the program break; glibc heaps are mmap()ed
  // above it. Memory around the main arena is not ours to advise.
  if (address < reinterpret_cast<uintptr_t>(::sbrk(0))) return false;
  const uintptr_t base = address & ~(kGlibcHeapSize - 1);
  // Only a range that is mapped from end to end: mincore() fails with ENOMEM on any hole, and
  // has no effect otherwise. Foreign layouts fail this test.
  long page = ::sysconf(_SC_PAGESIZE);
  if (page <= 0) return false;
  std::vector<unsigned char> resident(kGlibcHeapSize / static_cast<uintptr_t>(page));
  if (::mincore(reinterpret_cast<void*>(base), kGlibcHeapSize, resident.data()) != 0) return false;
  return ::madvise(reinterpret_cast<void*>(base), kGlibcHeapSize, MADV_HUGEPAGE) == 0;
#else
  return false;
#endif
}

} // namespace oomlint::cli
