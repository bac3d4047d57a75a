#include "cli/work_queue.h"

#include <algorithm>
#include <numeric>

namespace oomlint::cli {

WorkQueue::WorkQueue(std::vector<uint64_t> sizes, uint64_t large)
    : sizes_(std::move(sizes)), order_(sizes_.size()), large_(large), back_(sizes_.size()) {
  std::iota(order_.begin(), order_.end(), size_t{0});
  std::stable_sort(order_.begin(), order_.end(),
                   [&](size_t x, size_t y) { return sizes_[x] > sizes_[y]; });
}

std::optional<WorkQueue::Item> WorkQueue::take() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopped_ || front_ >= back_) return std::nullopt;
    size_t first = order_[front_];
    if (sizes_[first] < large_) {
      ++front_;
      return Item{first, false};
    }
    if (!large_in_flight_) {
      ++front_;
      large_in_flight_ = true;
      return Item{first, true};
    }
    // A large file is being checked: take the smallest file left instead, if it is not large.
    size_t last = order_[back_ - 1];
    if (sizes_[last] < large_) {
      --back_;
      return Item{last, false};
    }
    freed_.wait(lock);
  }
}

void WorkQueue::done(const Item& item) {
  if (!item.large) return;
  {
    std::lock_guard lock(mutex_);
    large_in_flight_ = false;
  }
  freed_.notify_all();
}

void WorkQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopped_ = true;
  }
  freed_.notify_all();
}

} // namespace oomlint::cli
