// Per-forward-pass state shared by the layers: the batch's positions, slots
// and block tables in backend memory, and scratch allocation.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "model/batch.h"
#include "model/kv_cache.h"

namespace dsinfer::model {

// How MLA attends: Plain materialises per-head K/V for the context; Absorbed
// folds kv_b_proj into the query and output (no per-head K/V). Auto: per
// sequence, absorbed for one decoded token, plain for a prefill chunk.
enum class MlaMode { Auto, Plain, Absorbed };

struct ForwardOptions {
  MlaMode mla_mode = MlaMode::Auto;
};

class ForwardContext {
 public:
  // Validates the batch against the cache (block ids in range, tables long enough).
  ForwardContext(kernels::Backend& backend, const Batch& batch, const KVCache& cache, const ForwardOptions& opts);

  kernels::Backend& backend;
  const Batch& batch;
  const ForwardOptions& options;
  int64_t n_tokens = 0;
  int64_t block_size = 0;
  int64_t max_blocks = 0;
  std::vector<int64_t> seq_first;      // [n_seqs] first token row of each sequence
  std::vector<int32_t> host_positions; // [n_tokens]
  std::vector<int64_t> host_slots;     // [n_tokens] cache slot of each new token
  kernels::Buffer positions;           // [n_tokens] i32
  kernels::Buffer tok_seq;             // [n_tokens] i32
  kernels::Buffer block_tables;        // [n_seqs, max_blocks] i32
  kernels::Buffer slots;               // [n_tokens] i64

  kernels::Buffer scratch(int64_t n_floats) const { return backend.alloc(static_cast<size_t>(n_floats) * 4); }
  // Scratch with unspecified contents, for the output of an op that writes
  // every element of it (a matmul, attention, a norm, an embedding lookup).
  kernels::Buffer output(int64_t n_floats) const { return backend.alloc_uninit(static_cast<size_t>(n_floats) * 4); }
  kernels::Buffer upload_i64(const std::vector<int64_t>& v) const;
  // Slot of position p of sequence s.
  int64_t slot_of(int64_t s, int64_t p) const;
  // Attention over the paged cache: positions, sequences and block tables filled in.
  kernels::AttentionArgs paged_attention() const;
};

}  // namespace dsinfer::model
