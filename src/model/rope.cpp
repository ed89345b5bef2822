#include "model/rope.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace dsinfer::model {

double yarn_get_mscale(double scale, double mscale) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * mscale * std::log(scale) + 1.0;
}

namespace {

std::vector<double> base_inv_freq(double theta, int64_t dim) {
  std::vector<double> f(static_cast<size_t>(dim / 2));
  for (int64_t i = 0; i < dim / 2; ++i)
    f[static_cast<size_t>(i)] = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(dim));
  return f;
}

// Llama 3: long wavelengths slowed by `factor`, short ones kept, a smooth blend between.
void apply_llama3(const io::RopeScaling& s, std::vector<double>& f) {
  const double old_len = static_cast<double>(s.original_max_position_embeddings);
  const double low_wavelen = old_len / s.low_freq_factor;
  const double high_wavelen = old_len / s.high_freq_factor;
  for (double& x : f) {
    const double wavelen = 2.0 * M_PI / x;
    if (wavelen < high_wavelen) continue;
    if (wavelen > low_wavelen) {
      x /= s.factor;
      continue;
    }
    const double smooth = (old_len / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
    x = (1.0 - smooth) * x / s.factor + smooth * x;
  }
}

double yarn_correction_dim(double num_rotations, int64_t dim, double base, double max_pos) {
  return (static_cast<double>(dim) * std::log(max_pos / (num_rotations * 2.0 * M_PI))) / (2.0 * std::log(base));
}

// YaRN: interpolate (divide by factor) the low frequencies, extrapolate the
// high ones, with a linear ramp between the two correction dimensions.
void apply_yarn(const io::ModelConfig& cfg, int64_t dim, std::vector<double>& f) {
  const auto& s = cfg.rope_scaling;
  const double max_pos = static_cast<double>(s.original_max_position_embeddings);
  double low = std::floor(yarn_correction_dim(s.beta_fast, dim, cfg.rope_theta, max_pos));
  double high = std::ceil(yarn_correction_dim(s.beta_slow, dim, cfg.rope_theta, max_pos));
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  for (size_t i = 0; i < f.size(); ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    const double extrapolate = 1.0 - ramp;
    f[i] = (f[i] / s.factor) * (1.0 - extrapolate) + f[i] * extrapolate;
  }
}

}  // namespace

RopeTable make_rope_table(const io::ModelConfig& cfg, int64_t rot_dim) {
  std::vector<double> f = base_inv_freq(cfg.rope_theta, rot_dim);
  RopeTable t;
  const auto& s = cfg.rope_scaling;
  if (s.type == "llama3") {
    apply_llama3(s, f);
  } else if (s.type == "yarn") {
    apply_yarn(cfg, rot_dim, f);
    t.mscale = static_cast<float>(yarn_get_mscale(s.factor, s.mscale) / yarn_get_mscale(s.factor, s.mscale_all_dim));
  } else if (s.type == "linear") {
    for (double& x : f) x /= s.factor;
  }
  if (!s.freq_factors.empty()) {
    if (s.freq_factors.size() != f.size())
      fail("rope frequency factors: ", s.freq_factors.size(), " given for a rotary dimension of ", rot_dim, " (need ",
           f.size(), ")");
    for (size_t i = 0; i < f.size(); ++i) f[i] /= s.freq_factors[i];
  }
  t.inv_freq.assign(f.begin(), f.end());
  return t;
}

}  // namespace dsinfer::model
