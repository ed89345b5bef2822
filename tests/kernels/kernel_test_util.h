// Helpers shared by the kernel tests: the backends under test, device
// round-trips, random inputs, and an element-wise comparison that reports the
// worst offender.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/isa.h"

namespace dsinfer::test {

// The CPU SIMD levels this machine runs, lowest first.
inline std::vector<kernels::cpu::Isa> available_isas() {
  using kernels::cpu::Isa;
  std::vector<Isa> v;
  for (Isa i : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Amx})
    if (kernels::cpu::isa_supported(i)) v.push_back(i);
  return v;
}

// A backend configuration compared against the reference backend.
struct BackendCase {
  std::string name;
  int threads;
  std::string isa = "auto";  // cpu backend SIMD level
};

// gtest prints parameters with this instead of a byte dump.
inline void PrintTo(const BackendCase& c, std::ostream* os) {
  *os << c.name << " threads=" << c.threads << " isa=" << c.isa;
}

inline std::string backend_case_name(const ::testing::TestParamInfo<BackendCase>& info) {
  return info.param.name + "_t" + std::to_string(info.param.threads) + "_" + info.param.isa;
}

// 1 thread (inline), 2 threads, and 3 threads (range splits on other
// boundaries than 2's) at the best SIMD level, then each explicit SIMD level.
inline std::vector<BackendCase> backends_under_test() {
  return {{"cpu", 1, "auto"},   {"cpu", 2, "auto"}, {"cpu", 3, "auto"},
          {"cpu", 2, "scalar"}, {"cpu", 3, "avx2"}, {"cpu", 2, "avx512"}};
}

// The reference backend followed by every backend under test.
inline std::vector<BackendCase> all_backends() {
  std::vector<BackendCase> v = {{"reference", 1, "auto"}};
  for (const auto& c : backends_under_test()) v.push_back(c);
  return v;
}

// The backend, or null when it asks for a SIMD level this CPU lacks (the
// caller skips). Any other construction error propagates.
inline std::unique_ptr<kernels::Backend> make_or_null(const BackendCase& c) {
  try {
    return kernels::make_backend({c.name, c.threads, c.isa});
  } catch (const std::exception& e) {
    if (c.isa != "auto" && std::string(e.what()).find("does not support") != std::string::npos) return nullptr;
    throw;
  }
}

inline std::unique_ptr<kernels::Backend> make(const BackendCase& c) {
  return kernels::make_backend({c.name, c.threads, c.isa});
}
inline std::unique_ptr<kernels::Backend> make_reference() { return kernels::make_backend({"reference", 1}); }

// In a test body: declares `var` as the backend of case `bc`, or skips the test.
#define DSINFER_BACKEND_OR_SKIP(var, bc)                                                    \
  auto var = ::dsinfer::test::make_or_null(bc);                                             \
  if (!var) {                                                                               \
    GTEST_SKIP() << "ISA \"" << (bc).isa << "\" is not supported by this CPU: SKIPPED";   \
  }

template <typename T>
kernels::Buffer to_device(kernels::Backend& be, const std::vector<T>& v) {
  kernels::Buffer b = be.alloc(v.size() * sizeof(T));
  if (!v.empty()) be.upload(b, v.data(), v.size() * sizeof(T));
  return b;
}

template <typename T>
std::vector<T> from_device(kernels::Backend& be, const kernels::Buffer& b, size_t n) {
  std::vector<T> v(n);
  if (n) be.download(v.data(), b, n * sizeof(T));
  return v;
}

inline std::vector<float> random_floats(std::mt19937& rng, size_t n, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Success iff |got[i] - want[i]| <= tol[i] for every i (NaN in got fails).
inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<double>& want,
                                            const std::vector<double>& tol) {
  if (got.size() != want.size() || tol.size() != want.size())
    return ::testing::AssertionFailure() << "size mismatch: got " << got.size() << ", want " << want.size();
  size_t bad = 0, worst = 0;
  double worst_ratio = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
    if (!(err <= tol[i])) {
      const double ratio = std::isnan(err) ? INFINITY : err / tol[i];
      if (bad == 0 || ratio > worst_ratio) {
        worst = i;
        worst_ratio = ratio;
      }
      ++bad;
    }
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << bad << " of " << got.size() << " values out of tolerance; worst at ["
                                       << worst << "]: got " << got[worst] << ", want " << want[worst]
                                       << ", |diff| " << std::fabs(got[worst] - want[worst]) << " > tol "
                                       << tol[worst];
}

// Same against float expectations with a uniform tolerance rule abs + rel * |want|.
inline ::testing::AssertionResult all_close(const std::vector<float>& got, const std::vector<float>& want,
                                            double abs_tol, double rel_tol) {
  std::vector<double> w(want.begin(), want.end());
  std::vector<double> t(want.size());
  for (size_t i = 0; i < want.size(); ++i) t[i] = abs_tol + rel_tol * std::fabs(w[i]);
  return all_close(got, w, t);
}

// Bitwise equality (exact ops: copies, float additions).
inline ::testing::AssertionResult all_equal(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << "size mismatch: got " << got.size() << ", want " << want.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0)
      return ::testing::AssertionFailure() << "first difference at [" << i << "]: got " << got[i] << ", want "
                                           << want[i];
  return ::testing::AssertionSuccess();
}

inline constexpr size_t kMB = size_t{1} << 20;

// Every byte of b is zero (host memory).
inline bool all_zero(const kernels::Buffer& b) {
  const auto* p = static_cast<const unsigned char*>(b.data());
  for (size_t i = 0; i < b.bytes(); ++i)
    if (p[i]) return false;
  return true;
}

}  // namespace dsinfer::test
