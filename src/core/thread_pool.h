// A fixed pool of worker threads for data-parallel loops. Owned by a backend
// (never global). parallel_for splits [0, n) into one contiguous range per
// thread; the calling thread takes the first range itself, so a 1-thread pool
// runs inline with no synchronisation at all.
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace dsinfer {

class ThreadPool {
 public:
  // n_threads <= 0 means one per hardware thread.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // fn(begin, end) over contiguous sub-ranges of [0, n). Blocks until all are done;
  // then rethrows the first exception any range threw.
  // Ranges are multiples of `grain` except the last.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

 private:
  void worker_loop(int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  std::vector<std::pair<int64_t, int64_t>> ranges_;
  uint64_t generation_ = 0;
  int pending_ = 0;
  std::exception_ptr error_;  // first exception from a worker in the current job
  bool stop_ = false;
};

}  // namespace dsinfer
