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
struct BlockQ5_0 {
  uint16_t d;      // f16: x = (q - 16) * d
  uint8_t qh[4];   // bit j: the fifth bit of value j
  uint8_t qs[16];  // low four bits: value j (low nibble), j + 16 (high nibble)
};
struct BlockQ5_1 {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
};
struct BlockQ5_K {
  uint16_t d, dmin;     // f16 super-block scales of the 6-bit sub-block scales and mins
  uint8_t scales[12];   // as Q4_K's
  uint8_t qh[32];       // bit 2c / 2c + 1 of byte l: fifth bit of value l of sub-block 2c / 2c + 1
  uint8_t qs[128];      // low four bits, 32 bytes per pair of sub-blocks
};
static_assert(sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 && sizeof(BlockQ5_1) == 24 && sizeof(BlockQ5_K) == 176);

template <typename B>
const B* blocks(const uint8_t* p) {
  return reinterpret_cast<const B*>(p);
}

uint32_t high_bits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  return h;
}

// The five-bit codes of a Q5_0 / Q5_1 block.
void codes5(const uint8_t* qh4, const uint8_t* qs, int* q) {
  const uint32_t h = high_bits(qh4);
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0x0F) | static_cast<int>(((h >> j) & 1u) << 4);
    q[j + 16] = (qs[j] >> 4) | static_cast<int>(((h >> (j + 16)) & 1u) << 4);
  }
}

void q5_k_block(const BlockQ5_K& b, float* y) {
  const float d = half_to_float(b.d), dmin = half_to_float(b.dmin);
  for (int pair = 0; pair < 4; ++pair) {
    const uint8_t* ql = b.qs + 32 * pair;
    for (int half = 0; half < 2; ++half) {
      const int sub = 2 * pair + half;
      uint8_t sc, m;
      q4k_scale_min(sub, b.scales, &sc, &m);
      const float scale = d * sc, min = dmin * m;
      for (int l = 0; l < 32; ++l) {
        const int low = half ? ql[l] >> 4 : ql[l] & 0x0F;
        const int high = (b.qh[l] >> sub) & 1;
        y[32 * sub + l] = scale * static_cast<float>(low | (high << 4)) - min;
      }
    }
  }
}

}  // namespace

bool ggml_dequantizable(uint32_t type) {
  return type == kGgmlQ4_1 || type == kGgmlQ5_0 || type == kGgmlQ5_1 || type == kGgmlQ5_K;
}

int64_t ggml_block_values(uint32_t type) { return type == kGgmlQ5_K ? 256 : 32; }

int64_t ggml_block_bytes(uint32_t type) {
  switch (type) {
    case kGgmlQ4_1: return sizeof(BlockQ4_1);
    case kGgmlQ5_0: return sizeof(BlockQ5_0);
    case kGgmlQ5_1: return sizeof(BlockQ5_1);
    case kGgmlQ5_K: return sizeof(BlockQ5_K);
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
      case kGgmlQ5_0: {
        const BlockQ5_0& b = blocks<BlockQ5_0>(in)[i];
        codes5(b.qh, b.qs, q);
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(q[j] - 16) * half_to_float(b.d);
        break;
      }
      case kGgmlQ5_1: {
        const BlockQ5_1& b = blocks<BlockQ5_1>(in)[i];
        codes5(b.qh, b.qs, q);
        for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(q[j]) * half_to_float(b.d) + half_to_float(b.m);
        break;
      }
      case kGgmlQ5_K:
        q5_k_block(blocks<BlockQ5_K>(in)[i], y);
        break;
      default:
        fail("ggml type ", type, " has no dequantizer in dsinfer");
    }
  }
}

void q5_0_to_q8_0(const uint8_t* in, int64_t n, uint8_t* out) {
  int q[32];
  for (int64_t i = 0; i < n / 32; ++i) {
    const BlockQ5_0& b = blocks<BlockQ5_0>(in)[i];
    BlockQ8_0 o;
    o.d = b.d;
    codes5(b.qh, b.qs, q);
    for (int j = 0; j < 32; ++j) o.qs[j] = static_cast<int8_t>(q[j] - 16);
    std::memcpy(out + i * static_cast<int64_t>(sizeof(BlockQ8_0)), &o, sizeof(BlockQ8_0));
  }
}

}  // namespace dsinfer::io
