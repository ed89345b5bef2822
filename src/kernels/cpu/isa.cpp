#include "kernels/cpu/isa.h"

#include "core/error.h"

#include <sys/syscall.h>
#include <unistd.h>

namespace dsinfer::kernels::cpu {

namespace {

// Linux keeps the AMX tile data out of a thread's saved state until the
// process asks for it (arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA, kernel
// 5.16+); without that the first tile instruction faults. Asked once.
bool amx_permitted() {
  static const bool ok = [] {
#if defined(__x86_64__) && defined(SYS_arch_prctl)
    constexpr long kReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kReqXcompPerm, kXfeatureXtiledata) == 0;
#else
    return false;
#endif
  }();
  return ok;
}

}  // namespace

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
    case Isa::Amx:
      return isa_supported(Isa::Avx512) && __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-int8") &&
             amx_permitted();
  }
  return false;
}

bool has_bf16_dots() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512bf16") != 0;
}

bool has_amx_bf16() { return isa_supported(Isa::Amx) && __builtin_cpu_supports("amx-bf16") != 0; }

bool bf16_dots_outrun_fma() { return has_bf16_dots() && __builtin_cpu_is("amd"); }

bool stripes_read_faster() {
  __builtin_cpu_init();
  return __builtin_cpu_is("amd") != 0;
}

Isa best_isa() {
  if (isa_supported(Isa::Amx)) return Isa::Amx;
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
    case Isa::Amx:
      return "amx";
  }
  return "?";
}

namespace {

const char* needs(Isa isa) {
  switch (isa) {
    case Isa::Amx:
      return "needs AVX-512 F/BW/VL/VNNI, AMX-TILE and AMX-INT8, and the kernel's permission to use AMX";
    case Isa::Avx512:
      return "needs AVX-512 F/BW/VL/VNNI";
    default:
      return "needs AVX2, FMA and F16C";
  }
}

}  // namespace

Isa resolve_isa(std::string_view name) {
  if (name == "auto" || name.empty()) return best_isa();
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Amx}) {
    if (name != isa_name(isa)) continue;
    if (!isa_supported(isa))
      fail("ISA \"", name, "\" was requested but this CPU does not support it (",
           needs(isa), "; best available: ",
           isa_name(best_isa()), ")");
    return isa;
  }
  fail("unknown ISA \"", name, "\" (supported: auto, amx, avx512, avx2, scalar)");
}

}  // namespace dsinfer::kernels::cpu
