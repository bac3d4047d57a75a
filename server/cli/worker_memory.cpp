#include "cli/worker_memory.h"

#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "ts_arena.h"

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

constexpr uintptr_t kHugePage = uintptr_t{2} << 20;

// glibc puts a block of n bytes in a chunk of n + 8 bytes rounded up to 16 (32 at least), whose
// user part starts 16 bytes in.
constexpr uintptr_t kChunkHeader = 16;
constexpr uintptr_t chunk_size(uintptr_t n) {
  return std::max<uintptr_t>((n + 8 + 15) & ~uintptr_t{15}, 32);
}

// The block hint_huge_pages_for_this_thread() allocates to find its thread's arena.
constexpr size_t kProbeSize = 64;

#if defined(__GLIBC__)
// Blocks that fill an arena up to a huge-page boundary, held until the process ends.
thread_local void* arena_pad = nullptr;

// The kernel gives a huge page only to a 2 MB-aligned range of which no page is mapped yet. The
// range an arena starts in has its first page in use (the arena's own header, the block just
// freed), so the blocks after it would get 4 KB pages, up to 511 faults. One block that ends at
// the next boundary skips the rest of that range: nothing writes to its inside, which stays
// unmapped and costs no memory. `top` is where the arena's next chunk starts. The block is kept
// only if malloc placed it there (the guess is checked, never trusted).
void pad_to_huge_page(uintptr_t top) {
  const uintptr_t boundary = (top + kHugePage - 1) & ~(kHugePage - 1);
  if (boundary - top < 64) return;             // already there, near enough
  void* pad = std::malloc(boundary - top - 8); // a chunk of exactly boundary - top bytes
  if (pad && reinterpret_cast<uintptr_t>(pad) == top + kChunkHeader) {
    arena_pad = pad;
  } else {
    std::free(pad); // not where it was meant to be: no help, no harm
  }
}
#endif

} // namespace

void prepare_worker_allocator() {
#if defined(__GLIBC__)
  if (!kOwnAllocator) return;
  ::mallopt(M_TOP_PAD, 64 << 20);
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20); // glibc's maximum: half a heap
#endif
}

bool hint_huge_pages_for_main_heap() {
#if defined(__GLIBC__) && defined(MADV_HUGEPAGE)
  if (!kOwnAllocator || sizeof(void*) != 8) return false;
  // A block below the mmap threshold comes from the main arena. When its top is too small,
  // malloc moves the program break up by the block plus the top pad; free() keeps the pad.
  void* block = std::malloc(1 << 20);
  if (!block) return false;
  const uintptr_t low = reinterpret_cast<uintptr_t>(block);
  std::free(block);
  const uintptr_t top = reinterpret_cast<uintptr_t>(::sbrk(0));
  // Everything from the block up to the break is the main arena's. A block above the break,
  // or far below it, means the arena is not (only) a brk() heap: not ours to advise.
  if (low >= top || top - low > (uintptr_t{256} << 20)) return false;
  const uintptr_t begin = (low + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = top & ~(kHugePage - 1);
  if (begin >= end) return false;
  if (::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE) != 0) return false;
  // The freed block went back to the top of the arena, whose next chunk starts at the block's
  // chunk header: pad from there to `begin`, where the advice starts.
  pad_to_huge_page(low - kChunkHeader);
  return true;
#else
  return false;
#endif
}

size_t map_executable_now() {
#if defined(MADV_POPULATE_READ)
  size_t mapped = 0;
  // The first object dl_iterate_phdr() reports is the executable.
  ::dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        const long page = ::sysconf(_SC_PAGESIZE);
        if (page <= 0) return 1;
        const uintptr_t mask = static_cast<uintptr_t>(page) - 1;
        for (ElfW(Half) i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          // Writable segments are private copies: populating them for reading would map the
          // file's pages, to be copied again at the first write.
          if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) || ph.p_memsz == 0) continue;
          const uintptr_t begin = (info->dlpi_addr + ph.p_vaddr) & ~mask;
          const uintptr_t end = (info->dlpi_addr + ph.p_vaddr + ph.p_memsz + mask) & ~mask;
          if (::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_READ) == 0)
            *static_cast<size_t*>(out) += end - begin;
        }
        return 1; // the executable only
      },
      &mapped);
  return mapped;
#else
  return 0;
#endif
}

void release_worker_memory() {
  ts::release_thread_arena();
#if defined(__GLIBC__)
  if (kOwnAllocator) ::malloc_trim(0);
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
  std::unique_ptr<void, decltype(&std::free)> probe(std::malloc(kProbeSize), &std::free);
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
  {
    // Freed before the padding below, which needs the arena's top where the probe left it.
    std::vector<unsigned char> resident(kGlibcHeapSize / static_cast<uintptr_t>(page));
    if (::mincore(reinterpret_cast<void*>(base), kGlibcHeapSize, resident.data()) != 0) {
      return false;
    }
  }
  if (::madvise(reinterpret_cast<void*>(base), kGlibcHeapSize, MADV_HUGEPAGE) != 0) return false;
  // The probe's chunk ends where the arena's top begins.
  pad_to_huge_page(address - kChunkHeader + chunk_size(kProbeSize));
  return true;
#else
  return false;
#endif
}

} // namespace oomlint::cli
