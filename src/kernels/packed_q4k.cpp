#include "kernels/packed_q4k.h"

#include <cstring>

#include "core/error.h"
#include "core/quant.h"

namespace dsinfer::kernels::q4kx16 {

namespace {

// One row's super-block into lane `l` of a packed super-block.
void pack_lane(const BlockQ4_K& b, int l, uint8_t* sup) {
  std::memcpy(sup + 2 * l, &b.d, 2);
  std::memcpy(sup + 32 + 2 * l, &b.dmin, 2);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    q4k_scale_min(j, b.scales, &sc, &m);
    sup[kScOffset + 16 * j + l] = sc;
    sup[kMinOffset + 16 * j + l] = m;
    // Sub-block j's 32 values: GGUF keeps them in the low (even j) or high
    // (odd j) nibbles of qs[32 * (j / 2) .. + 31].
    const uint8_t* q = b.qs + 32 * (j / 2);
    const int shift = 4 * (j & 1);
    for (int h = 0; h < 4; ++h)
      for (int i = 0; i < 4; ++i) {
        const int lo = (q[8 * h + i] >> shift) & 0xf, hi = (q[8 * h + 4 + i] >> shift) & 0xf;
        sup[kQsOffset + 256 * j + 64 * h + 4 * l + i] = static_cast<uint8_t>(lo | (hi << 4));
      }
  }
}

}  // namespace

void pack_groups(const Weight& w, int64_t g0, int64_t g1, uint8_t* out) {
  if (w.dtype != DType::Q4_K || w.row0 != 0) fail("q4kx16::pack_groups: expects a whole Q4_K matrix");
  const int64_t nsb = w.cols / 256;
  const size_t rb = row_bytes(DType::Q4_K, w.cols);
  for (int64_t g = g0; g < g1; ++g) {
    uint8_t* grp = out + g * group_bytes(w.cols);
    std::memset(grp, 0, static_cast<size_t>(group_bytes(w.cols)));
    for (int l = 0; l < kRows && g * kRows + l < w.rows; ++l) {
      const auto* row = static_cast<const uint8_t*>(w.data) + rb * static_cast<size_t>(g * kRows + l);
      for (int64_t sb = 0; sb < nsb; ++sb) {
        BlockQ4_K b;
        std::memcpy(&b, row + sb * static_cast<int64_t>(sizeof(BlockQ4_K)), sizeof b);
        pack_lane(b, l, grp + sb * kSuperBytes);
      }
    }
  }
}

Weight packed_view(const Weight& w, const uint8_t* packed) {
  Weight p = w;
  p.data = packed;
  p.group_rows = kRows;
  return p;
}

void dequant_row(const Weight& w, int64_t r, float* out) {
  const int64_t row = w.row0 + r;
  const int l = static_cast<int>(row % kRows);
  const uint8_t* grp = static_cast<const uint8_t*>(w.data) + row / kRows * group_bytes(w.cols);
  for (int64_t sb = 0; sb < w.cols / 256; ++sb) {
    const uint8_t* sup = grp + sb * kSuperBytes;
    uint16_t d16, m16;
    std::memcpy(&d16, sup + 2 * l, 2);
    std::memcpy(&m16, sup + 32 + 2 * l, 2);
    const float d = half_to_float(d16), dmin = half_to_float(m16);
    for (int j = 0; j < 8; ++j) {
      const float scale = d * static_cast<float>(sup[kScOffset + 16 * j + l]);
      const float min = dmin * static_cast<float>(sup[kMinOffset + 16 * j + l]);
      float* o = out + sb * 256 + 32 * j;
      for (int h = 0; h < 4; ++h)
        for (int i = 0; i < 4; ++i) {
          const uint8_t byte = sup[kQsOffset + 256 * j + 64 * h + 4 * l + i];
          o[8 * h + i] = scale * static_cast<float>(byte & 0xf) - min;
          o[8 * h + 4 + i] = scale * static_cast<float>(byte >> 4) - min;
        }
    }
  }
}

}  // namespace dsinfer::kernels::q4kx16
