// Measurements of the machine itself, taken in the same run as a benchmark so
// results are reported as fractions of what this machine can do right now.
#pragma once

#include <cstddef>

#include "core/thread_pool.h"

namespace dsinfer::kernels::cpu {

// Read bandwidth in GB/s: every thread streams its share of a buffer much
// larger than the caches with several independent streams (one stream per
// thread underestimates the memory system). The best of `reps` passes, which
// alternate the prefetch hint (see probe.cpp).
double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int reps = 6);
// How long one cache line takes to go from one thread to another and back
// (ns), as the thread pool's hand-offs and the activations of each step do:
// the median of batches of round trips between two threads; 0 with one
// hardware thread. Cores that share a cache pass a
// line in ~100 ns; cores on different dies (an AMD CCD each) take several
// times longer, and then have a memory link each: a VM whose two vCPUs move
// between those placements changes both figures at once.
double measure_handoff_ns();
// Peak int8 multiply-accumulate throughput in GOP/s (2 ops per MAC) with the
// best dot-product instruction available (VNNI vpdpbusd, AVX2 vpmaddubsw), all threads.
double measure_int8_peak(ThreadPool& pool, const char** instruction);
// Peak int8 throughput of the AMX unit (tdpbsud, tiles held in registers) in
// GOP/s, all threads; 0 where Isa::Amx is not available.
double measure_amx_int8_peak(ThreadPool& pool);
// Peak bf16 dot-product throughput in GFLOP/s (vdpbf16ps; FMA on f32 when absent).
double measure_bf16_peak(ThreadPool& pool, const char** instruction);
// Peak f32 FMA throughput in GFLOP/s (AVX-512F, else AVX2): the float
// kernels' instruction with float32 activations.
double measure_f32_peak(ThreadPool& pool, const char** instruction);

}  // namespace dsinfer::kernels::cpu
