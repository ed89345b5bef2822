// safetensors reader: one file (SafetensorsFile) or a Hugging Face checkpoint
// directory (Checkpoint: model.safetensors, or shards listed by
// model.safetensors.index.json). Files are memory-mapped; TensorInfo::data
// points into the mapping and stays valid while the owning object lives.
//
// Every structural fault is an Error whose message names the file, the tensor
// (when there is one) and the fault: truncated file, header length beyond the
// file or over 100 MB, invalid JSON, unknown dtype, offsets out of range,
// overlapping or misaligned data, shape/dtype/byte-size mismatch.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "io/mapped_file.h"
#include "io/safetensors_writer.h"

namespace dsinfer::io {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // into the mapped file
  size_t nbytes = 0;
  std::string file;  // path of the file holding it, for error messages

  int64_t numel() const;
};

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);

  const std::string& path() const { return map_->path(); }
  const std::map<std::string, TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  std::unique_ptr<MappedFile> map_;
  std::map<std::string, TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

class Checkpoint {
 public:
  // dir holds model.safetensors, or model.safetensors.index.json and its shards
  // (an index naming a shard that does not exist is an error naming both).
  // A dir with neither but exactly one or more *.safetensors files loads them all.
  static Checkpoint open(const std::string& dir);
  // A checkpoint whose tensors live in memory (synthetic models): takes ownership.
  static Checkpoint from_memory(const std::string& name, std::vector<TensorData> tensors);
  // Tensors of another file format under Hugging Face names (GGUF): `views`
  // point into memory that `keep_alive` owns; `owned` are tensors made while
  // converting (taken over as by from_memory).
  struct Parts {
    std::string name;
    std::vector<TensorInfo> views;
    std::vector<TensorData> owned;
    std::shared_ptr<const void> keep_alive;
  };
  static Checkpoint assemble(Parts parts);

  // nullptr when absent.
  const TensorInfo* find(const std::string& name) const;
  // Throws "tensor NAME missing from checkpoint DIR" when absent.
  const TensorInfo& get(const std::string& name) const;
  // get() plus a check of dtype-independent shape: "tensor NAME in FILE has shape [a, b], expected [c, d]".
  const TensorInfo& get(const std::string& name, const std::vector<int64_t>& shape) const;

  std::vector<std::string> names() const;
  // __metadata__ of all files merged (dsinfer quantize records block types there).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& dir() const { return dir_; }
  // Total bytes of tensor data, and per dtype.
  size_t total_bytes() const;

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorInfo*> index_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::unique_ptr<TensorInfo>> owned_info_;       // from_memory and assemble
  std::vector<std::unique_ptr<std::vector<uint8_t>>> owned_;  // from_memory and assemble
  std::shared_ptr<const void> keep_alive_;                     // assemble: what views point into
};

}  // namespace dsinfer::io
