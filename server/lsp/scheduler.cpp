#include "lsp/scheduler.h"

#include <algorithm>

namespace oomlint::lsp {

Scheduler::Scheduler(SchedulerOptions options) : options_(options) {
  for (unsigned i = 0; i < options_.workers; ++i)
    threads_.emplace_back([this] { worker_loop(); });
}

Scheduler::~Scheduler() {
  stop();
}

CancelFlag Scheduler::schedule(const std::string& key, Task task, bool debounced) {
  auto flag = std::make_shared<std::atomic<bool>>(false);
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      flag->store(true);
      return flag;
    }
    if (!key.empty()) {
      std::erase_if(queue_, [&](const Item& item) {
        if (item.key != key) return false;
        item.cancel->store(true);
        return true;
      });
      auto [first, last] = running_.equal_range(key);
      for (auto it = first; it != last; ++it)
        it->second->store(true);
    }
    auto due = std::chrono::steady_clock::now();
    if (debounced) due += options_.debounce;
    queue_.push_back(Item{key, std::move(task), flag, due});
  }
  wake_.notify_one();
  return flag;
}

void Scheduler::cancel(const std::string& key, bool drop_waiting) {
  std::lock_guard lock(mutex_);
  for (auto& item : queue_) {
    if (item.key == key) item.cancel->store(true);
  }
  if (drop_waiting) std::erase_if(queue_, [&](const Item& item) { return item.key == key; });
  auto [first, last] = running_.equal_range(key);
  for (auto it = first; it != last; ++it)
    it->second->store(true);
}

bool Scheduler::take_due(Item& out, std::chrono::steady_clock::time_point& next_due) {
  auto now = std::chrono::steady_clock::now();
  next_due = std::chrono::steady_clock::time_point::max();
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->due <= now || synchronous()) {
      out = std::move(*it);
      queue_.erase(it);
      return true;
    }
    next_due = std::min(next_due, it->due);
  }
  return false;
}

void Scheduler::worker_loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) return;
    Item item;
    std::chrono::steady_clock::time_point next_due;
    if (!take_due(item, next_due)) {
      if (next_due == std::chrono::steady_clock::time_point::max()) {
        wake_.wait(lock);
      } else {
        wake_.wait_until(lock, next_due);
      }
      continue;
    }
    auto running = running_.emplace(item.key, item.cancel);
    ++busy_;
    lock.unlock();
    try {
      item.task(*item.cancel);
    } catch (...) {
      // A task reports its own errors; never let one take the worker down.
    }
    lock.lock();
    running_.erase(running);
    --busy_;
    if (queue_.empty() && busy_ == 0) idle_.notify_all();
  }
}

void Scheduler::run_pending() {
  if (!synchronous()) {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] { return stopping_ || (queue_.empty() && busy_ == 0); });
    return;
  }
  for (;;) {
    Item item;
    {
      std::lock_guard lock(mutex_);
      std::chrono::steady_clock::time_point next_due;
      if (!take_due(item, next_due)) return;
    }
    try {
      item.task(*item.cancel);
    } catch (...) {
    }
  }
}

void Scheduler::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    for (auto& item : queue_)
      item.cancel->store(true);
    queue_.clear();
    for (auto& [key, flag] : running_)
      flag->store(true);
  }
  wake_.notify_all();
  idle_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Scheduler::restart() {
  stop();
  {
    std::lock_guard lock(mutex_);
    stopping_ = false;
  }
  for (unsigned i = 0; i < options_.workers; ++i)
    threads_.emplace_back([this] { worker_loop(); });
}

} // namespace oomlint::lsp
