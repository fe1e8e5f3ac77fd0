// The AVX-512 kernels built emulated (avx512_vec.h with R1_AVX512_EMULATED: each instruction in plain C++), so
// that a machine without AVX-512 checks, bit for bit against the reference, the loops an AVX-512 machine runs.
#define R1_AVX512_EMULATED 1
#define R1_AVX512_NS avx512_emulated
#include "avx512/avx512_block32_impl.h"
#include "avx512/avx512_kquants_impl.h"
#include "avx512/avx512_attention_impl.h"

namespace r1::cpu {

// The AVX2 table with the AVX-512 kernels' entries, emulated (avx512_table() with these kernels).
const KernelTable& avx512_emulated_table() {
  static const KernelTable table = [] {
    KernelTable t = avx2_table();
    t.isa = "avx512-emulated";
    avx512_emulated::register_kquants(t);
    avx512_emulated::register_block32(t);
    avx512_emulated::register_attention(t);
    return t;
  }();
  return table;
}

}  // namespace r1::cpu
