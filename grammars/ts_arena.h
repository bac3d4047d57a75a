// A per-thread bump arena for tree-sitter's allocations, for trees that are parsed, read and
// thrown away (`oomlint check`). A tree of an 875 KB file is about a million small blocks:
// malloc'ing them one at a time and then freeing them one at a time (ts_tree_delete walks the
// whole tree) costs about a tenth of a check's CPU. In an arena, allocation is a pointer bump,
// a free is nothing, and the whole tree goes at once when the arena is reset.
//
// tree-sitter takes one set of allocation functions for the whole process (ts_set_allocator);
// they are installed before the first parser exists (ts::python()) and behave exactly like
// malloc/calloc/realloc/free on every thread and at every moment when no arena is active.
#pragma once

#include <cstddef>

namespace oomlint::ts {

// Installs the allocation functions. Called once by python(); idempotent.
void install_arena_allocator();

// While an ArenaScope is open on a thread, tree-sitter's allocations on that thread come from
// the thread's arena. Closing the scope stops that; memory already handed out stays valid until
// reset_thread_arena(). Scopes do not nest.
class ArenaScope {
public:
  ArenaScope();
  ~ArenaScope();
  ArenaScope(const ArenaScope&) = delete;
  ArenaScope& operator=(const ArenaScope&) = delete;
  bool active() const { return active_; }

private:
  bool active_ = false;
};

// Forgets everything the thread's arena handed out, keeping up to 64 MB of its memory for the
// next file. Every tree-sitter object allocated from it (parser, tree, cursor) must be gone or
// abandoned (Tree::abandon) by then.
void reset_thread_arena();
// As reset_thread_arena(), but gives all of the arena's memory back (after a large file).
void release_thread_arena();

// Bytes currently handed out by this thread's arena, and whether `p` points into it (tests).
size_t thread_arena_used();
bool in_thread_arena(const void* p);

} // namespace oomlint::ts
