// A fixed pool of worker threads for data-parallel loops. Owned by a backend
// (never global). parallel_for splits [0, n) into contiguous pieces, large
// first and ever smaller, which the threads (the caller among them) claim in
// order as they get free; a 1-thread pool runs inline with no synchronisation at all.
//
// Why it spins: a decode step of a small model is a few hundred parallel_for
// calls of ~20-200 us each, and a condition-variable wake-up costs 5-50 us, so
// waking sleeping workers per call would eat a large share of the step. Workers
// therefore spin on an atomic generation counter for a short while after each
// job (kSpinBudget, yielding the core every few dozen spins in case another
// thread is waiting for it) and only then sleep on a condition variable; the
// caller spins the same way for the workers' ranges. An idle pool (a server
// between requests) costs no CPU after the spin budget.
//
// While they spin, threads can do one kind of useful work: pull a region that
// the caller expects to read soon into their caches (warm). Between the jobs
// of a decode step the caller runs serial code (norms, RoPE, attention's
// glue) and at a job's end one thread finishes its last piece alone; memory
// sits idle in both unless the idle thread reads ahead.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
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
  // then rethrows the first exception any range threw (the thread that threw
  // claims no further pieces). Ranges are multiples of `grain` except the last.
  // Calls from several threads are serialised.
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);

  // A hint: thread `thread` (0: the caller of parallel_for, 1.. the workers)
  // prefetches [p, p + bytes) into its caches whenever it would otherwise
  // spin, a few lines at a time, until it is done or a new region replaces
  // this one. Nothing waits for it and nothing depends on it: prefetches
  // never fault, so a region may even be unmapped by the time it is read.
  void warm(int thread, const void* p, int64_t bytes);
  // Bytes of thread's region not yet prefetched (tests).
  int64_t warm_left(int thread) const;

  // How long a worker keeps spinning for the next job before it sleeps.
  static constexpr std::chrono::microseconds kSpinBudget{500};
  static constexpr int kTailPiecesPerThread = 16;
  // The pieces' boundaries [pieces + 1] of n split for `parts` threads.
  static void piece_starts(int64_t n, int64_t grain, int parts, std::vector<int64_t>& starts);

 private:
  void worker_loop(int index);
  // Returns the next generation after `seen`, or seen when stopping.
  uint64_t wait_for_job(uint64_t seen, int index);
  void run_range();   // a worker's share of the current job, exceptions kept for the caller
  void run_pieces();  // claims and runs pieces until none is left
  bool warm_step(int thread);  // prefetches a few lines of thread's region; false when none are left

  std::vector<std::thread> workers_;
  std::mutex call_mu_;  // one parallel_for at a time
  std::mutex sleep_mu_;
  std::condition_variable wake_cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  // Written by the caller before it publishes a generation; read-only while workers run.
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  std::vector<int64_t> piece_starts_;  // [pieces + 1] boundaries of the current job
  std::atomic<int64_t> next_piece_{0};
  // Each thread's warm region. Written by the caller, read by its thread; a
  // region torn by a concurrent warm() only misdirects prefetches.
  struct WarmRegion {
    std::atomic<const char*> base{nullptr};
    std::atomic<int64_t> end{0};
    std::atomic<int64_t> next{0};
  };
  std::unique_ptr<WarmRegion[]> warm_;
  std::mutex error_mu_;
  std::exception_ptr error_;  // first exception from a worker in the current job
};

}  // namespace dsinfer
