#include "core/error.h"
#include "kernels/backend.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/reference/reference_backend.h"

namespace dsinfer::kernels {

std::unique_ptr<Backend> make_backend(const BackendOptions& opts) {
  if (opts.name == "cpu") return make_cpu_backend(opts);
  if (opts.name == "reference") return make_reference_backend();
  fail("unknown backend \"", opts.name, "\" (supported: cpu, reference)");
}

}  // namespace dsinfer::kernels
