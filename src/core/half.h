// IEEE fp16 and bfloat16 <-> fp32 conversions, exact and bit-compatible with ggml on x86 (F16C rounding).
// Scalar code: kernels convert in bulk with SIMD; these are the reference and the loaders' path.
#pragma once

#include <bit>
#include <cstdint>

namespace r1 {

// fp16 -> fp32 is exact for every one of the 65536 encodings (subnormals, infinities and NaN payloads kept).
inline float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  const uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000 | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal: mantissa * 2^-24; shift the leading one into the implicit position.
    int e = 113;
    while ((mantissa & 0x400) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e) << 23) | ((mantissa & 0x3ff) << 13);
  }
  return std::bit_cast<float>(bits);
}

// fp32 -> fp16, round to nearest even; overflow to infinity; NaN stays NaN (quiet bit set, as F16C does).
inline uint16_t fp32_to_fp16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000);
  const uint32_t ax = x & 0x7fffffff;
  if (ax > 0x7f800000) return sign | 0x7e00 | static_cast<uint16_t>((ax >> 13) & 0x3ff);
  if (ax >= 0x477ff000) return sign | 0x7c00;  // >= 65520 rounds to infinity
  uint32_t value;
  uint32_t shift;
  if (ax < 0x38800000) {
    // Below the smallest normal fp16 (2^-14): count in units of 2^-24.
    const uint32_t e = ax >> 23;
    shift = 126 - e;
    if (shift > 24) return sign;  // below half a unit: rounds to zero
    value = (ax & 0x7fffff) | 0x800000;
  } else {
    value = ax - 0x38000000;  // rebias the exponent from 127 to 15
    shift = 13;
  }
  uint32_t q = value >> shift;
  const uint32_t rem = value & ((1u << shift) - 1);
  const uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (q & 1))) ++q;
  return sign | static_cast<uint16_t>(q);
}

inline float bf16_to_fp32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

// fp32 -> bf16, round to nearest even; NaN forced quiet (ggml's rule).
inline uint16_t fp32_to_bf16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((x >> 16) | 64);
  return static_cast<uint16_t>((x + (0x7fff + ((x >> 16) & 1))) >> 16);
}

}  // namespace r1
