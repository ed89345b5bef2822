// Recycles host buffers a forward pass frees and asks for again.
//
// Per-step scratch (a MoE layer's sorted expert rows, MLA's up-projected
// context) is tens of MB at prefill. The C heap serves blocks over its mmap
// threshold (at most 32 MB) with fresh pages, so every step would fault and
// the kernel zero them again: ~14% of a 512-token deepseek-v2-lite prefill.
// Kept blocks are handed out again (zeroed unless asked not to) to requests of up to their size
// and at least half of it; a block returned while the cache is full is freed.
#pragma once

#include <cstddef>
#include <memory>

#include "kernels/backend.h"

namespace dsinfer::kernels {

class HostBufferCache {
 public:
  struct Limits {
    // Below: the heap serves them cheaply. A decode step's one-token buffers
    // (4-256 KB) went through malloc, memset and free (whose consolidation of
    // large chunks showed): 1% of a V2-Lite decode step on the calling thread.
    size_t min_bytes = size_t{4} << 10;
    size_t max_bytes = size_t{256} << 20;  // above: long-lived (KV cache, weights)
    size_t max_cached = size_t{1} << 30;   // kept free blocks, in all
  };
  explicit HostBufferCache(Limits limits);
  HostBufferCache() : HostBufferCache(Limits{}) {}

  // Zeroed, 64-byte aligned, as host_alloc. Safe from any thread; a buffer
  // may outlive the cache (it is then simply freed).
  Buffer alloc(size_t bytes) { return get(bytes, true); }
  // The same without zeroing a recycled block (fresh ones are zero anyway):
  // for buffers the next op writes in full.
  Buffer alloc_uninit(size_t bytes) { return get(bytes, false); }
  size_t cached_bytes() const;

 private:
  Buffer get(size_t bytes, bool zero);
  struct State;
  Limits limits_;
  std::shared_ptr<State> state_;
};

}  // namespace dsinfer::kernels
