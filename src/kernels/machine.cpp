#include "kernels/machine.h"

#include "core/thread_pool.h"
#include "kernels/cpu/probe.h"

namespace dsinfer::kernels {

MachinePeaks measure_machine(int threads) {
  ThreadPool pool(threads);
  MachinePeaks p;
  p.read_gbps = cpu::measure_read_bandwidth(pool, size_t{1} << 30);
  const char* name = "";
  p.int8_gops = cpu::measure_int8_peak(pool, &name);
  p.int8_instruction = name;
  p.amx_int8_gops = cpu::measure_amx_int8_peak(pool);
  p.bf16_gflops = cpu::measure_bf16_peak(pool, &name);
  p.bf16_instruction = name;
  return p;
}

double measure_read_gbps(int threads) {
  ThreadPool pool(threads);
  return cpu::measure_read_bandwidth(pool, size_t{1} << 30, 2);  // one pass per prefetch hint
}

}  // namespace dsinfer::kernels
