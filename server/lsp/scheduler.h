// Runs analysis off the reading thread. Each task has a key: scheduling a key that is still
// waiting replaces the waiting task (bursts of edits coalesce), and a task of that key that is
// already running is told to stop through its cancel flag. Keyed tasks may wait a debounce delay
// first. With zero workers nothing runs until run_pending() is called: tests drive it
// synchronously, without threads.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace oomlint::lsp {

using CancelFlag = std::shared_ptr<std::atomic<bool>>;

struct SchedulerOptions {
  unsigned workers = 2; // 0: synchronous, run_pending() runs the queue
  std::chrono::milliseconds debounce{50};
};

class Scheduler {
public:
  // The task gets its cancel flag; it must still finish (e.g. reply "cancelled") when set.
  using Task = std::function<void(const std::atomic<bool>& cancel)>;

  explicit Scheduler(SchedulerOptions options);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues `task` under `key`. A waiting task with the same key is dropped; a running one gets
  // its flag set. `debounced` tasks wait the debounce delay (threaded mode only).
  CancelFlag schedule(const std::string& key, Task task, bool debounced);
  // Sets the flag of the waiting or running task of `key`, and drops it if it is only waiting
  // and `drop_waiting`.
  void cancel(const std::string& key, bool drop_waiting);

  // Synchronous mode: runs every queued task (including ones queued meanwhile), ignoring delays.
  // Threaded mode: waits until the queue is empty and no task runs.
  void run_pending();
  // Stops the workers; waiting tasks are dropped, running ones are cancelled and joined.
  void stop();
  // stop(), then back to the state after construction: an empty queue, fresh workers.
  void restart();
  bool synchronous() const { return options_.workers == 0; }

private:
  struct Item {
    std::string key;
    Task task;
    CancelFlag cancel;
    std::chrono::steady_clock::time_point due;
  };
  void worker_loop();
  bool take_due(Item& out, std::chrono::steady_clock::time_point& next_due);

  SchedulerOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::deque<Item> queue_;
  std::multimap<std::string, CancelFlag> running_;
  size_t busy_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

} // namespace oomlint::lsp
