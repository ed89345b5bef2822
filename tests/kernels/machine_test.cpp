// remeasure_dot_peaks: a benchmark's second probe can only raise a peak (a
// probe disturbed by a neighbour comes out low, never high).
#include "kernels/machine.h"

#include <gtest/gtest.h>

namespace dsinfer::kernels {
namespace {

TEST(MachinePeaks, RemeasureKeepsTheHigherPeak) {
  MachinePeaks p;
  p.int8_gops = 1e9;  // far above any CPU: the new probe must not replace it
  p.bf16_gflops = 1e9;
  p.f32_gflops = 1e9;
  remeasure_dot_peaks(p, 1);
  EXPECT_EQ(p.int8_gops, 1e9);
  EXPECT_EQ(p.bf16_gflops, 1e9);
  EXPECT_EQ(p.f32_gflops, 1e9);
  EXPECT_FALSE(p.int8_instruction.empty());
  EXPECT_FALSE(p.bf16_instruction.empty());
  EXPECT_FALSE(p.f32_instruction.empty());
}

TEST(MachinePeaks, RemeasureRaisesALowPeak) {
  MachinePeaks p;  // zeros: what a probe starved of its core would approach
  remeasure_dot_peaks(p, 1);
  EXPECT_GT(p.int8_gops, 1.0);
  EXPECT_GT(p.bf16_gflops, 1.0);
  EXPECT_GT(p.f32_gflops, 1.0);
  EXPECT_EQ(p.read_gbps, 0.0) << "only the dot-product peaks are probed again";
}

}  // namespace
}  // namespace dsinfer::kernels
