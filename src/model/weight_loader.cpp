#include "model/weight_loader.h"

#include <cstring>
#include <vector>

#include "core/error.h"
#include "core/quant.h"
#include "io/mapped_file.h"
#include "kernels/packed.h"
#include "model/row_group_storage.h"

namespace dsinfer::model {

// A block-quantized matrix written by `dsinfer quantize`: U8 with its block
// type in the checkpoint metadata ("dsinfer.dtype.NAME"), in 16-row groups
// [groups, group_bytes] (row_group_storage.h) or GGUF's rows [rows, row_bytes].
kernels::Weight WeightLoader::packed(const io::TensorInfo& t, int64_t rows, int64_t cols) const {
  const auto it = ckpt_.metadata().find("dsinfer.dtype." + t.name);
  if (it == ckpt_.metadata().end())
    fail("tensor ", t.name, " in ", t.file, " is U8 but the checkpoint metadata does not say which block type it holds");
  const auto dt = dtype_from_name(it->second);
  if (!dt || !is_block_quant(*dt)) fail("tensor ", t.name, ": unknown block type \"", it->second, "\" in metadata");
  if (cols % block_elems(*dt) != 0)
    fail("tensor ", t.name, ": ", cols, " columns is not a multiple of the ", it->second, " block");
  kernels::Weight w;
  w.dtype = *dt;
  w.rows = rows;
  w.cols = cols;
  w.data = t.data;
  const auto layout = ckpt_.metadata().find("dsinfer.layout." + t.name);
  if (layout == ckpt_.metadata().end()) {  // GGUF's row layout
    ckpt_.get(t.name, {rows, static_cast<int64_t>(row_bytes(*dt, cols))});
    return import(w);
  }
  if (!kernels::packed::has_layout(*dt))
    fail("tensor ", t.name, " in ", t.file, ": ", it->second, " has no row-group layout, but the metadata gives it \"",
         layout->second, "\"");
  if (*dt == DType::Q4_K && layout->second == kRowGroupLayout)
    fail("tensor ", t.name, " in ", t.file, ": Q4_K in the row-group layout of earlier dsinfer versions (2368-byte ",
         "super-blocks, now ", kernels::packed::q4k::kBlockBytes, "); quantize the model again");
  if (layout->second != row_group_layout(*dt))
    fail("tensor ", t.name, ": unknown layout \"", layout->second, "\" in metadata for ", it->second, " (known: ",
         row_group_layout(*dt), ")");
  ckpt_.get(t.name, {kernels::packed::groups(rows), kernels::packed::group_bytes(*dt, cols)});
  w.group_rows = kernels::packed::kGroupRows;
  return import(w);
}

WeightLoader::Derived WeightLoader::head_transposes(const kernels::Weight& w, const HeadRows& h) const {
  // Block types give Q8_0 (head_rows values per row: whole blocks of 32 in
  // every DeepSeek shape): half the bytes of F16, and the backend repacks it
  // onto its huge pages like any quantized weight. Decode reads it whole
  // every step (V2-Lite: 2 MB per layer in F16).
  const bool q8 = is_block_quant(w.dtype) && h.head_rows % kQ8_0Elems == 0;
  const DType t = q8 ? DType::Q8_0 : is_block_quant(w.dtype) ? DType::F16 : w.dtype == DType::BF16 ? DType::BF16 : DType::F32;
  const int64_t rows = h.heads * w.cols, cols = h.head_rows;
  const size_t row_size = row_bytes(t, cols);
  std::vector<uint8_t> host(static_cast<size_t>(rows) * row_size);
  std::vector<float> row(static_cast<size_t>(w.cols));
  std::vector<float> out(static_cast<size_t>(rows * cols));  // [rows, cols] the transposes in f32
  for (int64_t hd = 0; hd < h.heads; ++hd)
    for (int64_t r = 0; r < h.head_rows; ++r) {
      kernels::dequant_row(w, hd * h.head_stride + r, row.data());
      for (int64_t c = 0; c < w.cols; ++c) out[static_cast<size_t>((hd * w.cols + c) * cols + r)] = row[static_cast<size_t>(c)];
    }
  for (int64_t r = 0; r < rows; ++r) quantize_row(t, &out[static_cast<size_t>(r * cols)], cols, host.data() + static_cast<size_t>(r) * row_size);
  Derived d;
  d.storage = backend_.alloc(host.size());
  backend_.upload(d.storage, host.data(), host.size());
  d.w.dtype = t;
  d.w.rows = rows;
  d.w.cols = cols;
  d.w.data = d.storage.data();
  d.w = backend_.import_weight(d.w);
  return d;
}

kernels::Weight WeightLoader::import(const kernels::Weight& w) const {
  const auto it = imported_.find(w.data);
  if (it != imported_.end()) return it->second;
  const kernels::Weight got = backend_.import_weight(w);
  if (got.data != w.data) io::release_pages(w.data, w.bytes());  // the backend keeps its own copy
  imported_.emplace(w.data, got);
  return got;
}

kernels::Weight WeightLoader::matrix(const std::string& name, int64_t rows, int64_t cols) const {
  const io::TensorInfo* packed_info = ckpt_.find(name);
  if (packed_info && packed_info->dtype == DType::U8) return packed(*packed_info, rows, cols);
  const io::TensorInfo& t = ckpt_.get(name, {rows, cols});
  kernels::Weight w;
  w.dtype = t.dtype;
  w.rows = rows;
  w.cols = cols;
  w.data = t.data;
  switch (t.dtype) {
    case DType::F32:
    case DType::BF16:
    case DType::F16:
    case DType::Q8_0:
    case DType::Q4_0:
    case DType::Q5_0:
    case DType::Q4_K:
    case DType::Q5_K:
    case DType::Q6_K:
      break;
    case DType::F8_E4M3:
      w = fp8_scales(name, w);
      break;
    default:
      fail("tensor ", name, " in ", t.file, " has dtype ", dtype_name(t.dtype),
           ", which is not supported for weights (supported: F32, BF16, F16, F8_E4M3, Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K)");
  }
  return import(w);
}

kernels::Weight WeightLoader::fp8_scales(const std::string& name, kernels::Weight w) const {
  const auto& q = cfg_.quantization_config;
  if (q.quant_method != "fp8")
    fail("tensor ", name, " is F8_E4M3 but config.json has no fp8 quantization_config (weight_block_size unknown)");
  w.block_rows = q.weight_block_size[0];
  w.block_cols = q.weight_block_size[1];
  const std::string sname = name + "_scale_inv";
  const io::TensorInfo* s = ckpt_.find(sname);
  if (!s) fail("tensor ", name, " is F8_E4M3 but its block scales ", sname, " are missing from ", ckpt_.dir());
  if (s->dtype != DType::F32) fail("tensor ", sname, " in ", s->file, " must be F32, found ", dtype_name(s->dtype));
  const int64_t sr = (w.rows + w.block_rows - 1) / w.block_rows;
  const int64_t sc = (w.cols + w.block_cols - 1) / w.block_cols;
  ckpt_.get(sname, {sr, sc});
  w.scale_inv = static_cast<const float*>(s->data);
  return w;
}

kernels::Buffer WeightLoader::vector(const std::string& name, int64_t n) const {
  const io::TensorInfo& t = ckpt_.get(name, {n});
  kernels::Weight view;
  view.dtype = t.dtype;
  view.rows = 1;
  view.cols = n;
  view.data = t.data;
  if (t.dtype != DType::F32 && t.dtype != DType::BF16 && t.dtype != DType::F16)
    fail("tensor ", name, " in ", t.file, " has dtype ", dtype_name(t.dtype), " (expected F32, BF16 or F16)");
  std::vector<float> host(static_cast<size_t>(n));
  kernels::dequant_row(view, 0, host.data());
  kernels::Buffer b = backend_.alloc(host.size() * 4);
  backend_.upload(b, host.data(), host.size() * 4);
  return b;
}

}  // namespace dsinfer::model
