#include "cli/work_queue.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

using oomlint::cli::WorkQueue;

TEST_CASE("work queue: one worker gets every item, largest first", "[cli][work_queue]") {
  WorkQueue q({10, 500, 30, 700, 20}, 400);
  std::vector<size_t> got;
  while (auto item = q.take()) {
    got.push_back(item->index);
    q.done(*item);
  }
  CHECK(got == std::vector<size_t>{3, 1, 2, 4, 0});
}

TEST_CASE("work queue: while a large item is out, the smallest items are handed out instead",
          "[cli][work_queue]") {
  WorkQueue q({10, 500, 30, 700, 20}, 400);
  auto first = q.take();
  REQUIRE(first);
  CHECK(first->index == 3);
  CHECK(first->large);
  // The next largest (500) waits: the small ones come, smallest first.
  auto a = q.take();
  auto b = q.take();
  auto c = q.take();
  REQUIRE((a && b && c));
  CHECK(a->index == 0);
  CHECK(b->index == 4);
  CHECK(c->index == 2);
  CHECK_FALSE(a->large);
  q.done(*first);
  auto d = q.take();
  REQUIRE(d);
  CHECK(d->index == 1);
  CHECK(d->large);
  q.done(*d);
  CHECK_FALSE(q.take());
}

TEST_CASE("work queue: many workers never hold two large items at once and lose none",
          "[cli][work_queue]") {
  std::vector<uint64_t> sizes;
  for (uint64_t i = 0; i < 400; ++i)
    sizes.push_back(i % 7 == 0 ? 1000 + i : i);
  WorkQueue q(sizes, 1000);
  std::atomic<int> large_out{0};
  std::atomic<int> max_large{0};
  std::mutex m;
  std::multiset<size_t> seen;
  std::vector<std::thread> pool;
  for (int t = 0; t < 6; ++t) {
    pool.emplace_back([&] {
      while (auto item = q.take()) {
        if (item->large) {
          int now = ++large_out;
          int prev = max_large.load();
          while (now > prev && !max_large.compare_exchange_weak(prev, now)) {
          }
          std::this_thread::sleep_for(std::chrono::microseconds(50));
          --large_out;
        }
        {
          std::lock_guard lock(m);
          seen.insert(item->index);
        }
        q.done(*item);
      }
    });
  }
  for (auto& t : pool)
    t.join();
  CHECK(max_large.load() == 1);
  REQUIRE(seen.size() == sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i)
    CHECK(seen.count(i) == 1);
}

TEST_CASE("work queue: stop() ends the hand-out, also for a worker waiting for a large slot",
          "[cli][work_queue]") {
  WorkQueue q({900, 800}, 500);
  auto first = q.take();
  REQUIRE(first);
  std::optional<WorkQueue::Item> waited = WorkQueue::Item{99, false};
  std::thread waiter([&] { waited = q.take(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  q.stop();
  waiter.join();
  CHECK_FALSE(waited);
  q.done(*first);
  CHECK_FALSE(q.take());
}
