#include "kernels/cpu/probe.h"

#include "kernels/cpu/intrin.h"
#include <sys/mman.h>

#include "kernels/cpu/amx.h"
#include "kernels/cpu/isa.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace dsinfer::kernels::cpu {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Sum of 64-bit words over [p, p + n) as eight interleaved streams, each
// prefetched ~2 KB ahead with Hint: the access pattern of the decode kernels
// (several row groups per thread, software prefetch), so that the roofline is
// the rate such a loop can reach, not one a kernel could beat. The probe keeps
// the best of prefetching into L1 and into L2: which is faster depends on the
// CPU (L2 on a Zen 4 VM, by 20-35%), and the kernels' choice must not set the
// roofline they are measured against.
template <int Hint>
__attribute__((target("avx2"))) uint64_t read_streams_avx2(const uint8_t* p, size_t n) {
  constexpr int kStreams = 8;
  constexpr size_t kAhead = 2048;
  const size_t part = n / kStreams / 64 * 64;
  __m256i acc[kStreams];
  for (auto& a : acc) a = _mm256_setzero_si256();
  for (size_t i = 0; i < part; i += 64)
    for (int s = 0; s < kStreams; ++s) {
      const uint8_t* q = p + static_cast<size_t>(s) * part + i;
      _mm_prefetch(reinterpret_cast<const char*>(q + kAhead), static_cast<_mm_hint>(Hint));
      acc[s] = _mm256_add_epi64(acc[s], _mm256_load_si256(reinterpret_cast<const __m256i*>(q)));
      acc[s] = _mm256_add_epi64(acc[s], _mm256_load_si256(reinterpret_cast<const __m256i*>(q + 32)));
    }
  __m256i sum = acc[0];
  for (int s = 1; s < kStreams; ++s) sum = _mm256_add_epi64(sum, acc[s]);
  uint64_t out[4];
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), sum);
  return out[0] + out[1] + out[2] + out[3];
}

uint64_t read_streams_scalar(const uint8_t* p, size_t n) {
  const uint64_t* w = reinterpret_cast<const uint64_t*>(p);
  const size_t q = n / 32;
  uint64_t a = 0, b = 0, c = 0, d = 0;
  for (size_t i = 0; i < q; ++i) {
    a += w[i];
    b += w[q + i];
    c += w[2 * q + i];
    d += w[3 * q + i];
  }
  return a + b + c + d;
}

}  // namespace

double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int reps) {
  bytes = bytes / 4096 * 4096;
  bytes = bytes / (size_t{2} << 20) * (size_t{2} << 20);
  auto* buf = static_cast<uint8_t*>(std::aligned_alloc(size_t{2} << 20, bytes));
  madvise(buf, bytes, MADV_HUGEPAGE);  // TLB misses would otherwise cap the stream rate (in VMs especially)
  pool.parallel_for(static_cast<int64_t>(bytes / 4096), [&](int64_t b, int64_t e) {
    std::memset(buf + b * 4096, 1, static_cast<size_t>(e - b) * 4096);
  });
  const bool avx2 = __builtin_cpu_supports("avx2");
  std::atomic<uint64_t> sink{0};
  double best = 0;
  for (int rep = 0; rep < reps; ++rep) {
    const auto read = rep % 2 ? read_streams_avx2<_MM_HINT_T1> : read_streams_avx2<_MM_HINT_T0>;
    const auto t0 = Clock::now();
    pool.parallel_for(pool.size(), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        const size_t share = bytes / static_cast<size_t>(pool.size());
        const uint8_t* p = buf + static_cast<size_t>(t) * share;
        sink += avx2 ? read(p, share) : read_streams_scalar(p, share);
      }
    });
    best = std::max(best, static_cast<double>(bytes) / seconds_since(t0) / 1e9);
  }
  std::free(buf);
  return sink.load() == 42 ? best + 1e-12 : best;  // keep the reads observable
}

namespace {

struct alignas(64) HandoffLine {
  std::atomic<int64_t> turn{0};  // odd: the partner's move, even: the caller's
  std::atomic<bool> quit{false};
};

// Spins until line.turn == want; false if the other side quit. Yields the
// core now and then: on a busy machine the other thread may need it to run.
bool await_turn(HandoffLine& line, int64_t want) {
  for (int spins = 1; line.turn.load(std::memory_order_acquire) != want; ++spins) {
    if (line.quit.load(std::memory_order_relaxed)) return false;
    if (spins % 256 == 0) std::this_thread::yield();
    else _mm_pause();
  }
  return true;
}

}  // namespace

double measure_handoff_ns() {
  if (std::thread::hardware_concurrency() < 2) return 0;
  constexpr int64_t kBatch = 100, kBatches = 21;  // round trips per timed batch; batches (the first one warms up)
  constexpr auto kCap = std::chrono::milliseconds(200);
  HandoffLine line;
  std::thread partner([&] {
    for (int64_t t = 1; await_turn(line, t); t += 2) line.turn.store(t + 1, std::memory_order_release);
  });
  std::vector<double> batches;  // ns per round trip
  const auto start = Clock::now();
  int64_t t = 0;
  // At least two timed batches whatever the cap: on a loaded machine the
  // figure is then large, which is what hand-offs cost there.
  for (int64_t b = 0; b < kBatches && (b < 3 || Clock::now() - start < kCap); ++b) {
    const auto t0 = Clock::now();
    for (int64_t i = 0; i < kBatch; ++i, t += 2) {
      line.turn.store(t + 1, std::memory_order_release);
      await_turn(line, t + 2);
    }
    if (b > 0) batches.push_back(seconds_since(t0) * 1e9 / kBatch);
  }
  line.quit.store(true);
  partner.join();
  std::nth_element(batches.begin(), batches.begin() + static_cast<std::ptrdiff_t>(batches.size() / 2), batches.end());
  return batches[batches.size() / 2];
}

namespace {

// 12 independent accumulator chains per thread keep the dot-product ports busy.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) double vnni_loop(int64_t iters) {
  __m512i acc[12];
  for (auto& a : acc) a = _mm512_setzero_si512();
  const __m512i x = _mm512_set1_epi8(3), y = _mm512_set1_epi8(5);
  for (int64_t i = 0; i < iters; ++i)
    for (auto& a : acc) a = _mm512_dpbusd_epi32(a, x, y);
  __m512i s = acc[0];
  for (int k = 1; k < 12; ++k) s = _mm512_add_epi32(s, acc[k]);
  // OR, not a sum: the lanes wrap after many iterations, and a signed sum could overflow.
  return static_cast<double>(_mm512_reduce_or_epi32(s));
}

__attribute__((target("avx2"))) double avx2_int8_loop(int64_t iters) {
  __m256i acc[12];
  for (auto& a : acc) a = _mm256_setzero_si256();
  const __m256i x = _mm256_set1_epi8(3), y = _mm256_set1_epi8(5), ones = _mm256_set1_epi16(1);
  for (int64_t i = 0; i < iters; ++i)
    for (auto& a : acc) a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), ones));
  __m256i s = acc[0];
  for (int k = 1; k < 12; ++k) s = _mm256_add_epi32(s, acc[k]);
  return static_cast<double>(_mm256_extract_epi32(s, 0));
}

__attribute__((target("avx512f,avx512bf16"))) double bf16_loop(int64_t iters) {
  __m512 acc[12];
  for (auto& a : acc) a = _mm512_setzero_ps();
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3f80);
  for (int64_t i = 0; i < iters; ++i)
    for (auto& a : acc) a = _mm512_dpbf16_ps(a, x, y);
  __m512 s = acc[0];
  for (int k = 1; k < 12; ++k) s = _mm512_add_ps(s, acc[k]);
  return static_cast<double>(_mm512_reduce_add_ps(s));
}

__attribute__((target("avx512f"))) double fma512_loop(int64_t iters) {
  __m512 acc[12];
  for (auto& a : acc) a = _mm512_setzero_ps();
  const __m512 x = _mm512_set1_ps(1.0f), y = _mm512_set1_ps(1e-9f);
  for (int64_t i = 0; i < iters; ++i)
    for (auto& a : acc) a = _mm512_fmadd_ps(x, y, a);
  __m512 s = acc[0];
  for (int k = 1; k < 12; ++k) s = _mm512_add_ps(s, acc[k]);
  return static_cast<double>(_mm512_reduce_add_ps(s));
}

__attribute__((target("avx2,fma"))) double fma_loop(int64_t iters) {
  __m256 acc[12];
  for (auto& a : acc) a = _mm256_setzero_ps();
  const __m256 x = _mm256_set1_ps(1.0f), y = _mm256_set1_ps(1e-9f);
  for (int64_t i = 0; i < iters; ++i)
    for (auto& a : acc) a = _mm256_fmadd_ps(x, y, a);
  __m256 s = acc[0];
  for (int k = 1; k < 12; ++k) s = _mm256_add_ps(s, acc[k]);
  return static_cast<double>(_mm256_cvtss_f32(s));
}

// Four independent accumulator tiles; each tdpbsud is 16 x 16 x 64 multiply-adds.
DSI_AMX_TARGET double amx_loop(int64_t iters) {
  amx::configure();
  for (int64_t i = 0; i < iters; ++i) {
    _tile_dpbsud(4, 0, 2);
    _tile_dpbsud(5, 0, 3);
    _tile_dpbsud(6, 1, 2);
    _tile_dpbsud(7, 1, 3);
  }
  alignas(64) int32_t c[16][16];
  _tile_stored(4, c, 64);
  asm volatile("" ::: "memory");
  _tile_release();
  return static_cast<double>(c[0][0]);
}

// Runs loop(iters) on every thread; returns ops/s given ops per inner-loop iteration.
double run_peak(ThreadPool& pool, double (*loop)(int64_t), double ops_per_iter) {
  const int64_t iters = 2'000'000;
  std::atomic<double> sink{0};
  double best = 0;
  for (int rep = 0; rep < 3; ++rep) {
    const auto t0 = Clock::now();
    pool.parallel_for(pool.size(), [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) sink = sink + loop(iters);
    });
    best = std::max(best, ops_per_iter * static_cast<double>(iters) * pool.size() / seconds_since(t0) / 1e9);
  }
  return sink.load() == 0.5 ? best + 1e-12 : best;
}

}  // namespace

double measure_int8_peak(ThreadPool& pool, const char** instruction) {
  if (__builtin_cpu_supports("avx512vnni")) {
    *instruction = "avx512-vnni vpdpbusd";
    return run_peak(pool, vnni_loop, 12.0 * 64 * 2);
  }
  *instruction = "avx2 vpmaddubsw";
  return run_peak(pool, avx2_int8_loop, 12.0 * 32 * 2);
}

double measure_amx_int8_peak(ThreadPool& pool) {
  if (!isa_supported(Isa::Amx)) return 0;
  // run_peak's 2M iterations of 4 tile products: ~40 ms a repetition.
  return run_peak(pool, amx_loop, 4.0 * 16 * 16 * 64 * 2);
}

double measure_bf16_peak(ThreadPool& pool, const char** instruction) {
  if (__builtin_cpu_supports("avx512bf16")) {
    *instruction = "avx512-bf16 vdpbf16ps";
    return run_peak(pool, bf16_loop, 12.0 * 32 * 2);
  }
  return measure_f32_peak(pool, instruction);
}

double measure_f32_peak(ThreadPool& pool, const char** instruction) {
  if (__builtin_cpu_supports("avx512f")) {
    *instruction = "avx512f fma (f32)";
    return run_peak(pool, fma512_loop, 12.0 * 16 * 2);
  }
  *instruction = "avx2 fma (f32)";
  return run_peak(pool, fma_loop, 12.0 * 8 * 2);
}

}  // namespace dsinfer::kernels::cpu
