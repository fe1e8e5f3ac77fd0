// The AVX-512 kernel table (F, BW, VL; compiled with those flags). It starts from the AVX2 table and
// replaces the entries that have an AVX-512 kernel; none yet, so it currently runs the AVX2 kernels.
#include "cpu_kernel_table.h"

namespace r1::cpu {

const KernelTable& avx512_table() {
  static const KernelTable table = [] {
    KernelTable t = avx2_table();
    t.isa = "avx512";
    return t;
  }();
  return table;
}

}  // namespace r1::cpu
