#include "core/thread_pool.h"

#include <algorithm>
#include <exception>
#include <utility>

namespace dsinfer {

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  const int64_t chunks = (n + grain - 1) / grain;
  const int parts = static_cast<int>(std::min<int64_t>(size(), chunks));
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  std::vector<std::pair<int64_t, int64_t>> ranges(static_cast<size_t>(size()), {0, 0});
  for (int p = 0; p < parts; ++p) {
    const int64_t b = std::min(n, chunks * p / parts * grain);
    const int64_t e = std::min(n, chunks * (p + 1) / parts * grain);
    ranges[static_cast<size_t>(p)] = {b, e};
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    ranges_ = ranges;
    pending_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  start_cv_.notify_all();
  std::exception_ptr mine;
  try {
    fn(ranges[0].first, ranges[0].second);
  } catch (...) {
    mine = std::current_exception();
  }
  std::exception_ptr theirs;
  {
    // Every range finishes before we return (or throw): fn and its captures must outlive the workers' use.
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
    theirs = std::exchange(error_, nullptr);
  }
  if (mine) std::rethrow_exception(mine);
  if (theirs) std::rethrow_exception(theirs);
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(int64_t, int64_t)>* job;
    std::pair<int64_t, int64_t> range;
    {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      range = ranges_[static_cast<size_t>(index)];
    }
    std::exception_ptr err;
    if (range.second > range.first) {
      try {
        (*job)(range.first, range.second);
      } catch (...) {
        err = std::current_exception();  // handed to the caller, which rethrows it
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (err && !error_) error_ = err;
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

}  // namespace dsinfer
