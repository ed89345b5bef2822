// A GGUF model split over several files, as llama.cpp's gguf-split and
// converters write large ones (DeepSeek V3 / R1): NAME-00001-of-0000N.gguf ...,
// the metadata in the first, each file's split.no / split.count saying where
// it belongs. A single file is the one-shard case. Tensors are found in
// whichever file holds them.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "io/gguf.h"

namespace dsinfer::io {

// "DIR/NAME-00002-of-00005.gguf" for prefix "DIR/NAME", shard index 1 of 5.
std::string gguf_split_path(const std::string& prefix, int index, int count);

class GgufShards {
 public:
  // path: a single GGUF file or any shard of a split one. Throws naming the
  // file for a missing shard, a shard that says it is another one, or a
  // tensor held by two shards.
  explicit GgufShards(const std::string& path);

  const GgufFile& first() const { return *files_.front(); }
  size_t count() const { return files_.size(); }
  const std::string& path() const { return first().path(); }
  const GgufTensorInfo* find_tensor(std::string_view name) const;

  // The first file's metadata (GgufFile's getters).
  std::optional<std::string_view> get_string(std::string_view key) const { return first().get_string(key); }
  std::optional<int64_t> get_int(std::string_view key) const { return first().get_int(key); }
  std::optional<double> get_float(std::string_view key) const { return first().get_float(key); }
  std::optional<bool> get_bool(std::string_view key) const { return first().get_bool(key); }
  std::optional<std::vector<std::string_view>> get_string_array(std::string_view key) const {
    return first().get_string_array(key);
  }

 private:
  std::vector<std::unique_ptr<GgufFile>> files_;
  std::unordered_map<std::string_view, const GgufTensorInfo*> index_;
};

}  // namespace dsinfer::io
