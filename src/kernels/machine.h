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
};

// threads <= 0: all hardware threads. Takes about a second.
MachinePeaks measure_machine(int threads);

}  // namespace dsinfer::kernels
