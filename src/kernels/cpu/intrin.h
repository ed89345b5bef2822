// <immintrin.h> for the SIMD kernel files. GCC 12's AVX-512 headers seed
// "undefined" vectors with a self-initialisation (`__m512 __Y = __Y;`) that
// -Wuninitialized reports wherever those intrinsics are inlined (GCC bug
// 105593, fixed in GCC 13); the suppression covers only the header's own lines.
#pragma once

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif

namespace dsinfer::kernels::cpu {
// Where decode kernels prefetch the weights they stream from memory (a few KB
// ahead in each of a thread's 4-8 streams): into L2, not L1. On a Zen 4 VM
// the same prefetches into L1 held those lines in L1's few miss buffers and
// its 32 KB; into L2, decode read 20-50% faster (matmul_bench Decode;
// dsinfer bench decode of the 1.5B, V2-Lite, q8_0, q4_k and bf16). Compute-bound
// tiles (prefill) still prefetch into L1.
inline constexpr auto kStreamHint = _MM_HINT_T1;
}  // namespace dsinfer::kernels::cpu
