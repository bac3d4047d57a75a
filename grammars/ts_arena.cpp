#include "ts_arena.h"

#include <tree_sitter/api.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

namespace oomlint::ts {

namespace {

constexpr size_t kAlign = 16;
constexpr size_t kHeader = 16;                  // each block's size, kept for realloc
constexpr size_t kFirstChunk = size_t{1} << 20; // 1 MB, doubling
constexpr size_t kKeep = size_t{64} << 20;      // kept across resets

struct Chunk {
  char* base = nullptr;
  size_t size = 0;
};

struct Arena {
  std::vector<Chunk> chunks;
  size_t current = 0; // chunk being filled
  size_t used = 0;    // bytes used in it
  size_t handed = 0;  // bytes handed out since the last reset, headers included
  bool active = false;
  ~Arena() {
    for (const Chunk& c : chunks)
      std::free(c.base);
  }

  bool owns(const void* p) const {
    auto a = reinterpret_cast<uintptr_t>(p);
    for (const Chunk& c : chunks) {
      auto b = reinterpret_cast<uintptr_t>(c.base);
      if (a >= b && a < b + c.size) return true;
    }
    return false;
  }

  void* take(size_t size) {
    if (size > SIZE_MAX - kHeader - kAlign) return nullptr;
    const size_t need = (kHeader + size + kAlign - 1) & ~(kAlign - 1);
    while (current < chunks.size() && chunks[current].size - used < need) {
      ++current; // the rest of a chunk is left unused
      used = 0;
    }
    if (current == chunks.size()) {
      size_t grow = chunks.empty() ? kFirstChunk : chunks.back().size * 2;
      grow = std::max(grow, need);
      char* base = static_cast<char*>(std::malloc(grow));
      if (!base) return nullptr;
      chunks.push_back({base, grow});
      used = 0;
    }
    char* block = chunks[current].base + used;
    used += need;
    handed += need;
    std::memcpy(block, &size, sizeof size);
    return block + kHeader;
  }

  void reset(size_t keep = kKeep) {
    // Keep the chunks that fit in `keep` (oldest first), free the rest.
    size_t kept = 0, total = 0;
    for (; kept < chunks.size() && total + chunks[kept].size <= keep; ++kept)
      total += chunks[kept].size;
    for (size_t i = kept; i < chunks.size(); ++i)
      std::free(chunks[i].base);
    chunks.resize(kept);
    current = 0;
    used = 0;
    handed = 0;
  }
};

thread_local Arena t_arena;

// tree-sitter never checks for a failed allocation: like its own default functions, fail loudly.
[[noreturn]] void out_of_memory(size_t size) {
  std::fprintf(stderr, "tree-sitter failed to allocate %zu bytes\n", size);
  std::abort();
}

void* checked(void* p, size_t size) {
  if (!p && size > 0) out_of_memory(size);
  return p;
}

size_t block_size(const void* p) {
  size_t size = 0;
  std::memcpy(&size, static_cast<const char*>(p) - kHeader, sizeof size);
  return size;
}

void* arena_malloc(size_t size) {
  return checked(t_arena.active ? t_arena.take(size) : std::malloc(size), size);
}

void* arena_calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) out_of_memory(SIZE_MAX);
  if (!t_arena.active) return checked(std::calloc(count, size), count * size);
  void* p = checked(t_arena.take(count * size), count * size);
  if (p) std::memset(p, 0, count * size); // reused memory is not zeroed
  return p;
}

void* arena_realloc(void* p, size_t size) {
  if (!p) return arena_malloc(size);
  if (!t_arena.owns(p)) return checked(std::realloc(p, size), size); // stays a malloc block
  size_t old = block_size(p);
  if (size <= old) return p;
  void* q = checked(t_arena.active ? t_arena.take(size) : std::malloc(size), size);
  std::memcpy(q, p, old);
  return q;
}

void arena_free(void* p) {
  if (!p || t_arena.owns(p)) return; // arena memory goes at reset
  std::free(p);
}

} // namespace

void install_arena_allocator() {
  static std::once_flag once;
  std::call_once(once,
                 [] { ts_set_allocator(arena_malloc, arena_calloc, arena_realloc, arena_free); });
}

ArenaScope::ArenaScope() {
  if (t_arena.active) return; // no nesting: the outer scope stays in charge
  t_arena.active = active_ = true;
}

ArenaScope::~ArenaScope() {
  if (active_) t_arena.active = false;
}

void reset_thread_arena() {
  t_arena.reset();
}

void release_thread_arena() {
  t_arena.reset(0);
}

size_t thread_arena_used() {
  return t_arena.handed;
}

bool in_thread_arena(const void* p) {
  return t_arena.owns(p);
}

} // namespace oomlint::ts
