// The host machine's limits, measured now: what benchmarks report their
// figures against (memory-bound decode against read bandwidth, compute-bound
// prefill against the dot-product peak).
#pragma once

#include <string>

namespace dsinfer::kernels {

struct MachinePeaks {
  double read_gbps = 0;
  double int8_gops = 0;
  std::string int8_instruction;
  double amx_int8_gops = 0;  // 0 without AMX
  double bf16_gflops = 0;
  std::string bf16_instruction;
  double f32_gflops = 0;  // f32 FMA
  std::string f32_instruction;
};

// threads <= 0: all hardware threads. Takes about a second.
MachinePeaks measure_machine(int threads);

// Measures the dot-product peaks again and keeps the higher of each in p: a
// peak taken while a neighbour held a core came out at half (V2-Lite's
// prefill then read 117% of it), so a benchmark probes before and after.
void remeasure_dot_peaks(MachinePeaks& p, int threads);

// The read bandwidth alone (GB/s), in a few tenths of a second, with threads
// that are gone when it returns: for probes between a benchmark's phases (a
// shared machine's bandwidth moves with its neighbours' load).
double measure_read_gbps(int threads);

// A cache line's round trip between two threads (ns; cpu/probe.h): the cost
// of every hand-off between the pool's threads, and on a VM the sign of where
// its vCPUs sit (sharing a cache, or on dies with a memory link each).
double measure_handoff_ns();

}  // namespace dsinfer::kernels
