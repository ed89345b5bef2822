// ThreadPool::parallel_for: every index of [0, n) is visited exactly once, in
// contiguous ranges whose starts are multiples of the grain, by at most one
// range per thread, with the first range on the calling thread.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "core/thread_pool.h"

namespace dsinfer {
namespace {

struct Call {
  int64_t begin, end;
  std::thread::id thread;
};

// How many ranges parallel_for makes of n for `parts` threads.
int64_t planned_pieces(int64_t n, int64_t grain, int parts) {
  std::vector<int64_t> starts;
  ThreadPool::piece_starts(n, grain, parts, starts);
  return static_cast<int64_t>(starts.size()) - 1;
}

// Runs one parallel_for and records every call and every visited index.
std::vector<Call> run_and_check(ThreadPool& pool, int64_t n, int64_t grain) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(std::max<int64_t>(n, 1)));
  for (auto& h : hits) h.store(0);
  std::mutex mu;
  std::vector<Call> calls;
  pool.parallel_for(
      n,
      [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
        std::lock_guard<std::mutex> lock(mu);
        calls.push_back({b, e, std::this_thread::get_id()});
      },
      grain);
  for (int64_t i = 0; i < n; ++i)
    EXPECT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "index " << i << " n=" << n << " grain=" << grain;
  return calls;
}

TEST(ThreadPoolTest, SizeCountsTheCallingThread) {
  for (int t = 1; t <= 4; ++t) {
    ThreadPool pool(t);
    EXPECT_EQ(pool.size(), t);
  }
  ThreadPool all(0);
  EXPECT_GE(all.size(), 1);
  EXPECT_EQ(all.size(), static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST(ThreadPoolTest, CoversEveryIndexExactlyOnce) {
  const int64_t ns[] = {0, 1, 2, 3, 4, 5, 7, 8, 13, 16, 33, 64, 100, 129, 1000, 4095, 4097, 10007};
  const int64_t grains[] = {1, 2, 3, 8, 16, 64, 4096, 100000};
  for (int threads = 1; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    for (int64_t n : ns)
      for (int64_t grain : grains) {
        SCOPED_TRACE(testing::Message() << "threads=" << threads << " n=" << n << " grain=" << grain);
        std::vector<Call> calls = run_and_check(pool, n, grain);
        if (n == 0) {
          EXPECT_TRUE(calls.empty());
          continue;
        }
        const int64_t chunks = (n + grain - 1) / grain;
        // The planned pieces, never more than there are grains.
        const int parts = static_cast<int>(std::min<int64_t>(threads, chunks));
        EXPECT_EQ(static_cast<int64_t>(calls.size()), parts <= 1 ? 1 : planned_pieces(n, grain, parts));
        EXPECT_LE(static_cast<int64_t>(calls.size()), chunks);
        std::sort(calls.begin(), calls.end(), [](const Call& a, const Call& b) { return a.begin < b.begin; });
        int64_t expect_begin = 0;
        std::set<std::thread::id> ids;
        for (const Call& c : calls) {
          EXPECT_LT(c.begin, c.end) << "empty range passed to fn";
          EXPECT_EQ(c.begin, expect_begin) << "ranges must be contiguous";
          EXPECT_EQ(c.begin % grain, 0) << "range start not a multiple of the grain";
          if (c.end != n) {
            EXPECT_EQ(c.end % grain, 0) << "only the last range may be ragged";
          }
          expect_begin = c.end;
          ids.insert(c.thread);
        }
        EXPECT_EQ(expect_begin, n);
        EXPECT_LE(static_cast<int64_t>(ids.size()), threads);
      }
  }
}

// Guided pieces: a first piece of 1 / (2 * threads) of the whole, then ever
// smaller ones, none below 1 / (16 * threads) of the whole but the last: the
// threads finish within a small piece of each other.
TEST(ThreadPoolTest, PiecesShrinkTowardsTheEnd) {
  for (int threads = 2; threads <= 4; ++threads)
    for (int64_t n : {40, 100, 1000, 10007}) {
      SCOPED_TRACE(testing::Message() << "threads=" << threads << " n=" << n);
      ThreadPool pool(threads);
      std::vector<Call> calls = run_and_check(pool, n, 1);
      std::sort(calls.begin(), calls.end(), [](const Call& a, const Call& b) { return a.begin < b.begin; });
      const int64_t least = std::max<int64_t>(1, n / (threads * ThreadPool::kTailPiecesPerThread));
      ASSERT_GE(calls.size(), 2u);
      EXPECT_EQ(calls[0].end - calls[0].begin, (n + 2 * threads - 1) / (2 * threads));
      for (size_t i = 1; i < calls.size(); ++i) {
        EXPECT_LE(calls[i].end - calls[i].begin, calls[i - 1].end - calls[i - 1].begin) << "piece " << i;
        if (i + 1 < calls.size()) {
          EXPECT_GE(calls[i].end - calls[i].begin, least) << "piece " << i;
        }
      }
      EXPECT_LE(calls.back().end - calls.back().begin, least);
      EXPECT_LE(static_cast<int64_t>(calls.size()), n / least + 1);
    }
}

// A thread held up (here: the first piece sleeps, standing for a core taken
// by another process) does not hold up the rest: the free thread takes the
// remaining pieces.
TEST(ThreadPoolTest, AFreeThreadTakesTheRemainingPieces) {
  ThreadPool pool(2);
  std::mutex mu;
  std::map<std::thread::id, int> pieces;
  pool.parallel_for(8, [&](int64_t b, int64_t) {
    if (b == 0) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::lock_guard<std::mutex> lock(mu);
    ++pieces[std::this_thread::get_id()];
  });
  ASSERT_EQ(pieces.size(), 2u) << "both threads take part";
  int most = 0;
  for (const auto& [id, k] : pieces) most = std::max(most, k);
  EXPECT_EQ(most, planned_pieces(8, 1, 2) - 1) << "the thread not sleeping ran every other piece";
}

TEST(ThreadPoolTest, FewerItemsThanThreads) {
  ThreadPool pool(4);
  for (int64_t n = 1; n <= 3; ++n) {
    std::vector<Call> calls = run_and_check(pool, n, 1);
    EXPECT_EQ(static_cast<int64_t>(calls.size()), n);
    for (const Call& c : calls) EXPECT_EQ(c.end - c.begin, 1);
  }
  // Fewer grains than threads: 5 items with grain 4 are two ranges, [0,4) and [4,5).
  std::vector<Call> calls = run_and_check(pool, 5, 4);
  ASSERT_EQ(calls.size(), 2u);
  std::sort(calls.begin(), calls.end(), [](const Call& a, const Call& b) { return a.begin < b.begin; });
  EXPECT_EQ(calls[0].begin, 0);
  EXPECT_EQ(calls[0].end, 4);
  EXPECT_EQ(calls[1].begin, 4);
  EXPECT_EQ(calls[1].end, 5);
}

TEST(ThreadPoolTest, RepeatedCallsOnOnePool) {
  for (int threads = 1; threads <= 4; ++threads) {
    ThreadPool pool(threads);
    std::vector<int64_t> data(517, 0);
    for (int iter = 0; iter < 2000; ++iter) {
      const int64_t n = 1 + (iter * 37) % 517;
      pool.parallel_for(
          n,
          [&](int64_t b, int64_t e) {
            for (int64_t i = b; i < e; ++i) data[static_cast<size_t>(i)] += 1;
          },
          1 + iter % 5);
    }
    // Expected visit count of each index, computed serially.
    std::vector<int64_t> want(517, 0);
    for (int iter = 0; iter < 2000; ++iter) {
      const int64_t n = 1 + (iter * 37) % 517;
      for (int64_t i = 0; i < n; ++i) want[static_cast<size_t>(i)] += 1;
    }
    EXPECT_EQ(data, want) << "threads=" << threads;
  }
}

TEST(ThreadPoolTest, WorkIsCompleteWhenParallelForReturns) {
  ThreadPool pool(4);
  for (int iter = 0; iter < 200; ++iter) {
    std::vector<int> out(4096, 0);
    pool.parallel_for(4096, [&](int64_t b, int64_t e) {
      // Make the worker ranges slower than the caller's so a missing wait shows.
      if (b != 0) std::this_thread::yield();
      for (int64_t i = b; i < e; ++i) out[static_cast<size_t>(i)] = static_cast<int>(i) + iter;
    });
    for (int i = 0; i < 4096; ++i) ASSERT_EQ(out[static_cast<size_t>(i)], i + iter) << "iter " << iter;
  }
}

// "Blocks until all are done" holds when fn throws (on either thread): the
// exception may only escape once every other range has finished, since fn
// and whatever it captures by reference die when parallel_for returns.
TEST(ThreadPoolTest, ExceptionWaitsForTheOtherRanges) {
  ThreadPool pool(2);
  auto done = std::make_shared<std::atomic<int>>(0);
  // Named, and outliving the sleep below, so a worker still inside it stays safe.
  const std::function<void(int64_t, int64_t)> fn = [done](int64_t b, int64_t) {
    if (b == 0) throw std::runtime_error("range 0 failed");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    done->fetch_add(1);
  };
  EXPECT_THROW(pool.parallel_for(2, fn), std::runtime_error);
  EXPECT_EQ(done->load(), 1) << "parallel_for returned while a worker was still running fn";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The pool is still usable afterwards.
  std::vector<Call> calls = run_and_check(pool, 1000, 1);
  EXPECT_EQ(static_cast<int64_t>(calls.size()), planned_pieces(1000, 1, 2));
}

// warm: a thread with no job reads its region ahead until none is left. The
// worker does it while spinning after a job (the caller keeps its own
// region), and the caller does it while it waits for a slower worker.
TEST(ThreadPoolTest, IdleWorkerReadsItsRegionAhead) {
  ThreadPool pool(2);
  std::vector<char> region(size_t{1} << 20, 1);
  bool done = false;
  // Retried: the worker reads ahead only while it spins, and a loaded machine
  // may put it to sleep between the job and warm().
  for (int attempt = 0; attempt < 50 && !done; ++attempt) {
    pool.parallel_for(2, [](int64_t, int64_t) {});
    pool.warm(1, region.data(), static_cast<int64_t>(region.size()));
    EXPECT_EQ(pool.warm_left(0), 0) << "the worker's region went to the caller";
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(100);
    while (pool.warm_left(1) > 0 && std::chrono::steady_clock::now() < until) std::this_thread::yield();
    done = pool.warm_left(1) == 0;
  }
  EXPECT_TRUE(done) << pool.warm_left(1) << " bytes of the worker's region were never read ahead";
  pool.warm(1, region.data(), 0);
  EXPECT_EQ(pool.warm_left(1), 0);
}

TEST(ThreadPoolTest, WaitingCallerReadsItsRegionAhead) {
  ThreadPool pool(2);
  std::vector<char> region(size_t{256} << 10, 1);
  const std::thread::id caller = std::this_thread::get_id();
  bool checked = false;
  for (int attempt = 0; attempt < 20 && !checked; ++attempt) {
    pool.warm(0, region.data(), static_cast<int64_t>(region.size()));
    std::atomic<bool> worker_ran{false};
    pool.parallel_for(2, [&](int64_t, int64_t) {
      if (std::this_thread::get_id() == caller) {
        // Hold the caller's piece until the worker has taken the other: a
        // sleeping worker wakes slowly, and the caller would take both.
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (!worker_ran && std::chrono::steady_clock::now() < until) std::this_thread::yield();
        return;
      }
      worker_ran = true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    });
    if (!worker_ran) continue;  // the caller took both pieces: it never waited
    EXPECT_EQ(pool.warm_left(0), 0) << "the caller waited 50 ms without reading its region ahead";
    checked = true;
  }
  EXPECT_TRUE(checked) << "the worker never took a piece";
}

// A region may be replaced before it is done, and a one-thread pool (no one
// ever idle) ignores warm for threads it does not have.
TEST(ThreadPoolTest, WarmRegionsAreReplacedAndBounded) {
  ThreadPool one(1);
  std::vector<char> region(4096, 1);
  one.warm(1, region.data(), 4096);
  one.warm(-1, region.data(), 4096);
  one.warm(0, region.data(), 4096);
  EXPECT_EQ(one.warm_left(0), 4096);
  one.warm(0, region.data(), 100);
  EXPECT_EQ(one.warm_left(0), 100);
  one.warm(0, region.data(), -5);
  EXPECT_EQ(one.warm_left(0), 0);
}

}  // namespace
}  // namespace dsinfer
