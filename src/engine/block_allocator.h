// KV block bookkeeping: the one owner of which block ids are free. Blocks are
// reference-counted so prefix caching can share them between sequences. The
// free list is kept in release order (least recently released first), so a
// freed block keeps its contents as long as possible: the prefix cache can
// revive it (take()) until allocate() hands it out again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace dsinfer::engine {

class BlockAllocator {
 public:
  explicit BlockAllocator(int64_t num_blocks);

  int64_t num_blocks() const { return static_cast<int64_t>(refs_.size()); }
  int64_t num_free() const { return n_free_; }
  // Takes n blocks, least recently released first, or none (returns false)
  // when fewer than n are free. Each taken id is appended to out.
  bool allocate(int64_t n, std::vector<int32_t>& out);
  // Adds a reference; a free block is taken off the free list (prefix-cache revival).
  void retain(int32_t id);
  // Drops one reference; at zero the block goes to the back of the free list.
  void release(int32_t id);
  void release_all(std::vector<int32_t>& ids);
  int32_t ref_count(int32_t id) const { return refs_[static_cast<size_t>(id)]; }

 private:
  void unlink(int32_t id);
  void push_back(int32_t id);

  std::vector<int32_t> refs_;
  std::vector<int32_t> prev_, next_;  // doubly linked free list; -1 ends
  int32_t head_ = -1, tail_ = -1;
  int64_t n_free_ = 0;
};

}  // namespace dsinfer::engine
