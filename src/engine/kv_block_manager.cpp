#include "engine/kv_block_manager.h"

#include <algorithm>

namespace dsinfer::engine {

KvBlockManager::KvBlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching)
    : alloc_(num_blocks),
      block_size_(block_size),
      prefix_caching_(prefix_caching),
      hash_of_(static_cast<size_t>(num_blocks), 0),
      tokens_of_(static_cast<size_t>(num_blocks)),
      parent_of_(static_cast<size_t>(num_blocks), 0) {}

uint64_t KvBlockManager::chain_hash(uint64_t prev, const int32_t* tokens) const {
  uint64_t h = prev ^ 0x9e3779b97f4a7c15ull;
  for (int64_t i = 0; i < block_size_; ++i) {
    h ^= static_cast<uint32_t>(tokens[i]) + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
  }
  return h == 0 ? 1 : h;  // 0 means "no hash"
}

int64_t KvBlockManager::match_prefix(const std::vector<int32_t>& tokens, std::vector<int32_t>& table) {
  stats_.queried_tokens += static_cast<int64_t>(tokens.size());
  if (!prefix_caching_) return 0;
  const int64_t usable = (static_cast<int64_t>(tokens.size()) - 1) / block_size_;
  uint64_t h = 0;
  int64_t matched = 0;
  for (int64_t b = 0; b < usable; ++b) {
    const int32_t* t = tokens.data() + b * block_size_;
    const uint64_t next = chain_hash(h, t);
    const auto it = by_hash_.find(next);
    if (it == by_hash_.end()) break;
    const auto& stored = tokens_of_[static_cast<size_t>(it->second)];
    if (parent_of_[static_cast<size_t>(it->second)] != h || !std::equal(stored.begin(), stored.end(), t)) break;
    alloc_.retain(it->second);
    table.push_back(it->second);
    h = next;
    ++matched;
  }
  stats_.hit_tokens += matched * block_size_;
  return matched * block_size_;
}

void KvBlockManager::forget(int32_t block) {
  uint64_t& h = hash_of_[static_cast<size_t>(block)];
  if (h == 0) return;
  const auto it = by_hash_.find(h);
  if (it != by_hash_.end() && it->second == block) by_hash_.erase(it);
  h = 0;
  tokens_of_[static_cast<size_t>(block)].clear();
}

bool KvBlockManager::ensure(std::vector<int32_t>& table, int64_t n_tokens) {
  const int64_t need = (n_tokens + block_size_ - 1) / block_size_ - static_cast<int64_t>(table.size());
  if (need <= 0) return true;
  const size_t first = table.size();
  if (!alloc_.allocate(need, table)) return false;
  // Reused blocks lose their cached identity: their contents are about to change.
  for (size_t i = first; i < table.size(); ++i) forget(table[i]);
  return true;
}

void KvBlockManager::publish(const std::vector<int32_t>& tokens, const std::vector<int32_t>& table, int64_t n_computed) {
  if (!prefix_caching_) return;
  const int64_t full = std::min<int64_t>(n_computed / block_size_, static_cast<int64_t>(table.size()));
  uint64_t h = 0;
  for (int64_t b = 0; b < full; ++b) {
    const int32_t block = table[static_cast<size_t>(b)];
    const int32_t* t = tokens.data() + b * block_size_;
    const uint64_t next = chain_hash(h, t);
    if (hash_of_[static_cast<size_t>(block)] != next) {
      forget(block);
      if (by_hash_.emplace(next, block).second) {
        hash_of_[static_cast<size_t>(block)] = next;
        parent_of_[static_cast<size_t>(block)] = h;
        tokens_of_[static_cast<size_t>(block)].assign(t, t + block_size_);
      }
    }
    h = next;
  }
}

void KvBlockManager::release(std::vector<int32_t>& table) { alloc_.release_all(table); }

}  // namespace dsinfer::engine
