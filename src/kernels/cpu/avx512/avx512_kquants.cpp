// The native build of the AVX-512 VNNI K-quant prompt kernels (the loops are in avx512_kquants_impl.h, which
// the tests also build emulated).
#include "avx512_kquants_impl.h"
