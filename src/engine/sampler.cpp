#include "engine/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "engine/vocab_weights.h"

namespace dsinfer::engine {
namespace {

// Temperatures below this are treated as greedy (as vLLM does): dividing by
// them would overflow the logits.
constexpr float kGreedyTemperature = 1e-5f;

void check_id(int32_t id, int32_t vocab) {
  if (id < 0 || id >= vocab) fail("token id ", id, " is out of range for a vocabulary of ", vocab);
}

// Repetition penalty over every distinct token of prompt + output.
void apply_repetition(std::vector<float>& l, float penalty, const std::vector<int32_t>& prompt,
                      const std::vector<int32_t>& output) {
  const auto vocab = static_cast<int32_t>(l.size());
  std::vector<uint8_t> seen(l.size(), 0);
  for (const auto* ids : {&prompt, &output}) {
    for (int32_t id : *ids) {
      check_id(id, vocab);
      if (seen[id]) continue;
      seen[id] = 1;
      l[id] = l[id] > 0 ? l[id] / penalty : l[id] * penalty;
    }
  }
}

// OpenAI frequency / presence penalties over the output tokens.
void apply_frequency_presence(std::vector<float>& l, float frequency, float presence,
                              const std::vector<int32_t>& output) {
  const auto vocab = static_cast<int32_t>(l.size());
  std::vector<int32_t> counts(l.size(), 0);
  std::vector<int32_t> distinct;
  for (int32_t id : output) {
    check_id(id, vocab);
    if (counts[id]++ == 0) distinct.push_back(id);
  }
  for (int32_t id : distinct) {
    l[id] -= frequency * static_cast<float>(counts[id]);
    l[id] -= presence;
  }
}

bool has_penalties(const SamplingParams& p) {
  return p.repetition_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f;
}

// NaN and +inf are refused; -inf (a masked token) is fine. The flag loop has no
// branch so that it vectorizes; the index is searched for only on failure.
void check_logits(const float* logits, int32_t vocab) {
  if (vocab <= 0) fail("sampler: vocabulary size must be positive, got ", vocab);
  int32_t bad = 0;
  for (int32_t i = 0; i < vocab; ++i) bad |= static_cast<int32_t>(!(logits[i] < std::numeric_limits<float>::infinity()));
  if (bad == 0) return;
  for (int32_t i = 0; i < vocab; ++i) {
    if (!(logits[i] < std::numeric_limits<float>::infinity())) fail("sampler: logit of token ", i, " is ", logits[i]);
  }
}

std::vector<float> penalized(const float* logits, int32_t vocab, const SamplingParams& p,
                             const std::vector<int32_t>& prompt, const std::vector<int32_t>& output) {
  check_logits(logits, vocab);
  std::vector<float> l(logits, logits + vocab);
  if (p.repetition_penalty != 1.0f) apply_repetition(l, p.repetition_penalty, prompt, output);
  if (p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f) {
    apply_frequency_presence(l, p.frequency_penalty, p.presence_penalty, output);
  }
  return l;
}

// The order top-k and top-p select in: larger logit first, ties to the lower id.
struct Better {
  const std::vector<float>& l;
  bool operator()(int32_t a, int32_t b) const { return l[a] > l[b] || (l[a] == l[b] && a < b); }
};

// Keeps the smallest set of best tokens (in Better order) whose weight reaches
// p of the total: the prefix top-p keeps, found without sorting by a
// quickselect on accumulated weight (expected O(n), also for flat distributions).
// `need` is p of the whole candidates' weight (ids may be only those above top_p_floor).
void apply_top_p(std::vector<int32_t>& ids, const std::vector<float>& w, const Better& better, double need) {
  auto lo = ids.begin(), hi = ids.end();  // the last kept token lies in [lo, hi); all before lo are kept
  while (hi - lo > 1) {
    int32_t three[3] = {*lo, *(lo + (hi - lo) / 2), *(hi - 1)};
    std::sort(three, three + 3, better);
    const int32_t pivot = three[1];
    const auto split = std::partition(lo, hi, [&](int32_t id) { return better(id, pivot); });
    double upper = 0;
    for (auto it = lo; it != split; ++it) upper += w[*it];
    if (upper >= need) {  // reached before the pivot (need > 0, so [lo, split) is not empty)
      hi = split;
      continue;
    }
    std::iter_swap(split, std::find(split, hi, pivot));
    need -= upper;
    if (w[pivot] >= need) {
      hi = split + 1;
      break;
    }
    need -= w[pivot];
    lo = split + 1;
  }
  ids.erase(hi, ids.end());  // with one candidate left it completes p (or rounding kept all)
}

Sampler::Candidates normalized(std::vector<int32_t> ids, const std::vector<float>& w) {
  Sampler::Candidates c;
  double z = 0;
  for (int32_t id : ids) z += w[id];
  c.probs.reserve(ids.size());
  for (int32_t id : ids) c.probs.push_back(w[id] / z);
  c.ids = std::move(ids);
  return c;
}

uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

void validate(const SamplingParams& p) {
  if (!(std::isfinite(p.temperature) && p.temperature >= 0)) {
    fail("temperature must be a finite number >= 0, got ", p.temperature);
  }
  if (!(p.top_p > 0 && p.top_p <= 1)) fail("top_p must be in (0, 1], got ", p.top_p);
  if (!(p.min_p >= 0 && p.min_p <= 1)) fail("min_p must be in [0, 1], got ", p.min_p);
  if (!(std::isfinite(p.repetition_penalty) && p.repetition_penalty > 0)) {
    fail("repetition_penalty must be a finite number > 0, got ", p.repetition_penalty);
  }
  if (!(p.presence_penalty >= -2 && p.presence_penalty <= 2)) {
    fail("presence_penalty must be in [-2, 2], got ", p.presence_penalty);
  }
  if (!(p.frequency_penalty >= -2 && p.frequency_penalty <= 2)) {
    fail("frequency_penalty must be in [-2, 2], got ", p.frequency_penalty);
  }
}

Sampler::Sampler(const SamplingParams& p) : params_(p) {
  validate(p);
  rng_.seed(p.has_seed ? p.seed : random_seed());
}

bool Sampler::greedy() const { return params_.temperature < kGreedyTemperature; }

// The candidates after top-k, top-p and min-p. Ordered by logit (ties to the
// lower id); weighted by e^((l - max) / T), which temperature cannot reorder.
Sampler::Candidates Sampler::select(const float* logits, int32_t vocab, const std::vector<int32_t>& prompt,
                                    const std::vector<int32_t>& output) const {
  const std::vector<float> l = penalized(logits, vocab, params_, prompt, output);
  if (greedy()) return Candidates{{argmax(l.data(), vocab)}, {1.0}};
  const Better better{l};
  std::vector<int32_t> ids;
  std::vector<float> w;
  double total = 0;
  if (params_.top_k > 0 && params_.top_k < vocab) {  // the k best: O(vocab log k), fast for the usual small k
    ids.resize(static_cast<size_t>(vocab));
    std::iota(ids.begin(), ids.end(), 0);
    std::partial_sort(ids.begin(), ids.begin() + params_.top_k, ids.end(), better);
    ids.resize(static_cast<size_t>(params_.top_k));
    if (l[ids[0]] == -std::numeric_limits<float>::infinity()) fail("sampler: every candidate logit is -inf");
    w.assign(static_cast<size_t>(vocab), 0.0f);
    for (int32_t id : ids) total += w[id] = exp_nonpositive((l[id] - l[ids[0]]) / params_.temperature);
  } else {  // every token: weights in vectorized passes, then only those top-p and min-p can keep
    VocabWeights v = vocab_weights(l.data(), vocab, params_.temperature);
    total = v.total;
    const float floor = std::max(params_.top_p < 1.0f ? top_p_floor(v, params_.top_p * total) : 0.0f, params_.min_p);
    w = std::move(v.w);
    const auto kept = [&](int32_t i) { return w[i] > 0 && w[i] >= floor; };
    int64_t n = 0;
    for (int32_t i = 0; i < vocab; ++i) n += kept(i);
    ids.reserve(static_cast<size_t>(n));  // one allocation: growing a list this large faults in fresh pages
    for (int32_t i = 0; i < vocab; ++i)
      if (kept(i)) ids.push_back(i);
  }
  if (params_.top_p < 1.0f) apply_top_p(ids, w, better, params_.top_p * total);
  // min-p: probability below min_p times the largest, i.e. weight below min_p.
  if (params_.min_p > 0.0f) std::erase_if(ids, [&](int32_t id) { return w[id] < params_.min_p; });
  return normalized(std::move(ids), w);
}

double Sampler::uniform() {
  // 53 random bits -> uniform double in [0, 1); portable, unlike std::uniform_real_distribution.
  return static_cast<double>(rng_() >> 11) * 0x1.0p-53;
}

bool Sampler::keeps_all(int32_t vocab) const {
  return (params_.top_k <= 0 || params_.top_k >= vocab) && params_.top_p >= 1.0f && params_.min_p <= 0.0f;
}

int32_t Sampler::sample(const float* logits, int32_t vocab, const std::vector<int32_t>& prompt,
                        const std::vector<int32_t>& output) {
  if (!greedy() && keeps_all(vocab)) {
    if (!has_penalties(params_)) {
      check_logits(logits, vocab);
      return draw(vocab_weights(logits, vocab, params_.temperature), uniform());
    }
    const std::vector<float> l = penalized(logits, vocab, params_, prompt, output);
    return draw(vocab_weights(l.data(), vocab, params_.temperature), uniform());
  }
  const Candidates c = select(logits, vocab, prompt, output);
  if (c.ids.size() == 1) return c.ids[0];
  const double u = uniform();
  double acc = 0;
  int32_t last = c.ids[0];
  for (size_t j = 0; j < c.ids.size(); ++j) {
    if (c.probs[j] <= 0) continue;
    acc += c.probs[j];
    last = c.ids[j];
    if (u < acc) return last;
  }
  return last;  // u landed in the rounding gap at the top: the last token with mass
}

std::vector<float> Sampler::distribution(const float* logits, int32_t vocab, const std::vector<int32_t>& prompt,
                                         const std::vector<int32_t>& output) const {
  const Candidates c = select(logits, vocab, prompt, output);
  std::vector<float> out(static_cast<size_t>(vocab), 0.0f);
  for (size_t j = 0; j < c.ids.size(); ++j) out[c.ids[j]] = static_cast<float>(c.probs[j]);
  return out;
}

}  // namespace dsinfer::engine
