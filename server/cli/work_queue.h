#pragma once
// The order in which the workers of a parallel `oomlint check` take files: largest first (so that
// no worker is left with a big file at the end), but never two large files at once. A large
// file's syntax tree, index and analysis take about 65 bytes per byte of source; two workers each
// holding one would double the peak memory for no gain in time, since the other worker can check
// the small files meanwhile.
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace oomlint::cli {

class WorkQueue {
public:
  // sizes[i]: the size of item i; items of `large` bytes or more are handed out one at a time.
  WorkQueue(std::vector<uint64_t> sizes, uint64_t large);

  struct Item {
    size_t index;
    bool large;
  };
  // The next item to work on, or nullopt when every item has been handed out. Blocks while the
  // only items left are large and another worker holds one.
  std::optional<Item> take();
  // The worker is done with `item` (a large item frees its slot).
  void done(const Item& item);
  // Stop handing out items (an interrupted run): take() returns nullopt from now on.
  void stop();

private:
  std::vector<uint64_t> sizes_;
  std::vector<size_t> order_; // by size, largest first
  uint64_t large_;
  size_t front_ = 0; // the largest item not handed out
  size_t back_ = 0;  // one past the smallest item not handed out
  bool large_in_flight_ = false;
  bool stopped_ = false;
  std::mutex mutex_;
  std::condition_variable freed_;
};

} // namespace oomlint::cli
