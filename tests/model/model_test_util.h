// Shared helpers of the model tests: load a model on a backend, run token
// sequences, compare logits.
#pragma once

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "engine/sequence_runner.h"
#include "kernels/backend.h"
#include "model/model.h"

namespace dsinfer::test {

struct Loaded {
  std::unique_ptr<kernels::Backend> backend;
  std::unique_ptr<model::Model> model;
};

inline Loaded load(const std::string& dir, const std::string& backend = "cpu") {
  Loaded l;
  l.backend = kernels::make_backend({backend, 2});
  l.model = model::Model::load(dir, *l.backend);
  return l;
}

// What loading `path` says ("" if it loads).
inline std::string load_error(const std::string& path) {
  try {
    load(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Logits of every position for one sequence, fed in chunks of `chunk` tokens (0: all at once).
inline std::vector<float> run_tokens(model::Model& m, const std::vector<int32_t>& tokens, size_t chunk = 0,
                                     model::MlaMode mla = model::MlaMode::Auto) {
  engine::RunnerOptions o;
  o.max_tokens = static_cast<int64_t>(tokens.size());
  o.block_size = 4;
  o.forward.mla_mode = mla;
  engine::SequenceRunner r(m, o);
  if (chunk == 0) chunk = tokens.size();
  std::vector<float> all;
  for (size_t i = 0; i < tokens.size(); i += chunk) {
    std::vector<int32_t> part(tokens.begin() + static_cast<int64_t>(i),
                              tokens.begin() + static_cast<int64_t>(std::min(tokens.size(), i + chunk)));
    std::vector<float> l = r.feed(part, true);
    all.insert(all.end(), l.begin(), l.end());
  }
  return all;
}

inline double rel_l2(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

// Worst per-position relative L2 error of a against b, both [positions, vocab].
inline double worst_rel_l2(const std::vector<float>& a, const std::vector<float>& b, size_t vocab) {
  double worst = 0;
  for (size_t p = 0; p * vocab < b.size(); ++p) worst = std::max(worst, rel_l2(&a[p * vocab], &b[p * vocab], vocab));
  return worst;
}

inline std::vector<int32_t> random_tokens(size_t n, int32_t vocab, uint32_t seed) {
  std::vector<int32_t> t;
  uint32_t x = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    t.push_back(static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(vocab)));
  }
  return t;
}

}  // namespace dsinfer::test
