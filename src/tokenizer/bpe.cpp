#include "tokenizer/bpe.h"

#include <algorithm>
#include <atomic>
#include <climits>

#include "core/error.h"

namespace dsinfer::tokenizer {

namespace {

constexpr size_t kCacheMaxPiece = 48;      // longer pieces are rare and not memoized
constexpr size_t kCacheMaxEntries = 1 << 16;
constexpr size_t kSmallPiece = 64;  // pieces up to this size merge in flat arrays, longer ones with a heap
constexpr int32_t kNoRank = INT32_MAX;

struct StrHashT {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// One thread's memo of piece -> ids, for the model it was last used with.
struct PieceCache {
  uint64_t owner = 0;
  std::unordered_map<std::string, std::vector<int32_t>, StrHashT, std::equal_to<>> map;
};

thread_local PieceCache t_cache;
std::atomic<uint64_t> g_next_uid{1};

bool cand_greater(const BpeScratch::Cand& a, const BpeScratch::Cand& b) { return a.key > b.key; }

std::string printable(std::string_view bytes) {
  std::string out;
  for (char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) {
      out += c;
    } else {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

}  // namespace

void BpeModel::build(const std::vector<std::pair<std::string, int32_t>>& vocab,
                     const std::vector<std::pair<std::string, std::string>>& merges, const Options& opt,
                     const std::string& source) {
  opt_ = opt;
  uid_ = g_next_uid.fetch_add(1);
  vocab_.clear();
  vocab_.reserve(vocab.size());
  byte_ids_.fill(-1);
  for (const auto& [bytes, id] : vocab) {
    vocab_.emplace(bytes, id);
    if (bytes.size() == 1) byte_ids_[static_cast<uint8_t>(bytes[0])] = id;
  }
  size_t cap = 16;
  while (cap < merges.size() * 2 + 2) cap *= 2;
  slots_.assign(cap, Slot{});
  shift_ = 64 - static_cast<unsigned>(__builtin_ctzll(cap));
  n_merges_ = 0;
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [a, b] = merges[rank];
    joined.assign(a).append(b);
    const auto ia = vocab_.find(a), ib = vocab_.find(b), ir = vocab_.find(joined);
    if (ia == vocab_.end() || ib == vocab_.end() || ir == vocab_.end()) {
      if (!opt.strict) continue;
      const std::string& missing = ia == vocab_.end() ? a : ib == vocab_.end() ? b : joined;
      fail(source, ": merge #", rank, " ('", printable(a), "' + '", printable(b), "'): token '", printable(missing),
           "' is not in the vocabulary");
    }
    insert_pair(ia->second, ib->second, static_cast<int32_t>(rank), ir->second);
  }
}

void BpeModel::set_byte_fallback(uint8_t b, int32_t id) {
  if (byte_ids_[b] < 0) byte_ids_[b] = id;
}

void BpeModel::insert_pair(int32_t a, int32_t b, int32_t rank, int32_t result) {
  const uint64_t key = pair_key(a, b);
  const size_t mask = slots_.size() - 1;
  for (size_t i = slot_of(key);; i = (i + 1) & mask) {
    Slot& s = slots_[i];
    if (s.key == key) return;  // a repeated merge keeps its first (lowest) rank
    if (s.key == kEmpty) {
      s = Slot{key, rank, result};
      ++n_merges_;
      return;
    }
  }
}

const BpeModel::Slot* BpeModel::find_pair(int32_t a, int32_t b) const {
  const uint64_t key = pair_key(a, b);
  const size_t mask = slots_.size() - 1;
  for (size_t i = slot_of(key);; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (s.key == key) return &s;
    if (s.key == kEmpty) return nullptr;
  }
}

void BpeModel::push_candidate(BpeScratch& s, int32_t left) const {
  const int32_t right = s.syms[left].next;
  if (right < 0) return;
  const int32_t a = s.syms[left].id, b = s.syms[right].id;
  if (a < 0 || b < 0) return;
  const Slot* m = find_pair(a, b);
  if (!m) return;
  s.heap.push_back({(static_cast<uint64_t>(m->rank) << 32) | static_cast<uint32_t>(left), a, b, m->result});
  std::push_heap(s.heap.begin(), s.heap.end(), cand_greater);
}

void BpeModel::emit(int32_t id, std::vector<int32_t>& out) const {
  if (id >= 0) {
    out.push_back(id);
  } else if (opt_.unk_id >= 0) {
    out.push_back(opt_.unk_id);
  }
}

void BpeModel::encode(std::string_view piece, BpeScratch& s, std::vector<int32_t>& out) const {
  if (piece.empty()) return;
  if (piece.size() == 1) return emit(byte_ids_[static_cast<uint8_t>(piece[0])], out);
  if (opt_.ignore_merges) {
    if (auto it = vocab_.find(piece); it != vocab_.end()) return emit(it->second, out);
  }
  if (piece.size() > kCacheMaxPiece) {
    return piece.size() <= kSmallPiece ? merge_small(piece, out) : merge(piece, s, out);
  }
  PieceCache& cache = t_cache;
  if (cache.owner != uid_) {
    cache.map.clear();
    cache.owner = uid_;
  }
  if (auto it = cache.map.find(piece); it != cache.map.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
    return;
  }
  const size_t first = out.size();
  if (piece.size() <= kSmallPiece) merge_small(piece, out);
  else merge(piece, s, out);
  if (cache.map.size() >= kCacheMaxEntries) cache.map.clear();
  const auto from = out.begin() + static_cast<std::ptrdiff_t>(first);
  cache.map.emplace(std::string(piece), std::vector<int32_t>(from, out.end()));
}

// Short pieces: the rank of every adjacent pair kept in an array; each round
// merges the leftmost pair of lowest rank and re-ranks its two neighbours.
void BpeModel::merge_small(std::string_view piece, std::vector<int32_t>& out) const {
  int32_t ids[kSmallPiece], ranks[kSmallPiece], results[kSmallPiece];
  size_t n = piece.size();
  for (size_t i = 0; i < n; ++i) ids[i] = byte_ids_[static_cast<uint8_t>(piece[i])];
  auto rank_pair = [&](size_t i) {
    const Slot* m = (ids[i] >= 0 && ids[i + 1] >= 0) ? find_pair(ids[i], ids[i + 1]) : nullptr;
    ranks[i] = m ? m->rank : kNoRank;
    results[i] = m ? m->result : -1;
  };
  for (size_t i = 0; i + 1 < n; ++i) rank_pair(i);
  while (n > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < n; ++i) {
      if (ranks[i] < ranks[best]) best = i;
    }
    if (ranks[best] == kNoRank) break;
    ids[best] = results[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      ids[i] = ids[i + 1];
      ranks[i] = ranks[i + 1];
      results[i] = results[i + 1];
    }
    --n;
    if (best > 0) rank_pair(best - 1);
    if (best + 1 < n) rank_pair(best);
  }
  for (size_t i = 0; i < n; ++i) emit(ids[i], out);
}

void BpeModel::merge(std::string_view piece, BpeScratch& s, std::vector<int32_t>& out) const {
  const auto n = static_cast<int32_t>(piece.size());
  s.syms.resize(piece.size());
  for (int32_t i = 0; i < n; ++i) {
    s.syms[i] = {byte_ids_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < n ? i + 1 : -1};
  }
  s.heap.clear();
  for (int32_t i = 0; i + 1 < n; ++i) push_candidate(s, i);
  while (!s.heap.empty()) {
    std::pop_heap(s.heap.begin(), s.heap.end(), cand_greater);
    const BpeScratch::Cand c = s.heap.back();
    s.heap.pop_back();
    const auto left = static_cast<int32_t>(c.key & 0xffffffffu);
    BpeScratch::Sym& l = s.syms[left];
    if (l.id != c.left_id || l.next < 0 || s.syms[l.next].id != c.right_id) continue;  // stale
    const int32_t right = l.next;
    l.id = c.result;
    l.next = s.syms[right].next;
    if (l.next >= 0) s.syms[l.next].prev = left;
    s.syms[right].id = -2;  // removed
    if (l.prev >= 0) push_candidate(s, l.prev);
    push_candidate(s, left);
  }
  for (int32_t i = 0; i >= 0; i = s.syms[i].next) emit(s.syms[i].id, out);
}

}  // namespace dsinfer::tokenizer
