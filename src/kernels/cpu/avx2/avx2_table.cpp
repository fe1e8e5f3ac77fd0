// The AVX2+FMA+F16C kernel table, filled once on first use (only when the CPU has those features).
#include "avx2_common.h"

namespace r1::cpu {

const KernelTable& avx2_table() {
  static const KernelTable table = [] {
    KernelTable t{};
    t.isa = "avx2";
    avx2::register_legacy(t);
    avx2::register_kquants(t);
    avx2::register_iquants(t);
    avx2::register_attention(t);
    avx2::register_quantize(t);
    avx2::register_swiglu(t);
    return t;
  }();
  return table;
}

}  // namespace r1::cpu
