#include "io/ggml_dequant.h"

#include <cstring>

#include "core/error.h"
#include "core/quant.h"

namespace dsinfer::io {

namespace {

struct BlockQ4_1 {
  uint16_t d, m;  // f16 scale and minimum: x = q * d + m
  uint8_t qs[16];  // values j (low nibble) and j + 16 (high nibble)
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
static_assert(sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_1) == 24);

template <typename B>
const B* blocks(const uint8_t* p) {
  return reinterpret_cast<const B*>(p);
}

uint32_t high_bits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  return h;
}

// The five-bit codes of a Q5_1 block.
void codes5(const uint8_t* qh4, const uint8_t* qs, int* q) {
  const uint32_t h = high_bits(qh4);
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0x0F) | static_cast<int>(((h >> j) & 1u) << 4);
    q[j + 16] = (qs[j] >> 4) | static_cast<int>(((h >> (j + 16)) & 1u) << 4);
  }
}

}  // namespace

bool ggml_dequantizable(uint32_t type) {
  return type == kGgmlQ4_1 || type == kGgmlQ5_1;
}

int64_t ggml_block_values(uint32_t) { return 32; }

int64_t ggml_block_bytes(uint32_t type) {
  switch (type) {
    case kGgmlQ4_1: return sizeof(BlockQ4_1);
    case kGgmlQ5_1: return sizeof(BlockQ5_1);
    default: fail("ggml type ", type, " has no dequantizer in dsinfer");
  }
}

void ggml_dequantize_row(uint32_t type, const uint8_t* in, int64_t n, float* out) {
  const int64_t nb = n / ggml_block_values(type);
  int q[32];
  for (int64_t i = 0; i < nb; ++i) {
    float* y = out + i * ggml_block_values(type);
    switch (type) {
      case kGgmlQ4_1: {
        const BlockQ4_1& b = blocks<BlockQ4_1>(in)[i];
        const float d = half_to_float(b.d), m = half_to_float(b.m);
        for (int j = 0; j < 16; ++j) {
          y[j] = static_cast<float>(b.qs[j] & 0x0F) * d + m;
          y[j + 16] = static_cast<float>(b.qs[j] >> 4) * d + m;
        }
        break;
      }
      case kGgmlQ5_1: {
        const BlockQ5_1& b = blocks<BlockQ5_1>(in)[i];
        codes5(b.qh, b.qs, q);
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(q[j]) * half_to_float(b.d) + half_to_float(b.m);
        break;
      }
      default:
        fail("ggml type ", type, " has no dequantizer in dsinfer");
    }
  }
}

}  // namespace dsinfer::io
