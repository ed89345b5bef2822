#include "kernels/packed.h"

#include <cstring>

#include "core/error.h"
#include "core/quant.h"

namespace dsinfer::kernels::packed {

namespace {

float half_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return half_to_float(h);
}

// Scale and min v of a packed Q4_K block (packed.h), 6 bits each.
void set_scale_min(uint8_t* blk, int v, uint8_t sc, uint8_t m) {
  using namespace q4k;
  const int k = v % 64, half = v / 64;
  const auto put = [&](int64_t at, int shift, int bits, int value) {
    const int mask = ((1 << bits) - 1) << shift;
    blk[at] = static_cast<uint8_t>((blk[at] & ~mask) | ((value << shift) & mask));
  };
  put(kScalesOffset + k, 4 * half, 4, sc & 0xf);
  put(kScalesOffset + 64 + k, 4 * half, 4, m & 0xf);
  put(kScalesOffset + 128 + k, 2 * half, 2, sc >> 4);
  put(kScalesOffset + 128 + k, 4 + 2 * half, 2, m >> 4);
}

// One row's Q4_K super-block into lane `l` of a packed block.
void pack_q4k_lane(const BlockQ4_K& b, int l, uint8_t* blk) {
  using namespace q4k;
  std::memcpy(blk + 2 * l, &b.d, 2);
  std::memcpy(blk + 32 + 2 * l, &b.dmin, 2);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    q4k_scale_min(j, b.scales, &sc, &m);
    set_scale_min(blk, 16 * j + l, sc, m);
    // Sub-block j's 32 values: GGUF keeps them in the low (even j) or high
    // (odd j) nibbles of qs[32 * (j / 2) .. + 31].
    const uint8_t* q = b.qs + 32 * (j / 2);
    const int shift = 4 * (j & 1);
    for (int h = 0; h < 4; ++h)
      for (int i = 0; i < 4; ++i) {
        const int lo = (q[8 * h + i] >> shift) & 0xf, hi = (q[8 * h + 4 + i] >> shift) & 0xf;
        blk[kQsOffset + 256 * j + 64 * h + 4 * l + i] = static_cast<uint8_t>(lo | (hi << 4));
      }
  }
}

// Q5_K's fields but the fifth bits, as Q4_K's block.
BlockQ4_K low_bits(const BlockQ5_K& b) {
  BlockQ4_K q;
  q.d = b.d;
  q.dmin = b.dmin;
  std::memcpy(q.scales, b.scales, sizeof q.scales);
  std::memcpy(q.qs, b.qs, sizeof q.qs);
  return q;
}

// Bit of a packed Q5_K block's fifth-bit mask for row l's value v of sub-block j.
struct FifthBit {
  int64_t at;  // byte offset in the block
  int bit;
  FifthBit(int j, int v, int l) : at(q5k::mask_at(j, v / 8, v / 4 % 2) + (4 * l + v % 4) / 8), bit((4 * l + v % 4) % 8) {}
};

// One row's Q5_K super-block into lane l: Q4_K's lane, then the fifth bits
// (GGUF: value v of sub-block j has it in bit j of qh[v]).
void pack_q5k_lane(const BlockQ5_K& b, int l, uint8_t* blk) {
  pack_q4k_lane(low_bits(b), l, blk);
  for (int j = 0; j < 8; ++j)
    for (int v = 0; v < 32; v += 4) {  // values v .. v + 3: lane l's 4 bits of one mask, as FifthBit places them
      int bits = 0;
      for (int i = 0; i < 4; ++i) bits |= ((b.qh[v + i] >> j) & 1) << i;
      const FifthBit f(j, v, l);
      blk[f.at] = static_cast<uint8_t>((blk[f.at] & ~(0xf << f.bit)) | bits << f.bit);
    }
}

// Where row l's value v (of 256) of a packed Q6_K block keeps its bits: the
// qs byte and nibble of its low 4, the qh byte and shift of its high 2.
struct Q6Place {
  int64_t qs, qh;
  int nibble, shift;
  Q6Place(int v, int l) {
    const int j = v / 32, w = v % 32, h = w / 8, e = w % 8 / 4, i = w % 4;
    qs = q6k::kQsOffset + 256 * j + 64 * h + 4 * l + i;
    nibble = 4 * e;
    qh = q6k::qh_at(j, h / 2) + 4 * l + i;
    shift = 2 * (2 * (h % 2) + e);
  }
  int code(const uint8_t* blk) const { return ((blk[qs] >> nibble) & 0xf) | ((blk[qh] >> shift) & 3) << 4; }
};

// One row's Q6_K super-block into lane l, each byte the lane owns written
// once. GGUF keeps the codes of values 32j .. 32j + 31 in consecutive bytes of
// ql (one nibble) and qh (two bits), as q6k_code reads them.
void pack_q6k_lane(const BlockQ6_K& b, int l, uint8_t* blk) {
  using namespace q6k;
  std::memcpy(blk + kDOffset + 2 * l, &b.d, 2);
  for (int k = 0; k < 16; ++k) blk[kScOffset + 16 * k + l] = static_cast<uint8_t>(b.scales[k]);
  for (int j = 0; j < 8; ++j) {
    const uint8_t* ql = b.ql + 64 * (j / 4) + 32 * (j % 2);
    const uint8_t* qh = b.qh + 32 * (j / 4);
    const int nibble = 4 * (j % 4 / 2), shift = 2 * (j % 4);
    const auto code = [&](int w) { return (ql[w] >> nibble & 0xf) | (qh[w] >> shift & 3) << 4; };
    for (int p = 0; p < 2; ++p)
      for (int i = 0; i < 4; ++i) {
        int high = 0;
        for (int u = 0; u < 2; ++u) {  // load h = 2p + u: values 8h + i (low nibble) and 8h + 4 + i (high)
          const int h = 2 * p + u, lo = code(8 * h + i), hi = code(8 * h + 4 + i);
          blk[kQsOffset + 256 * j + 64 * h + 4 * l + i] = static_cast<uint8_t>((lo & 0xf) | (hi & 0xf) << 4);
          high |= (lo >> 4) << (4 * u) | (hi >> 4) << (4 * u + 2);
        }
        blk[qh_at(j, p) + 4 * l + i] = static_cast<uint8_t>(high);
      }
  }
}

void pack_q8_lane(const BlockQ8_0& b, int l, uint8_t* blk) {
  std::memcpy(blk + 2 * l, &b.d, 2);
  for (int h = 0; h < 8; ++h)
    for (int i = 0; i < 4; ++i)
      blk[q8::kQsOffset + 64 * h + 4 * l + i] = static_cast<uint8_t>(b.qs[4 * h + i] + 128);
}

void pack_q4_lane(const BlockQ4_0& b, int l, uint8_t* blk) {
  std::memcpy(blk + 2 * l, &b.d, 2);
  for (int h = 0; h < 4; ++h)
    for (int i = 0; i < 4; ++i) blk[q4::kQsOffset + 64 * h + 4 * l + i] = b.qs[4 * h + i];
}

// Bit of a packed Q5_0 block's masks for row l's value v (= 16 p + 4 h + i).
struct FifthBit32 {
  int64_t at;
  int bit;
  FifthBit32(int v, int l) : at(q5::mask_at(v % 16 / 4, v / 16) + (4 * l + v % 4) / 8), bit((4 * l + v % 4) % 8) {}
};

// Q4_0's lane from the low nibbles (same places), then the fifth bits.
void pack_q5_lane(const BlockQ5_0& b, int l, uint8_t* blk) {
  BlockQ4_0 low;
  low.d = b.d;
  std::memcpy(low.qs, b.qs, sizeof low.qs);
  pack_q4_lane(low, l, blk);
  for (int v = 0; v < 32; ++v) {
    const FifthBit32 f(v, l);
    blk[f.at] = static_cast<uint8_t>((blk[f.at] & ~(1 << f.bit)) | ((q5_0_code(b, v) >> 4) << f.bit));
  }
}

// The inverses: lane l of a packed block back into one row's GGUF block.
void unpack_q4k_lane(const uint8_t* blk, int l, BlockQ4_K& b) {
  using namespace q4k;
  std::memcpy(&b.d, blk + 2 * l, 2);
  std::memcpy(&b.dmin, blk + 32 + 2 * l, 2);
  uint8_t sc[8], m[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = scale_min(blk, 16 * j + l, false);
    m[j] = scale_min(blk, 16 * j + l, true);
  }
  q4k_pack_scales(sc, m, b.scales);
  std::memset(b.qs, 0, sizeof b.qs);
  for (int j = 0; j < 8; ++j) {
    uint8_t* q = b.qs + 32 * (j / 2);
    const int shift = 4 * (j & 1);
    for (int h = 0; h < 4; ++h)
      for (int i = 0; i < 4; ++i) {
        const uint8_t byte = blk[kQsOffset + 256 * j + 64 * h + 4 * l + i];
        q[8 * h + i] = static_cast<uint8_t>(q[8 * h + i] | ((byte & 0xf) << shift));
        q[8 * h + 4 + i] = static_cast<uint8_t>(q[8 * h + 4 + i] | ((byte >> 4) << shift));
      }
  }
}

void unpack_q5k_lane(const uint8_t* blk, int l, BlockQ5_K& b) {
  BlockQ4_K q;
  unpack_q4k_lane(blk, l, q);
  b.d = q.d;
  b.dmin = q.dmin;
  std::memcpy(b.scales, q.scales, sizeof b.scales);
  std::memcpy(b.qs, q.qs, sizeof b.qs);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int j = 0; j < 8; ++j)
    for (int v = 0; v < 32; ++v) {
      const FifthBit f(j, v, l);
      b.qh[v] = static_cast<uint8_t>(b.qh[v] | ((blk[f.at] >> f.bit) & 1) << j);
    }
}

void unpack_q6k_lane(const uint8_t* blk, int l, BlockQ6_K& b) {
  using namespace q6k;
  std::memcpy(&b.d, blk + kDOffset + 2 * l, 2);
  for (int k = 0; k < 16; ++k) b.scales[k] = static_cast<int8_t>(blk[kScOffset + 16 * k + l]);
  std::memset(b.ql, 0, sizeof b.ql);
  std::memset(b.qh, 0, sizeof b.qh);
  for (int v = 0; v < 256; ++v) q6k_or_code(b, v, Q6Place(v, l).code(blk));
}

void unpack_q8_lane(const uint8_t* blk, int l, BlockQ8_0& b) {
  std::memcpy(&b.d, blk + 2 * l, 2);
  for (int h = 0; h < 8; ++h)
    for (int i = 0; i < 4; ++i) b.qs[4 * h + i] = static_cast<int8_t>(blk[q8::kQsOffset + 64 * h + 4 * l + i] - 128);
}

void unpack_q4_lane(const uint8_t* blk, int l, BlockQ4_0& b) {
  std::memcpy(&b.d, blk + 2 * l, 2);
  for (int h = 0; h < 4; ++h)
    for (int i = 0; i < 4; ++i) b.qs[4 * h + i] = blk[q4::kQsOffset + 64 * h + 4 * l + i];
}

int fifth_bit32(const uint8_t* blk, int v, int l) {
  const FifthBit32 f(v, l);
  return (blk[f.at] >> f.bit) & 1;
}

void unpack_q5_lane(const uint8_t* blk, int l, BlockQ5_0& b) {
  BlockQ4_0 low;
  unpack_q4_lane(blk, l, low);
  b.d = low.d;
  std::memcpy(b.qs, low.qs, sizeof b.qs);
  uint32_t qh = 0;
  for (int v = 0; v < 32; ++v) qh |= static_cast<uint32_t>(fifth_bit32(blk, v, l)) << v;
  std::memcpy(b.qh, &qh, 4);
}

// Q4_K, or with Five Q5_K (the fifth bits from the masks).
template <bool Five>
void dequant_k(const uint8_t* blk, int l, float* o) {
  using namespace q4k;
  const float d = half_at(blk + 2 * l), dmin = half_at(blk + 32 + 2 * l);
  for (int j = 0; j < 8; ++j) {
    const float scale = d * static_cast<float>(scale_min(blk, 16 * j + l, false));
    const float min = dmin * static_cast<float>(scale_min(blk, 16 * j + l, true));
    for (int h = 0; h < 4; ++h)
      for (int i = 0; i < 4; ++i) {
        const uint8_t byte = blk[kQsOffset + 256 * j + 64 * h + 4 * l + i];
        int lo = byte & 0xf, hi = byte >> 4;
        if constexpr (Five) {
          const FifthBit fl(j, 8 * h + i, l), fh(j, 8 * h + 4 + i, l);
          lo |= ((blk[fl.at] >> fl.bit) & 1) << 4;
          hi |= ((blk[fh.at] >> fh.bit) & 1) << 4;
        }
        o[32 * j + 8 * h + i] = scale * static_cast<float>(lo) - min;
        o[32 * j + 8 * h + 4 + i] = scale * static_cast<float>(hi) - min;
      }
  }
}

// As dequantize_q6_k: (d sc) (q - 32).
void dequant_q6k(const uint8_t* blk, int l, float* o) {
  const float d = half_at(blk + q6k::kDOffset + 2 * l);
  for (int v = 0; v < 256; ++v) {
    const auto sc = static_cast<int8_t>(blk[q6k::kScOffset + 16 * (v / 16) + l]);
    o[v] = d * static_cast<float>(sc) * static_cast<float>(Q6Place(v, l).code(blk) - 32);
  }
}

void dequant_q8(const uint8_t* blk, int l, float* o) {
  const float d = half_at(blk + 2 * l);
  for (int h = 0; h < 8; ++h)
    for (int i = 0; i < 4; ++i) o[4 * h + i] = d * static_cast<float>(blk[q8::kQsOffset + 64 * h + 4 * l + i] - 128);
}

// Q4_0, or with Five Q5_0 (the fifth bits from the masks).
template <bool Five>
void dequant_block32(const uint8_t* blk, int l, float* o) {
  const float d = half_at(blk + 2 * l);
  const int bias = Five ? 16 : 8;
  for (int h = 0; h < 4; ++h)
    for (int i = 0; i < 4; ++i) {
      const uint8_t byte = blk[q4::kQsOffset + 64 * h + 4 * l + i];
      int lo = byte & 0xf, hi = byte >> 4;
      if constexpr (Five) {
        lo |= fifth_bit32(blk, 4 * h + i, l) << 4;
        hi |= fifth_bit32(blk, 16 + 4 * h + i, l) << 4;
      }
      o[4 * h + i] = d * static_cast<float>(lo - bias);
      o[16 + 4 * h + i] = d * static_cast<float>(hi - bias);
    }
}

int64_t block_bytes_of(DType t) {
  switch (t) {
    case DType::Q4_K: return q4k::kBlockBytes;
    case DType::Q5_K: return q5k::kBlockBytes;
    case DType::Q6_K: return q6k::kBlockBytes;
    case DType::Q8_0: return q8::kBlockBytes;
    case DType::Q5_0: return q5::kBlockBytes;
    default: return q4::kBlockBytes;
  }
}

// One row's block b (GGUF layout at src) into lane l of the packed block.
void pack_lane(DType t, const uint8_t* src, int l, uint8_t* blk) {
  if (t == DType::Q4_K) {
    BlockQ4_K b;
    std::memcpy(&b, src, sizeof b);
    pack_q4k_lane(b, l, blk);
  } else if (t == DType::Q5_K) {
    BlockQ5_K b;
    std::memcpy(&b, src, sizeof b);
    pack_q5k_lane(b, l, blk);
  } else if (t == DType::Q6_K) {
    BlockQ6_K b;
    std::memcpy(&b, src, sizeof b);
    pack_q6k_lane(b, l, blk);
  } else if (t == DType::Q8_0) {
    BlockQ8_0 b;
    std::memcpy(&b, src, sizeof b);
    pack_q8_lane(b, l, blk);
  } else if (t == DType::Q5_0) {
    BlockQ5_0 b;
    std::memcpy(&b, src, sizeof b);
    pack_q5_lane(b, l, blk);
  } else {
    BlockQ4_0 b;
    std::memcpy(&b, src, sizeof b);
    pack_q4_lane(b, l, blk);
  }
}

void unpack_lane(DType t, const uint8_t* blk, int l, uint8_t* dst) {
  if (t == DType::Q4_K) {
    BlockQ4_K b;
    unpack_q4k_lane(blk, l, b);
    std::memcpy(dst, &b, sizeof b);
  } else if (t == DType::Q5_K) {
    BlockQ5_K b;
    unpack_q5k_lane(blk, l, b);
    std::memcpy(dst, &b, sizeof b);
  } else if (t == DType::Q6_K) {
    BlockQ6_K b;
    unpack_q6k_lane(blk, l, b);
    std::memcpy(dst, &b, sizeof b);
  } else if (t == DType::Q8_0) {
    BlockQ8_0 b;
    unpack_q8_lane(blk, l, b);
    std::memcpy(dst, &b, sizeof b);
  } else if (t == DType::Q5_0) {
    BlockQ5_0 b;
    unpack_q5_lane(blk, l, b);
    std::memcpy(dst, &b, sizeof b);
  } else {
    BlockQ4_0 b;
    unpack_q4_lane(blk, l, b);
    std::memcpy(dst, &b, sizeof b);
  }
}

}  // namespace

bool has_layout(DType t) {
  return t == DType::Q4_K || t == DType::Q5_K || t == DType::Q6_K || t == DType::Q8_0 || t == DType::Q4_0 || t == DType::Q5_0;
}

int64_t group_bytes(DType t, int64_t cols) {
  if (!has_layout(t)) fail("no packed row-group layout for ", dtype_name(t));
  return cols / block_elems(t) * block_bytes_of(t);
}

void pack_groups(const Weight& w, int64_t g0, int64_t g1, uint8_t* out) {
  if (!has_layout(w.dtype) || w.row0 != 0 || w.group_rows) fail("packed::pack_groups: expects a whole Q4_K, Q5_K, Q6_K, Q8_0, Q4_0 or Q5_0 matrix");
  const int64_t nblk = w.cols / block_elems(w.dtype), bb = block_bytes_of(w.dtype);
  const size_t rb = row_bytes(w.dtype, w.cols), src_bb = block_bytes(w.dtype);
  for (int64_t g = g0; g < g1; ++g) {
    uint8_t* grp = out + g * group_bytes(w.dtype, w.cols);
    // Every byte of a full group is written below; a partial one's missing rows stay zero.
    if ((g + 1) * kGroupRows > w.rows) std::memset(grp, 0, static_cast<size_t>(group_bytes(w.dtype, w.cols)));
    for (int l = 0; l < kGroupRows && g * kGroupRows + l < w.rows; ++l) {
      const auto* row = static_cast<const uint8_t*>(w.data) + rb * static_cast<size_t>(g * kGroupRows + l);
      for (int64_t b = 0; b < nblk; ++b) pack_lane(w.dtype, row + static_cast<size_t>(b) * src_bb, l, grp + b * bb);
    }
  }
}

void unpack_groups(const Weight& w, int64_t g0, int64_t g1, uint8_t* out) {
  if (!w.group_rows || w.row0 != 0) fail("packed::unpack_groups: expects a whole packed matrix");
  const int64_t nblk = w.cols / block_elems(w.dtype), bb = block_bytes_of(w.dtype);
  const size_t rb = row_bytes(w.dtype, w.cols), dst_bb = block_bytes(w.dtype);
  for (int64_t g = g0; g < g1; ++g) {
    const uint8_t* grp = group_ptr(w, g, group_bytes(w.dtype, w.cols));
    for (int l = 0; l < kGroupRows && g * kGroupRows + l < w.rows; ++l) {
      uint8_t* row = out + rb * static_cast<size_t>(g * kGroupRows + l);
      for (int64_t b = 0; b < nblk; ++b) unpack_lane(w.dtype, grp + b * bb, l, row + static_cast<size_t>(b) * dst_bb);
    }
  }
}

Weight packed_view(const Weight& w, const uint8_t* packed) {
  Weight p = w;
  p.data = packed;
  p.group_rows = kGroupRows;
  return p;
}

void dequant_row(const Weight& w, int64_t r, float* out) {
  const int64_t row = w.row0 + r;
  const int l = static_cast<int>(row % kGroupRows);
  const int64_t nblk = w.cols / block_elems(w.dtype), bb = block_bytes_of(w.dtype);
  const uint8_t* grp = group_ptr(w, row / kGroupRows, group_bytes(w.dtype, w.cols));
  for (int64_t b = 0; b < nblk; ++b) {
    if (w.dtype == DType::Q4_K)
      dequant_k<false>(grp + b * bb, l, out + b * 256);
    else if (w.dtype == DType::Q5_K)
      dequant_k<true>(grp + b * bb, l, out + b * 256);
    else if (w.dtype == DType::Q6_K)
      dequant_q6k(grp + b * bb, l, out + b * 256);
    else if (w.dtype == DType::Q8_0)
      dequant_q8(grp + b * bb, l, out + b * 32);
    else if (w.dtype == DType::Q5_0)
      dequant_block32<true>(grp + b * bb, l, out + b * 32);
    else
      dequant_block32<false>(grp + b * bb, l, out + b * 32);
  }
}

}  // namespace dsinfer::kernels::packed
