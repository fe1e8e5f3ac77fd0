// The AVX-512 kernel table (F, BW, VL and VNNI; compiled with those flags). It starts from the AVX2 table and
// replaces the entries that have an AVX-512 kernel: prompts for Q4_K and Q6_K (avx512_kquants_impl.h) and for
// Q4_0, Q5_0, Q8_0 and IQ4_NL (avx512_block32_impl.h), with decode for Q4_K, Q6_K and Q8_0 (avx512_decode.h,
// which those call), and flash attention over F16 caches (avx512_attention_impl.h).
#include "cpu_kernel_table.h"

namespace r1::cpu {

const KernelTable& avx512_table() {
  static const KernelTable table = [] {
    KernelTable t = avx2_table();
    t.isa = "avx512";
    avx512::register_kquants(t);
    avx512::register_block32(t);
    avx512::register_attention(t);
    return t;
  }();
  return table;
}

}  // namespace r1::cpu
