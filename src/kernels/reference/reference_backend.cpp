#include "kernels/reference/reference_backend.h"

#include <cstring>

#include "kernels/host_memory.h"
#include "kernels/reference/ops.h"

namespace dsinfer::kernels {

namespace {

class ReferenceBackend final : public Backend {
 public:
  Capabilities capabilities() const override { return {"reference", "scalar", 1, true}; }
  Buffer alloc(size_t bytes) override { return host_alloc(bytes); }
  void upload(const Buffer& dst, const void* src, size_t bytes, size_t offset) override {
    if (bytes) std::memcpy(static_cast<char*>(dst.data()) + offset, src, bytes);
  }
  void download(void* dst, const Buffer& src, size_t bytes, size_t offset) override {
    if (bytes) std::memcpy(dst, static_cast<const char*>(src.data()) + offset, bytes);
  }
  Weight import_weight(const Weight& w) override { return w; }

  void embed(const Weight& t, const int32_t* ids, int64_t n, float* out) override { ref::embed(t, ids, out, 0, n); }
  void matmul(const MatmulArgs& a) override { ref::matmul(a, 0, ref::matmul_out_dim(a)); }
  void rms_norm(const NormArgs& a) override { ref::rms_norm(a, 0, a.n); }
  void rope(const RopeArgs& a) override { ref::rope(a, 0, a.n_tokens); }
  void silu_mul(const float* g, const float* u, float* o, int64_t n) override { ref::silu_mul(g, u, o, 0, n); }
  void add(float* y, const float* x, int64_t n) override { ref::add(y, x, 0, n); }
  void attention(const AttentionArgs& a) override {
    ref::check_attention(a);
    ref::attention(a, 0, a.n_tokens * a.n_heads);
  }
  void copy_rows(const RowCopyArgs& a) override {
    ref::check_row_copy(a);
    ref::copy_rows(a, 0, a.n);
  }
  void scatter_add(const ScatterAddArgs& a) override { ref::scatter_add(a, 0, a.dim); }
  void moe_route(const MoeRouteArgs& a) override { ref::moe_route(a, 0, a.n); }
};

}  // namespace

std::unique_ptr<Backend> make_reference_backend() { return std::make_unique<ReferenceBackend>(); }

}  // namespace dsinfer::kernels
