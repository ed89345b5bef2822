// Constants of the float exp shared by the scalar and SIMD kernels
// (Cody-Waite split of ln 2 and the minimax polynomial of the Cephes expf).
#pragma once

namespace dsinfer::kernels::cpu::exp_consts {

inline constexpr float kLog2e = 1.44269504088896341f;
inline constexpr float kLn2Hi = 0.693359375f;
inline constexpr float kLn2Lo = -2.12194440e-4f;
inline constexpr float kMinArg = -104.0f;  // e^x is below the smallest denormal
inline constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f;
inline constexpr float kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

}  // namespace dsinfer::kernels::cpu::exp_consts

namespace dsinfer::kernels::cpu {

// e^x in float by range reduction to 2^n e^r, |r| <= ln2 / 2, and a degree-6
// polynomial (about 1 ulp); exact 1 at 0, 0 below -104. The SIMD kernels use
// the same constants (exp16 in exp_avx512.h is its twin).
float exp_approx(float x);

}  // namespace dsinfer::kernels::cpu
