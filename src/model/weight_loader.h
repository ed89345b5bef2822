// Turns checkpoint tensors into backend weights, checking each against the
// shape the config implies so that a config contradicting the tensors fails
// with the tensor's name instead of reading garbage.
#pragma once

#include <map>
#include <string>

#include "io/hf_config.h"
#include "io/safetensors.h"
#include "kernels/backend.h"

namespace dsinfer::model {

class WeightLoader {
 public:
  WeightLoader(const io::Checkpoint& ckpt, const io::ModelConfig& cfg, kernels::Backend& backend)
      : ckpt_(ckpt), cfg_(cfg), backend_(backend) {}

  bool has(const std::string& name) const { return ckpt_.find(name) != nullptr; }
  // A [rows, cols] matrix in F32/BF16/F16, or F8_E4M3 with its `<name>_scale_inv` block scales.
  kernels::Weight matrix(const std::string& name, int64_t rows, int64_t cols) const;
  // A [n] vector (norm weight, bias) converted to float32 backend memory.
  kernels::Buffer vector(const std::string& name, int64_t n) const;

  // A matrix computed at load time from checkpoint weights; `storage` owns it.
  struct Derived {
    kernels::Buffer storage;
    kernels::Weight w;
  };
  // Which rows of a matrix head_transposes takes: per head h, head_rows rows
  // starting at h * head_stride.
  struct HeadRows {
    int64_t heads = 0;
    int64_t head_stride = 0;
    int64_t head_rows = 0;
  };
  // Those rows of w transposed per head and stacked: [heads * w.cols,
  // head_rows] (MLA's W_uk^T, so the absorbed query q_nope W_uk is an ordinary
  // product). BF16 stays BF16 and float types (F32, F16, FP8 with its block
  // scales) become F32, all exact; integer block types (Q8_0, Q4_K, ...)
  // become Q8_0 (F16 when head_rows is not whole blocks of 32): an error of
  // about 2^-9 of a block's largest value, below the source type's own
  // rounding, at a quarter of the F32 size.
  Derived head_transposes(const kernels::Weight& w, const HeadRows& h) const;

 private:
  kernels::Weight fp8_scales(const std::string& name, kernels::Weight w) const;
  kernels::Weight packed(const io::TensorInfo& t, int64_t rows, int64_t cols) const;
  // backend_.import_weight once per tensor; when the backend made its own copy,
  // the checkpoint's pages are released (a second request gets the same copy).
  kernels::Weight import(const kernels::Weight& w) const;

  const io::Checkpoint& ckpt_;
  const io::ModelConfig& cfg_;
  kernels::Backend& backend_;
  mutable std::map<const void*, kernels::Weight> imported_;  // by the checkpoint's data pointer
};

}  // namespace dsinfer::model
