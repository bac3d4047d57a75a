// The tree-sitter arena (grammars/ts_arena.h): what is parsed inside a scope lives in the
// thread's arena and reads the same as a tree parsed with malloc; outside a scope, and on other
// threads, nothing changes.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>
#include <thread>

#include "ts.h"
#include "ts_arena.h"

using namespace oomlint;

namespace {

std::string sexp(const ts::Tree& tree) {
  char* s = ts_node_string(ts_tree_root_node(tree.raw()));
  std::string out(s);
  std::free(s); // allocated outside any scope: a malloc block
  return out;
}

// Nested brackets and many statements: the parser's stacks grow (realloc) as it goes.
std::string sample_source() {
  std::string src = "import torch\n";
  for (int i = 0; i < 300; ++i)
    src += "x" + std::to_string(i) + " = torch.zeros(" + std::string(20, '[') + "1" +
           std::string(20, ']') + ")\n";
  return src;
}

} // namespace

TEST_CASE("ts arena: a tree parsed in a scope lives in the arena and reads like any other",
          "[ts][arena]") {
  const std::string src = sample_source();
  ts::Parser plain_parser;
  ts::Tree plain = plain_parser.parse(src);
  REQUIRE(plain);
  CHECK_FALSE(ts::in_thread_arena(plain.raw()));

  ts::reset_thread_arena();
  ts::Tree arena_tree;
  {
    ts::ArenaScope scope;
    REQUIRE(scope.active());
    ts::ArenaScope nested; // scopes do not nest: the inner one is inert
    CHECK_FALSE(nested.active());
    ts::Parser parser;
    arena_tree = parser.parse(src);
  }
  REQUIRE(arena_tree);
  CHECK(ts::in_thread_arena(arena_tree.raw()));
  size_t used = ts::thread_arena_used();
  CHECK(used > src.size()); // the whole tree, not a stray block
  // Readable after the scope closed, and the same tree.
  CHECK(sexp(arena_tree) == sexp(plain));
  CHECK(arena_tree.root().named_child_count() == 301);

  // A parse outside any scope does not touch the arena.
  ts::Tree after = plain_parser.parse(src);
  CHECK_FALSE(ts::in_thread_arena(after.raw()));
  CHECK(ts::thread_arena_used() == used);

  // Reset: the memory is handed out again for the next tree, which is just as big.
  arena_tree.abandon();
  ts::reset_thread_arena();
  CHECK(ts::thread_arena_used() == 0);
  {
    ts::ArenaScope scope;
    ts::Parser parser;
    arena_tree = parser.parse(src);
  }
  CHECK(ts::in_thread_arena(arena_tree.raw()));
  CHECK(ts::thread_arena_used() == used);
  CHECK(sexp(arena_tree) == sexp(plain));
  arena_tree.abandon();
  ts::reset_thread_arena();
}

TEST_CASE("ts arena: a scope on one thread leaves other threads on malloc", "[ts][arena]") {
  const std::string src = sample_source();
  bool other_in_arena = true;
  std::string other_sexp;
  ts::Tree mine;
  {
    ts::ArenaScope scope;
    REQUIRE(scope.active());
    std::thread other([&] {
      ts::Parser parser;
      ts::Tree tree = parser.parse(src);
      other_in_arena = ts::in_thread_arena(tree.raw());
      other_sexp = sexp(tree); // malloc'd there, freed there
    });                        // its tree is deleted there, block by block, with free()
    other.join();
    ts::Parser parser;
    mine = parser.parse(src);
  }
  CHECK_FALSE(other_in_arena);
  CHECK(ts::in_thread_arena(mine.raw()));
  CHECK(sexp(mine) == other_sexp);
  // Deleting an arena tree the ordinary way is harmless too (its frees are no-ops); the memory
  // goes at the next reset.
  mine = ts::Tree();
  ts::reset_thread_arena();
  CHECK(ts::thread_arena_used() == 0);
}

TEST_CASE("ts arena: release_thread_arena gives the chunks back, reset keeps them", "[ts]") {
  std::string src;
  for (int i = 0; i < 300; ++i)
    src += "x" + std::to_string(i) + " = f(" + std::to_string(i) + ")\n";
  auto parse_in_arena = [&] {
    ts::Tree t;
    ts::ArenaScope scope;
    ts::Parser parser;
    t = parser.parse(src);
    return t;
  };
  ts::Tree tree = parse_in_arena();
  REQUIRE(tree);
  const void* kept = tree.raw();
  CHECK(ts::in_thread_arena(kept));
  tree.abandon();
  ts::reset_thread_arena();
  CHECK(ts::in_thread_arena(kept)); // its chunk stays, for the next file
  ts::release_thread_arena();
  CHECK_FALSE(ts::in_thread_arena(kept));
  CHECK(ts::thread_arena_used() == 0);
  // The arena works again afterwards.
  tree = parse_in_arena();
  CHECK(ts::in_thread_arena(tree.raw()));
  tree.abandon();
  ts::reset_thread_arena();
}
