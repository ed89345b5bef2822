#include "engine/block_allocator.h"

#include "core/error.h"

namespace dsinfer::engine {

BlockAllocator::BlockAllocator(int64_t num_blocks)
    : refs_(static_cast<size_t>(num_blocks), 0),
      prev_(static_cast<size_t>(num_blocks), -1),
      next_(static_cast<size_t>(num_blocks), -1) {
  for (int64_t i = 0; i < num_blocks; ++i) push_back(static_cast<int32_t>(i));
}

void BlockAllocator::push_back(int32_t id) {
  prev_[static_cast<size_t>(id)] = tail_;
  next_[static_cast<size_t>(id)] = -1;
  if (tail_ >= 0)
    next_[static_cast<size_t>(tail_)] = id;
  else
    head_ = id;
  tail_ = id;
  ++n_free_;
}

void BlockAllocator::unlink(int32_t id) {
  const int32_t p = prev_[static_cast<size_t>(id)], n = next_[static_cast<size_t>(id)];
  if (p >= 0)
    next_[static_cast<size_t>(p)] = n;
  else
    head_ = n;
  if (n >= 0)
    prev_[static_cast<size_t>(n)] = p;
  else
    tail_ = p;
  --n_free_;
}

bool BlockAllocator::allocate(int64_t n, std::vector<int32_t>& out) {
  if (n > n_free_) return false;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t id = head_;
    unlink(id);
    refs_[static_cast<size_t>(id)] = 1;
    out.push_back(id);
  }
  return true;
}

void BlockAllocator::retain(int32_t id) {
  int32_t& r = refs_.at(static_cast<size_t>(id));
  if (r == 0) unlink(id);
  ++r;
}

void BlockAllocator::release(int32_t id) {
  int32_t& r = refs_.at(static_cast<size_t>(id));
  if (r <= 0) fail("double release of KV block ", id);
  if (--r == 0) push_back(id);
}

void BlockAllocator::release_all(std::vector<int32_t>& ids) {
  for (int32_t id : ids) release(id);
  ids.clear();
}

}  // namespace dsinfer::engine
