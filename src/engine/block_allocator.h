// KV block bookkeeping: the one owner of which block ids are free. Blocks are
// reference-counted so that prefix caching can share them between sequences.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dsinfer::engine {

class BlockAllocator {
 public:
  explicit BlockAllocator(int64_t num_blocks);

  int64_t num_blocks() const { return static_cast<int64_t>(refs_.size()); }
  int64_t num_free() const { return static_cast<int64_t>(free_.size()); }
  // Takes n blocks, or none (returns false) when fewer than n are free.
  bool allocate(int64_t n, std::vector<int32_t>& out);
  void retain(int32_t id);
  // Drops one reference; the block returns to the free list at zero.
  void release(int32_t id);
  void release_all(std::vector<int32_t>& ids);
  int32_t ref_count(int32_t id) const { return refs_[static_cast<size_t>(id)]; }

 private:
  std::vector<int32_t> refs_;
  std::vector<int32_t> free_;
};

}  // namespace dsinfer::engine
