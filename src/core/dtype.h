// Element types of stored tensors and the scalar conversions to float32.
// The conversions here are the reference semantics every kernel must match.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace dsinfer {

// Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K are GGUF's block-quantized layouts (core/quant.h); their
// dtype_size is 0: use row_bytes.
enum class DType : uint8_t { F32, F16, BF16, F8_E4M3, I8, U8, I32, I64, F64, BOOL, Q8_0, Q4_0, Q4_K, Q6_K, Q5_K, Q5_0 };

// Name as written in safetensors headers ("BF16", "F8_E4M3", ...).
std::string_view dtype_name(DType t);
std::optional<DType> dtype_from_name(std::string_view name);
size_t dtype_size(DType t);

inline float bf16_to_f32(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Round-to-nearest-even, NaN kept quiet.
inline uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

// OCP FP8 E4M3 (the "fn" variant: no infinities, 0x7f/0xff are NaN), as torch.float8_e4m3fn.
float fp8_e4m3_to_f32(uint8_t v);

}  // namespace dsinfer
