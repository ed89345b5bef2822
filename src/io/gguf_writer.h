// Writes GGUF version 3 files: metadata key/values, then the tensor info table,
// then the tensor data, each tensor aligned to 32 bytes (general.alignment's
// default). Used by `dsinfer quantize --output FILE.gguf` and by tests that
// make GGUF files of their own; gguf.h reads them back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace dsinfer::io {

// ggml's type id of a dsinfer dtype (F32 0, F16 1, Q4_0 2, Q5_0 6, Q8_0 8, Q4_K 12,
// Q5_K 13, Q6_K 14, BF16 30); nullopt for dtypes GGUF has no id for (F8_E4M3, ...).
std::optional<uint32_t> ggml_type_of(DType t);
// The dtype of a ggml type id dsinfer computes with; nullopt for the others.
std::optional<DType> dtype_of_ggml(uint32_t type);

class GgufWriter {
 public:
  void add_string(const std::string& key, const std::string& v);
  void add_u32(const std::string& key, uint32_t v);
  void add_f32(const std::string& key, float v);
  void add_bool(const std::string& key, bool v);
  void add_string_array(const std::string& key, const std::vector<std::string>& v);
  void add_i32_array(const std::string& key, const std::vector<int32_t>& v);
  void add_f32_array(const std::string& key, const std::vector<float>& v);

  // dims innermost first, as ggml: a [rows, cols] matrix is {cols, rows}.
  // bytes must hold exactly what dims and type imply.
  void add_tensor(const std::string& name, DType type, const std::vector<uint64_t>& dims, std::vector<uint8_t> bytes);
  // A type dsinfer only reads (io/ggml_dequant.h), by its ggml id.
  void add_ggml_tensor(const std::string& name, uint32_t ggml_type, const std::vector<uint64_t>& dims,
                       std::vector<uint8_t> bytes);

  // Throws dsinfer::Error naming the path when it cannot be written.
  void write(const std::string& path) const;
  // As llama.cpp's gguf-split: NAME-00001-of-0000N.gguf ... for path NAME.gguf,
  // the tensors in n_shards consecutive runs, the metadata in the first file,
  // split.no / split.count / split.tensors.count in each. Returns the paths.
  std::vector<std::string> write_split(const std::string& path, int n_shards) const;

 private:
  struct Tensor {
    std::string name;
    uint32_t type = 0;
    std::vector<uint64_t> dims;
    std::vector<uint8_t> bytes;
  };
  void key(const std::string& k, uint32_t value_type);
  // One file: kv (n_kv entries) then tensors [t0, t1).
  void write_file(const std::string& path, const std::vector<uint8_t>& kv, uint64_t n_kv, size_t t0, size_t t1) const;

  std::vector<uint8_t> kv_;  // the encoded key/value section
  uint64_t n_kv_ = 0;
  std::vector<Tensor> tensors_;
};

}  // namespace dsinfer::io
