// KV blocks per sequence, with prefix caching: a full block is identified by
// a hash chain over the tokens of every block up to and including it, so two
// prompts sharing a prefix share those blocks (reference counted). A block
// whose last user finished stays cached until allocation needs it (least
// recently released first).
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "engine/block_allocator.h"

namespace dsinfer::engine {

struct PrefixCacheStats {
  int64_t queried_tokens = 0;
  int64_t hit_tokens = 0;
};

class KvBlockManager {
 public:
  KvBlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching);

  int64_t block_size() const { return block_size_; }
  int64_t num_blocks() const { return alloc_.num_blocks(); }
  int64_t num_free() const { return alloc_.num_free(); }
  const PrefixCacheStats& stats() const { return stats_; }

  // A new sequence: takes the cached blocks of its longest cached prefix into
  // `table`; returns how many tokens they hold. At least one prompt token is
  // always left to compute (it produces the first logits).
  int64_t match_prefix(const std::vector<int32_t>& tokens, std::vector<int32_t>& table);
  // Grows `table` to cover n_tokens positions; false (and no change) when
  // there are not enough free blocks.
  bool ensure(std::vector<int32_t>& table, int64_t n_tokens);
  // Registers the sequence's full blocks among positions [0, n_computed) in the prefix cache.
  void publish(const std::vector<int32_t>& tokens, const std::vector<int32_t>& table, int64_t n_computed);
  void release(std::vector<int32_t>& table);

 private:
  uint64_t chain_hash(uint64_t prev, const int32_t* tokens) const;
  void forget(int32_t block);

  BlockAllocator alloc_;
  int64_t block_size_;
  bool prefix_caching_;
  std::unordered_map<uint64_t, int32_t> by_hash_;  // chain hash -> block
  std::vector<uint64_t> hash_of_;                  // block -> chain hash (0: none)
  std::vector<std::vector<int32_t>> tokens_of_;    // block -> its tokens, to rule out hash collisions
  std::vector<uint64_t> parent_of_;                // block -> previous block's chain hash
  PrefixCacheStats stats_;
};

}  // namespace dsinfer::engine
