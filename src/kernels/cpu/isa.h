// SIMD levels of the CPU kernels, detected at run time. The binary is built for
// the baseline ISA; the AVX2 and AVX-512 kernels carry their own target
// attributes and run only when the CPU supports them.
#pragma once

#include <string_view>

namespace dsinfer::kernels::cpu {

// Ordered: each level has every kernel of the levels below it.
enum class Isa { Scalar, Avx2, Avx512, Amx };

// Amx: Avx512 plus AMX-TILE and AMX-INT8 with the kernel's permission to use
// the tile registers (requested once per process; the prefill products of the
// repacked integer types). Avx512: AVX-512 F/BW/VL/VNNI (+ AVX2/FMA/F16C).
// Avx2: AVX2, FMA, F16C.
bool isa_supported(Isa isa);
Isa best_isa();
std::string_view isa_name(Isa isa);  // "scalar", "avx2", "avx512", "amx"
// AVX512_BF16 (vdpbf16ps), beside Avx512: the bf16 dot products of attention
// over a bf16 cache and of matmuls with bf16 activations.
bool has_bf16_dots();
// AMX-BF16 (tdpbf16ps), beside Isa::Amx: attention over a bf16 cache.
bool has_amx_bf16();
// Whether vdpbf16ps does more multiply-adds per cycle than f32 FMA here, so
// that rounding bf16-weight products' activations to bf16 buys speed
// (BackendOptions::Activations::Auto): AMD's AVX512_BF16 cores (Zen 4, Zen 5:
// twice the FMA's rate). Intel's run it on one port, at the FMA's rate or
// below (an AMX Xeon VM: 245 against 494 GFLOPS, matmul_bench's peaks).
bool bf16_dots_outrun_fma();
// Whether decode reads quantized weights faster cut into stripes a multiple
// of 32 MB apart (BackendOptions::Stripes::Auto): on the AMD Zen VMs they
// read ~5% faster (architecture.md, "Striped weights"); on an AMX Xeon VM
// ~3% slower (dsinfer bench 1.5B q4_k, 5 alternated pairs: 30.3 against
// 31.1 tokens/s; q8_0 and V2-Lite alike).
bool stripes_read_faster();
// "auto" picks best_isa(); throws for an unknown name or a level this CPU lacks.
Isa resolve_isa(std::string_view name);

}  // namespace dsinfer::kernels::cpu
