// What the engine hands the model for one forward pass: token ids grouped by
// sequence, where each sequence's KV lives (block ids), and which rows need
// logits. The model never sees a request; the engine never sees a tensor.
#pragma once

#include <cstdint>
#include <vector>

namespace dsinfer::model {

struct SeqSpan {
  int32_t n_tokens = 0;  // new tokens of this sequence in Batch::tokens (consecutive)
  int32_t n_past = 0;    // tokens already in the KV cache; new ones sit at positions n_past..
  std::vector<int32_t> block_table;  // KV block ids covering positions 0 .. n_past + n_tokens - 1
};

struct Batch {
  std::vector<int32_t> tokens;      // [n_tokens], sequence after sequence
  std::vector<SeqSpan> seqs;
  std::vector<int32_t> logit_rows;  // indices into tokens whose logits are returned, in this order

  int64_t n_tokens() const { return static_cast<int64_t>(tokens.size()); }
};

}  // namespace dsinfer::model
