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
  // reads one group of each of 4 stripes at a time (group_tiles.h kStreams1;
  // it was 8 when what follows was measured), a memory stream each. On
  // the Zen 5 VM of the dev box, 8 streams whose addresses differ by
  // multiples of 32 MB read 54-64 GB/s over both cores in the fast memory
  // regime, as the read probe's (64 MB apart); 8 streams 13.8 KB, 1 MB or
  // 16 MB apart 44-50 (same run, a load loop with the Q4_K tile's compute per
  // byte; ~5% more in the ~35 GB/s regime too). Physical 2 MB frames are
  // scattered, so it is the virtual layout that matters, and virtual space
  // costs nothing: a chunk maps kStripes x kChunkBytes, and only the pages
  // written get memory.
  // The price is paid over cached weights only: AMD's L1 data cache picks a
  // line's way by a hash of linear address bits above the page offset, and
  // does not hold two lines of one set whose hashes agree, as lines exact
  // multiples of 32 MB apart do; so the streams evict one another from L1
  // and every load is served by L2. Over cached weights (matmul_bench
  // DecodeHot) the Q4_K decode tile of 8 streams ran 224 GOPS striped against
  // 335 with each stripe skewed 64 KB, Q8_0 140 against 221 (the tiles of 4
  // streams: Q4_K 282-292 against 400 contiguous); from memory the skewed
  // layout was no faster and probably slower (1.5B q4_k decode 0.90-0.92 of
  // the roofline against 0.92-0.94, two tokens 29.6-30.8 ms a step against
  // 27.1-27.5), so the stripes stay exact.
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
