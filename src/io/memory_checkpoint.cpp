// Checkpoint::from_memory and Checkpoint::assemble: the same lookup interface
// over tensors held in memory (synthetic benchmark models) or converted from
// another format (GGUF), so they load through the ordinary path.
#include "core/error.h"
#include "io/safetensors.h"

namespace dsinfer::io {

Checkpoint Checkpoint::from_memory(const std::string& name, std::vector<TensorData> tensors) {
  return assemble({name, {}, std::move(tensors), nullptr});
}

Checkpoint Checkpoint::assemble(Parts parts) {
  Checkpoint ck;
  ck.dir_ = parts.name;
  ck.keep_alive_ = std::move(parts.keep_alive);
  for (TensorData& t : parts.owned) {
    TensorInfo info;
    info.name = t.name;
    info.dtype = t.dtype;
    info.shape = t.shape;
    info.nbytes = t.bytes.size();
    info.file = parts.name;
    ck.owned_.push_back(std::make_unique<std::vector<uint8_t>>(std::move(t.bytes)));
    info.data = ck.owned_.back()->data();
    parts.views.push_back(std::move(info));
  }
  for (TensorInfo& v : parts.views) {
    auto info = std::make_unique<TensorInfo>(std::move(v));
    if (!ck.index_.emplace(info->name, info.get()).second) fail("tensor ", info->name, " given twice to ", parts.name);
    ck.owned_info_.push_back(std::move(info));
  }
  return ck;
}

}  // namespace dsinfer::io
