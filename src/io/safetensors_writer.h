// Writes safetensors files (one, or shards plus model.safetensors.index.json).
// Used by `dsinfer quantize` and by tests that build checkpoints of their own.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace dsinfer::io {

struct TensorData {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // numel * dtype_size bytes, little-endian
};

// One file; tensors in the given order, data 8-byte aligned; metadata goes
// into __metadata__ beside {"format": "pt"}.
void write_safetensors(const std::string& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// Splits tensors over `n_shards` files model-0000K-of-0000N.safetensors in dir
// and writes model.safetensors.index.json mapping each tensor to its shard.
void write_sharded_checkpoint(const std::string& dir, const std::vector<TensorData>& tensors, int n_shards);

}  // namespace dsinfer::io
