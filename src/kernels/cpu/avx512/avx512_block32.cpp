// The native build of the AVX-512 VNNI prompt kernel for the signed 32-element formats (the loops are in
// avx512_block32_impl.h, which the tests also build emulated).
#include "avx512_block32_impl.h"
