// The native build of the AVX-512 flash attention (the loops are in avx512_attention_impl.h, which the tests
// also build emulated).
#include "avx512_attention_impl.h"
