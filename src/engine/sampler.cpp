#include "engine/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

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

int32_t argmax(const std::vector<float>& l) {
  int32_t best = 0;
  for (int32_t i = 1; i < static_cast<int32_t>(l.size()); ++i) {
    if (l[i] > l[best]) best = i;  // strict: ties keep the lowest id
  }
  return best;
}

// The order top-k and top-p select in: larger logit first, ties to the lower id.
struct Better {
  const std::vector<float>& l;
  bool operator()(int32_t a, int32_t b) const { return l[a] > l[b] || (l[a] == l[b] && a < b); }
};

// w[id] = exp(l[id] - max) for the candidates (1 for the best); other entries unused.
std::vector<float> weights(const std::vector<float>& l, const std::vector<int32_t>& ids) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int32_t id : ids) mx = std::max(mx, l[id]);
  if (mx == -std::numeric_limits<float>::infinity()) fail("sampler: every candidate logit is -inf");
  std::vector<float> w(l.size());
  for (int32_t id : ids) w[id] = std::exp(l[id] - mx);
  return w;
}

// Keeps the smallest set of best tokens (in Better order) whose weight reaches
// p of the total: the prefix top-p keeps, found without sorting by a
// quickselect on accumulated weight (expected O(n), also for flat distributions).
void apply_top_p(std::vector<int32_t>& ids, const std::vector<float>& w, const Better& better, double p) {
  double need = 0;
  for (int32_t id : ids) need += w[id];
  need *= p;
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

// e^x for x <= 0, branch-free so that loops over it vectorize: the reduction to
// 2^n e^r and the Cephes polynomial of the kernels' exp (about 1e-7 relative).
// 0 below -87, where 2^n leaves the normal floats: such a token's weight is
// under 1e-37 of the best one's.
float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  constexpr float kMin = -87.0f, kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const int32_t keep = -static_cast<int32_t>(x >= kMin);  // all ones, or 0 below kMin (and for -inf)
  const float c = std::bit_cast<float>((std::bit_cast<int32_t>(x) & keep) | (std::bit_cast<int32_t>(kMin) & ~keep));
  const float n = (c * kLog2e + kRound) - kRound;
  const float r = (c - n * kLn2Hi) - n * kLn2Lo;
  float q = 1.9875691500e-4f;
  for (float k : {1.3981999507e-3f, 8.3334519073e-3f, 4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f}) q = q * r + k;
  const float e_r = q * r * r + r + 1.0f;
  const float two_n = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return std::bit_cast<float>(std::bit_cast<int32_t>(e_r * two_n) & keep);
}

// Tokens per block of the draw over the whole vocabulary: the block sums let the
// draw find its block first and then walk at most one block's weights.
constexpr int32_t kDrawBlock = 1024;

// The largest of l[0, n) (no NaN there), over 8 independent lanes so that it vectorizes.
float max_of(const float* l, int32_t n) {
  float lanes[8];
  std::fill(lanes, lanes + 8, -std::numeric_limits<float>::infinity());
  int32_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lanes[j] = l[i + j] > lanes[j] ? l[i + j] : lanes[j];
  float mx = -std::numeric_limits<float>::infinity();
  for (; i < n; ++i) mx = std::max(mx, l[i]);
  for (float x : lanes) mx = std::max(mx, x);
  return mx;
}

// w[i] = e^((l[i] - mx) / temperature); returns the sum of each block of kDrawBlock.
std::vector<float> block_weights(const float* l, int32_t vocab, float temperature, std::vector<float>& w) {
  const float mx = max_of(l, vocab);
  if (mx == -std::numeric_limits<float>::infinity()) fail("sampler: every candidate logit is -inf");
  w.resize(static_cast<size_t>(vocab));
  for (int32_t i = 0; i < vocab; ++i) w[i] = exp_nonpositive((l[i] - mx) / temperature);
  std::vector<float> sums;
  for (int32_t b = 0; b < vocab; b += kDrawBlock) {
    float lanes[8] = {};  // independent partial sums, so that the sum vectorizes
    const int32_t end = std::min(vocab, b + kDrawBlock);
    int32_t i = b;
    for (; i + 8 <= end; i += 8)
      for (int j = 0; j < 8; ++j) lanes[j] += w[i + j];
    float s = 0;
    for (; i < end; ++i) s += w[i];
    for (float x : lanes) s += x;
    sums.push_back(s);
  }
  return sums;
}

// The first token (with weight) where the running weight passes u of the total:
// the draw of softmax(l / temperature) over every token, in O(vocab) with no
// candidate list (the API's default: no top-k, top-p or min-p).
int32_t draw_all(const float* l, int32_t vocab, float temperature, double u) {
  std::vector<float> w;
  const std::vector<float> sums = block_weights(l, vocab, temperature, w);
  double total = 0;
  for (float s : sums) total += s;
  const double target = u * total;
  double acc = 0;
  size_t b = 0;
  while (b + 1 < sums.size() && acc + sums[b] <= target) acc += sums[b++];
  int32_t last = -1;
  for (auto i = static_cast<int32_t>(b) * kDrawBlock; i < vocab; ++i) {  // past the block only by rounding
    if (w[i] <= 0) continue;
    acc += w[i];
    last = i;
    if (target < acc) return i;
  }
  if (last >= 0) return last;  // u landed in the rounding gap at the top
  for (int32_t i = static_cast<int32_t>(b) * kDrawBlock - 1; i >= 0; --i)
    if (w[i] > 0) return i;
  return static_cast<int32_t>(std::max_element(w.begin(), w.end()) - w.begin());
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

std::vector<float> log_softmax(const float* logits, int32_t vocab) {
  if (vocab <= 0) fail("log_softmax: vocabulary size must be positive, got ", vocab);
  double mx = -std::numeric_limits<double>::infinity();
  for (int32_t i = 0; i < vocab; ++i) mx = std::max(mx, static_cast<double>(logits[i]));
  double z = 0;
  for (int32_t i = 0; i < vocab; ++i) z += std::exp(static_cast<double>(logits[i]) - mx);
  const double lse = mx + std::log(z);
  std::vector<float> out(static_cast<size_t>(vocab));
  for (int32_t i = 0; i < vocab; ++i) out[i] = static_cast<float>(static_cast<double>(logits[i]) - lse);
  return out;
}

Sampler::Sampler(const SamplingParams& p) : params_(p) {
  validate(p);
  rng_.seed(p.has_seed ? p.seed : random_seed());
}

bool Sampler::greedy() const { return params_.temperature < kGreedyTemperature; }

Sampler::Candidates Sampler::select(const float* logits, int32_t vocab, const std::vector<int32_t>& prompt,
                                    const std::vector<int32_t>& output) const {
  std::vector<float> l = penalized(logits, vocab, params_, prompt, output);
  if (greedy()) return Candidates{{argmax(l)}, {1.0}};
  if (params_.temperature != 1.0f) {
    for (float& x : l) x /= params_.temperature;
  }
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  std::iota(ids.begin(), ids.end(), 0);
  const Better better{l};
  if (params_.top_k > 0 && params_.top_k < vocab) {  // the k best: O(vocab log k), fast for the usual small k
    std::partial_sort(ids.begin(), ids.begin() + params_.top_k, ids.end(), better);
    ids.resize(static_cast<size_t>(params_.top_k));
  }
  const std::vector<float> w = weights(l, ids);
  if (params_.top_p < 1.0f) apply_top_p(ids, w, better, params_.top_p);
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
      return draw_all(logits, vocab, params_.temperature, uniform());
    }
    const std::vector<float> l = penalized(logits, vocab, params_, prompt, output);
    return draw_all(l.data(), vocab, params_.temperature, uniform());
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
