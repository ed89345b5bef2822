// Long-lived host buffers (a model's weights, repacked at load) carved out of
// large mappings on transparent huge pages. A decode step reads every weight
// once; on 4 KB pages that is a TLB miss per page per step (a 1.5B q4_k model
// is 200k pages), and most matrices (a 1536 x 1536 q4_k is 1.3 MB) are too
// small for huge pages of their own. 1.5B q4_k decode: 2.8% more tokens/s
// (dsinfer bench, 5 alternating runs each).
#pragma once

#include <cstddef>
#include <mutex>

#include "kernels/backend.h"

namespace dsinfer::kernels {

class HostArena {
 public:
  // Requests above half a chunk get a mapping of their own.
  static constexpr size_t kChunkBytes = size_t{64} << 20;

  // Zeroed, 64-byte aligned; the memory lives as long as any Buffer of its
  // chunk (the arena keeps none alive once it is destroyed).
  Buffer alloc(size_t bytes);

 private:
  std::mutex mu_;
  Buffer chunk_;
  size_t used_ = 0;
};

}  // namespace dsinfer::kernels
