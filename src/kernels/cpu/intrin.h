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
