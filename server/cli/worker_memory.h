// Memory settings for `oomlint check`'s worker threads. Parsing is most of a check's work, and a
// tree-sitter tree takes about 30 bytes of memory per byte of source: each worker's malloc arena
// grows to tens of megabytes. On a VM every first touch of a 4 KB page costs 10 to 20 us, so the
// number of page faults shows up in the run time (about 14,000 of them for two threads on the
// torch corpus, a tenth of its CPU time). These settings cut them; they change no result.
#pragma once

#include <cstddef>

namespace oomlint::cli {

// Before starting the workers: let malloc grow its arenas in large steps (64 MB of top pad)
// instead of a few pages at a time, and keep them. Untouched padding costs no memory. Blocks up
// to 32 MB (a large source file, the results cache) come from the arenas too, not from an mmap()
// of their own, which would be faulted in 4 KB at a time and unmapped again on free.
void prepare_worker_allocator();

// On the main thread, after prepare_worker_allocator(): grow the main arena (the brk() heap) by
// its top pad now and ask for huge pages in the grown part, where the main thread reads the
// results cache and gathers the findings. Declines, changing nothing, when the main arena is
// not a brk() heap. Returns true when the kernel took the advice.
bool hint_huge_pages_for_main_heap();

// At the start of a worker thread: ask the kernel for transparent huge pages in this thread's
// malloc arena (one fault per 2 MB instead of per 4 KB), when its arena is a glibc heap (a
// 64 MB-aligned mapping that is wholly mapped). A hint only: where the layout is not that, or
// the kernel declines, nothing changes. Returns true when the kernel took the advice.
bool hint_huge_pages_for_this_thread();

// At process start: map every page of the executable's read-only segments (its code and
// constants) into the page table with one madvise(MADV_POPULATE_READ) per segment, instead of a
// page fault per 64 KB of them touched. A one-file run touches most of its 5 MB once, in about
// 60 faults; on this VM, where a fault costs 5-17 us, one call instead saves 0.2 ms of a 3.6 ms
// run. The pages come from the page cache: no memory is added. A hint only: on kernels before
// 5.14 nothing changes. Returns how many bytes were mapped.
std::size_t map_executable_now();

// After a worker checked a large file: give the memory its arena kept (the tree-sitter arena and
// the free pages of the malloc arenas) back to the kernel, so that two workers do not each keep
// the peak of the largest file they met.
void release_worker_memory();

// Whether this build uses glibc's malloc (not a sanitizer's), which the two calls tune.
bool tunes_glibc_malloc();

} // namespace oomlint::cli
