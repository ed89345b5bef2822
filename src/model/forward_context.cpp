#include "model/forward_context.h"

#include <algorithm>

#include "core/error.h"

namespace dsinfer::model {

namespace {
kernels::Buffer upload_vec(kernels::Backend& b, const void* data, size_t bytes) {
  kernels::Buffer buf = b.alloc(bytes);
  if (bytes) b.upload(buf, data, bytes);
  return buf;
}
}  // namespace

ForwardContext::ForwardContext(kernels::Backend& be, const Batch& b, const KVCache& cache, const ForwardOptions& opts)
    : backend(be), batch(b), options(opts), n_tokens(b.n_tokens()), block_size(cache.block_size()) {
  int64_t total = 0;
  for (const auto& s : b.seqs) {
    if (s.n_tokens <= 0 || s.n_past < 0) fail("batch: every sequence needs n_tokens > 0 and n_past >= 0");
    const int64_t need = (s.n_past + s.n_tokens + block_size - 1) / block_size;
    if (static_cast<int64_t>(s.block_table.size()) < need)
      fail("batch: a sequence of ", s.n_past + s.n_tokens, " tokens needs ", need, " KV blocks, has ", s.block_table.size());
    for (int32_t id : s.block_table)
      if (id < 0 || id >= cache.num_blocks()) fail("batch: KV block id ", id, " outside [0, ", cache.num_blocks(), ")");
    max_blocks = std::max<int64_t>(max_blocks, static_cast<int64_t>(s.block_table.size()));
    seq_first.push_back(total);
    total += s.n_tokens;
  }
  if (total != n_tokens) fail("batch: sequences cover ", total, " tokens but the batch has ", n_tokens);
  for (int32_t r : b.logit_rows)
    if (r < 0 || r >= n_tokens) fail("batch: logit row ", r, " outside [0, ", n_tokens, ")");
  std::vector<int32_t> seq_of(static_cast<size_t>(n_tokens));
  std::vector<int32_t> tables(static_cast<size_t>(std::max<int64_t>(1, b.seqs.size() * max_blocks)), 0);
  for (size_t s = 0; s < b.seqs.size(); ++s) {
    const auto& sp = b.seqs[s];
    std::copy(sp.block_table.begin(), sp.block_table.end(), tables.begin() + static_cast<int64_t>(s) * max_blocks);
  }
  for (size_t s = 0; s < b.seqs.size(); ++s)
    for (int32_t i = 0; i < b.seqs[s].n_tokens; ++i) {
      const int64_t row = seq_first[s] + i;
      seq_of[static_cast<size_t>(row)] = static_cast<int32_t>(s);
      host_positions.push_back(b.seqs[s].n_past + i);
      const int64_t p = b.seqs[s].n_past + i;
      host_slots.push_back(static_cast<int64_t>(b.seqs[s].block_table[static_cast<size_t>(p / block_size)]) * block_size +
                           p % block_size);
    }
  positions = upload_vec(be, host_positions.data(), host_positions.size() * 4);
  tok_seq = upload_vec(be, seq_of.data(), seq_of.size() * 4);
  block_tables = upload_vec(be, tables.data(), tables.size() * 4);
  slots = upload_i64(host_slots);
}

kernels::Buffer ForwardContext::upload_i64(const std::vector<int64_t>& v) const {
  return upload_vec(backend, v.data(), v.size() * 8);
}

int64_t ForwardContext::slot_of(int64_t s, int64_t p) const {
  const auto& table = batch.seqs[static_cast<size_t>(s)].block_table;
  return static_cast<int64_t>(table[static_cast<size_t>(p / block_size)]) * block_size + p % block_size;
}

kernels::AttentionArgs ForwardContext::paged_attention() const {
  kernels::AttentionArgs a;
  a.n_tokens = n_tokens;
  a.block_size = block_size;
  a.positions = positions.i32();
  a.tok_seq = tok_seq.i32();
  a.block_tables = block_tables.i32();
  a.max_blocks = max_blocks;
  return a;
}

}  // namespace dsinfer::model
