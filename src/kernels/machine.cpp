#include "kernels/machine.h"

#include <algorithm>

#include "core/thread_pool.h"
#include "kernels/cpu/probe.h"

namespace dsinfer::kernels {

namespace {

void dot_peaks(ThreadPool& pool, MachinePeaks& p) {
  const char* name = "";
  p.int8_gops = std::max(p.int8_gops, cpu::measure_int8_peak(pool, &name));
  p.int8_instruction = name;
  p.amx_int8_gops = std::max(p.amx_int8_gops, cpu::measure_amx_int8_peak(pool));
  p.bf16_gflops = std::max(p.bf16_gflops, cpu::measure_bf16_peak(pool, &name));
  p.bf16_instruction = name;
  p.f32_gflops = std::max(p.f32_gflops, cpu::measure_f32_peak(pool, &name));
  p.f32_instruction = name;
}

}  // namespace

MachinePeaks measure_machine(int threads) {
  ThreadPool pool(threads);
  MachinePeaks p;
  p.read_gbps = cpu::measure_read_bandwidth(pool, size_t{1} << 30);
  dot_peaks(pool, p);
  return p;
}

void remeasure_dot_peaks(MachinePeaks& p, int threads) {
  ThreadPool pool(threads);
  dot_peaks(pool, p);
}

double measure_read_gbps(int threads) {
  ThreadPool pool(threads);
  return cpu::measure_read_bandwidth(pool, size_t{1} << 30, 2);  // one pass per prefetch hint
}

double measure_handoff_ns() { return cpu::measure_handoff_ns(); }

}  // namespace dsinfer::kernels
