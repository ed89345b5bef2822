#include "io/safetensors_writer.h"

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace dsinfer::io {

void write_safetensors(const std::string& path, const std::vector<TensorData>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  for (const auto& [k, v] : metadata) header["__metadata__"][k] = v;
  size_t offset = 0;
  for (const auto& t : tensors) {
    size_t numel = 1;
    for (int64_t d : t.shape) numel *= static_cast<size_t>(d);
    if (numel * dtype_size(t.dtype) != t.bytes.size())
      fail("write_safetensors: tensor ", t.name, " has ", t.bytes.size(), " bytes, shape needs ", numel * dtype_size(t.dtype));
    header[t.name] = {{"dtype", std::string(dtype_name(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string h = header.dump();
  // Pad with spaces so the data buffer starts 8-byte aligned, as the format's writers do.
  while ((8 + h.size()) % 8) h.push_back(' ');
  std::ofstream f(path, std::ios::binary);
  if (!f) fail("cannot write ", path);
  const uint64_t n = h.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
  f.write(reinterpret_cast<const char*>(len), 8);
  f.write(h.data(), static_cast<std::streamsize>(h.size()));
  for (const auto& t : tensors) f.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
  if (!f) fail("error writing ", path);
}

void write_sharded_checkpoint(const std::string& dir, const std::vector<TensorData>& tensors, int n_shards) {
  if (n_shards < 1) fail("write_sharded_checkpoint: n_shards must be >= 1");
  nlohmann::ordered_json index;
  size_t total = 0;
  for (int s = 0; s < n_shards; ++s) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
    std::vector<TensorData> part;
    for (size_t i = static_cast<size_t>(s); i < tensors.size(); i += static_cast<size_t>(n_shards)) {
      part.push_back(tensors[i]);
      index["weight_map"][tensors[i].name] = name;
      total += tensors[i].bytes.size();
    }
    write_safetensors(dir + "/" + name, part);
  }
  index["metadata"] = {{"total_size", total}};
  std::ofstream f(dir + "/model.safetensors.index.json");
  f << index.dump(2);
  if (!f) fail("cannot write ", dir, "/model.safetensors.index.json");
}

}  // namespace dsinfer::io
