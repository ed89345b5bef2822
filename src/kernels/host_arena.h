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

  // Striped weights (Weight::stripe_groups): kStripes runs of `bytes` each,
  // `stride` bytes apart, stride a multiple of kStripeAlign. A decode tile
  // reads one group of each stripe at a time, 8 memory streams per core. On
  // the Zen 5 VM of the dev box, 8 streams whose addresses differ by
  // multiples of 32 MB read 54-64 GB/s over both cores in the fast memory
  // regime, as the read probe's (64 MB apart); 8 streams 13.8 KB, 1 MB or
  // 16 MB apart 44-50 (same run, a load loop with the Q4_K tile's compute per
  // byte; ~5% more in the ~35 GB/s regime too). Physical 2 MB frames are
  // scattered, so it is the virtual layout that matters, and virtual space
  // costs nothing: a chunk maps kStripes x kChunkBytes, and only the pages
  // written get memory.
  static constexpr int kStripes = 8;
  static constexpr size_t kStripeAlign = size_t{32} << 20;
  struct Stripes {
    Buffer mem;  // from the first stripe's first byte
    size_t stride = 0;
  };
  Stripes alloc_striped(size_t bytes);

 private:
  std::mutex mu_;
  Buffer chunk_;
  size_t used_ = 0;
  Buffer striped_;  // kStripes regions of kChunkBytes
  size_t striped_used_ = 0;
};

}  // namespace dsinfer::kernels
