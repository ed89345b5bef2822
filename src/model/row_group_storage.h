// Block-quantized matrices as dsinfer writes them into checkpoints: in the CPU
// kernels' 16-row groups (kernels/packed.h), so that loading maps them in
// place from the page cache instead of repacking a gigabyte into fresh memory
// at every start. The tensor is U8 [groups, group_bytes] with metadata
// dsinfer.dtype.NAME (the block type) and dsinfer.layout.NAME =
// row_group_layout(type). Checkpoints in GGUF's row layout (no layout entry)
// still load.
#pragma once

#include <map>
#include <string>

#include "core/dtype.h"
#include "io/safetensors_writer.h"

namespace dsinfer::model {

inline constexpr const char* kRowGroupLayout = "rows16";
// Q4_K's groups since its 6-bit scales are stored packed (2304 bytes a
// super-block, as GGUF's); "rows16" Q4_K tensors (2368 bytes, scales as bytes)
// are refused with a request to quantize again.
inline constexpr const char* kRowGroupLayoutQ4K = "rows16.2";
inline const char* row_group_layout(DType t) { return t == DType::Q4_K ? kRowGroupLayoutQ4K : kRowGroupLayout; }

// t holds a [rows, cols] matrix of `dtype` blocks in GGUF's row layout; it
// becomes the stored form above, its metadata entries added to `meta`.
void store_row_groups(io::TensorData& t, DType dtype, int64_t cols, std::map<std::string, std::string>& meta);

}  // namespace dsinfer::model
