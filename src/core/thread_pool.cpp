#include "core/thread_pool.h"

#include <algorithm>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace dsinfer {

namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  warm_ = std::make_unique<WarmRegion[]>(static_cast<size_t>(n_threads));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(sleep_mu_);
    stop_.store(true);
  }
  wake_cv_.notify_all();
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
  std::lock_guard<std::mutex> call(call_mu_);
  piece_starts(n, grain, parts, piece_starts_);
  next_piece_.store(0, std::memory_order_relaxed);
  job_ = &fn;
  pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  generation_.fetch_add(1);  // seq_cst: pairs with the sleepers_ check below
  if (sleepers_.load() > 0) {
    std::lock_guard<std::mutex> lock(sleep_mu_);
    wake_cv_.notify_all();
  }
  std::exception_ptr mine;
  try {
    run_pieces();
  } catch (...) {
    mine = std::current_exception();
  }
  // Every range finishes before we return (or throw): fn and its captures must outlive the workers' use.
  for (int spins = 0; pending_.load(std::memory_order_acquire) != 0; ++spins) {
    if (warm_step(0)) continue;
    if (spins % 64 != 63) cpu_relax();
    else std::this_thread::yield();  // a worker was descheduled: give it the core
  }
  job_ = nullptr;
  std::exception_ptr theirs = std::exchange(error_, nullptr);
  if (mine) std::rethrow_exception(mine);
  if (theirs) std::rethrow_exception(theirs);
}

// Guided pieces, claimed in order by whichever thread is free: each takes
// 1 / (2 * parts) of what is left, but no less than 1 / (kTailPiecesPerThread
// * parts) of the whole. A thread slowed by another process (a shared machine)
// takes fewer; and as the last pieces are small, the threads finish within a
// small piece of each other. With equal pieces (n / 8 on 2 threads) the caller
// waited for the worker's last one in ~7% of a MoE model's decode.
void ThreadPool::piece_starts(int64_t n, int64_t grain, int parts, std::vector<int64_t>& starts) {
  const int64_t chunks = (n + grain - 1) / grain;
  const int64_t least = std::max<int64_t>(1, chunks / (int64_t{parts} * kTailPiecesPerThread));
  starts.assign(1, 0);
  for (int64_t c = 0; c < chunks;) {
    c = std::min(chunks, c + std::max(least, (chunks - c + 2 * parts - 1) / (2 * parts)));
    starts.push_back(std::min(n, c * grain));
  }
}

uint64_t ThreadPool::wait_for_job(uint64_t seen, int index) {
  auto deadline = std::chrono::steady_clock::now() + kSpinBudget;
  bool warming = false;
  for (int spins = 1;; ++spins) {
    const uint64_t g = generation_.load(std::memory_order_acquire);
    if (g != seen || stop_.load(std::memory_order_relaxed)) return g;
    if (warm_step(index)) {
      warming = true;
      continue;
    }
    if (std::exchange(warming, false)) deadline = std::chrono::steady_clock::now() + kSpinBudget;  // reading ahead is not idling
    cpu_relax();
    if (spins % 64 != 0) continue;
    // Let another runnable thread on this core go first (an oversubscribed
    // machine: other processes, parallel tests), then sleep once the budget is spent.
    std::this_thread::yield();
    if (std::chrono::steady_clock::now() < deadline) continue;
    std::unique_lock<std::mutex> lock(sleep_mu_);
    sleepers_.fetch_add(1);  // seq_cst, before re-reading generation_: no lost wake-up
    wake_cv_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
    sleepers_.fetch_sub(1);
    deadline = std::chrono::steady_clock::now() + kSpinBudget;
  }
}

void ThreadPool::warm(int thread, const void* p, int64_t bytes) {
  if (thread < 0 || thread >= size()) return;
  WarmRegion& w = warm_[static_cast<size_t>(thread)];
  w.end.store(0, std::memory_order_relaxed);
  w.base.store(static_cast<const char*>(p), std::memory_order_relaxed);
  w.next.store(0, std::memory_order_relaxed);
  w.end.store(std::max<int64_t>(0, bytes), std::memory_order_release);
}

int64_t ThreadPool::warm_left(int thread) const {
  const WarmRegion& w = warm_[static_cast<size_t>(thread)];
  return std::max<int64_t>(0, w.end.load() - w.next.load());
}

bool ThreadPool::warm_step(int thread) {
  // 8 lines a step: a new job waits at most for 8 prefetches to issue.
  constexpr int64_t kStep = 512, kLine = 64;
  WarmRegion& w = warm_[static_cast<size_t>(thread)];
  const int64_t end = w.end.load(std::memory_order_acquire);
  const int64_t o = w.next.load(std::memory_order_relaxed);
  if (o >= end) return false;
  w.next.store(o + kStep, std::memory_order_relaxed);  // only this thread advances its region
  const char* base = w.base.load(std::memory_order_relaxed);
  for (int64_t i = o; i < std::min(end, o + kStep); i += kLine) __builtin_prefetch(base + i, 0, 2);  // into L2
  return true;
}

void ThreadPool::run_pieces() {
  const auto last = static_cast<int64_t>(piece_starts_.size()) - 1;
  for (int64_t k = next_piece_.fetch_add(1, std::memory_order_relaxed); k < last;
       k = next_piece_.fetch_add(1, std::memory_order_relaxed)) {
    const int64_t b = piece_starts_[static_cast<size_t>(k)], e = piece_starts_[static_cast<size_t>(k) + 1];
    if (b < e) (*job_)(b, e);
  }
}

void ThreadPool::run_range() {
  try {
    run_pieces();
  } catch (...) {
    std::lock_guard<std::mutex> lock(error_mu_);
    if (!error_) error_ = std::current_exception();  // handed to the caller, which rethrows it
  }
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    seen = wait_for_job(seen, index);
    if (stop_.load()) return;
    run_range();
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace dsinfer
