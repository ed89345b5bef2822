// Checkpoint::from_memory: the same lookup interface over tensors held in
// memory, so synthetic benchmark models load through the ordinary path.
#include "core/error.h"
#include "io/safetensors.h"

namespace dsinfer::io {

Checkpoint Checkpoint::from_memory(const std::string& name, std::vector<TensorData> tensors) {
  Checkpoint ck;
  ck.dir_ = name;
  for (TensorData& t : tensors) {
    auto info = std::make_unique<TensorInfo>();
    info->name = t.name;
    info->dtype = t.dtype;
    info->shape = t.shape;
    info->nbytes = t.bytes.size();
    info->file = name;
    ck.owned_.push_back(std::make_unique<std::vector<uint8_t>>(std::move(t.bytes)));
    info->data = ck.owned_.back()->data();
    if (!ck.index_.emplace(info->name, info.get()).second) fail("tensor ", info->name, " given twice to ", name);
    ck.owned_info_.push_back(std::move(info));
  }
  return ck;
}

}  // namespace dsinfer::io
