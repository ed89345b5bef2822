#include "engine/block_allocator.h"

#include "core/error.h"

namespace dsinfer::engine {

BlockAllocator::BlockAllocator(int64_t num_blocks) : refs_(static_cast<size_t>(num_blocks), 0) {
  for (int64_t i = num_blocks - 1; i >= 0; --i) free_.push_back(static_cast<int32_t>(i));
}

bool BlockAllocator::allocate(int64_t n, std::vector<int32_t>& out) {
  if (n > num_free()) return false;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = free_.back();
    free_.pop_back();
    refs_[static_cast<size_t>(id)] = 1;
    out.push_back(id);
  }
  return true;
}

void BlockAllocator::retain(int32_t id) {
  if (refs_.at(static_cast<size_t>(id)) <= 0) fail("retain of free KV block ", id);
  ++refs_[static_cast<size_t>(id)];
}

void BlockAllocator::release(int32_t id) {
  int32_t& r = refs_.at(static_cast<size_t>(id));
  if (r <= 0) fail("double release of KV block ", id);
  if (--r == 0) free_.push_back(id);
}

void BlockAllocator::release_all(std::vector<int32_t>& ids) {
  for (int32_t id : ids) release(id);
  ids.clear();
}

}  // namespace dsinfer::engine
