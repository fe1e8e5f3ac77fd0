// The native build of the AVX-512 VNNI Q4_K prompt kernel (the loops are in avx512_q4k_impl.h, which the
// tests also build emulated).
#include "avx512_q4k_impl.h"
