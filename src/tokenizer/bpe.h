// Byte-level BPE model: single bytes are the initial symbols, adjacent pairs
// are merged lowest rank first (leftmost first among equal ranks) until no
// pair of the merge table is left. Internal header.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dsinfer::tokenizer {

// Reusable per-call buffers (not shared between threads).
struct BpeScratch {
  struct Sym {
    int32_t id;
    int32_t prev, next;  // neighbour indexes, -1 at the ends
  };
  struct Cand {
    uint64_t key;  // rank << 32 | left index: the heap orders by rank, then position
    int32_t left_id, right_id;
    int32_t result;  // id of the merged token
  };
  std::vector<Sym> syms;
  std::vector<Cand> heap;
};

class BpeModel {
 public:
  struct Options {
    bool strict = true;          // unknown merge parts / results are errors (else the merge is skipped)
    bool ignore_merges = false;  // a piece that is itself a vocab entry is emitted directly
    int32_t unk_id = -1;         // id for a byte with no token; -1 drops the byte
  };

  BpeModel() = default;
  // vocab: raw-byte token strings and ids; merges: raw-byte pairs in rank order.
  // source names the file in error messages.
  void build(const std::vector<std::pair<std::string, int32_t>>& vocab,
             const std::vector<std::pair<std::string, std::string>>& merges, const Options& opt,
             const std::string& source);

  // Gives byte b the id `id` when the vocabulary has no single-byte token for it.
  void set_byte_fallback(uint8_t b, int32_t id);

  // Appends the ids of one pre-tokenized piece (raw bytes) to out. Results
  // for short pieces are memoized in a bounded per-thread cache.
  void encode(std::string_view piece, BpeScratch& s, std::vector<int32_t>& out) const;

  size_t n_merges() const { return n_merges_; }

 private:
  struct Slot {
    uint64_t key = kEmpty;
    int32_t rank = 0;
    int32_t result = 0;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  size_t slot_of(uint64_t key) const { return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  const Slot* find_pair(int32_t a, int32_t b) const;
  void insert_pair(int32_t a, int32_t b, int32_t rank, int32_t result);
  void push_candidate(BpeScratch& s, int32_t left) const;
  void emit(int32_t id, std::vector<int32_t>& out) const;
  void merge(std::string_view piece, BpeScratch& s, std::vector<int32_t>& out) const;
  void merge_small(std::string_view piece, std::vector<int32_t>& out) const;

  struct StrHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int32_t, StrHash, std::equal_to<>> vocab_;
  std::array<int32_t, 256> byte_ids_{};
  std::vector<Slot> slots_;
  unsigned shift_ = 64;
  size_t n_merges_ = 0;
  uint64_t uid_ = 0;  // identifies this model's entries in the per-thread cache
  Options opt_;
};

}  // namespace dsinfer::tokenizer
