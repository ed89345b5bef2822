#include "kernels/cpu/isa.h"

#include "core/error.h"

namespace dsinfer::kernels::cpu {

bool isa_supported(Isa isa) {
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  switch (isa) {
    case Isa::Scalar:
      return true;
    case Isa::Avx2:
      return avx2;
    case Isa::Avx512:
      return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

Isa best_isa() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Scalar;
}

std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Scalar:
      return "scalar";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
  }
  return "?";
}

Isa resolve_isa(std::string_view name) {
  if (name == "auto" || name.empty()) return best_isa();
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (name != isa_name(isa)) continue;
    if (!isa_supported(isa))
      fail("ISA \"", name, "\" was requested but this CPU does not support it (",
           isa == Isa::Avx512 ? "needs AVX-512 F/BW/VL/VNNI" : "needs AVX2, FMA and F16C", "; best available: ",
           isa_name(best_isa()), ")");
    return isa;
  }
  fail("unknown ISA \"", name, "\" (supported: auto, avx512, avx2, scalar)");
}

}  // namespace dsinfer::kernels::cpu
