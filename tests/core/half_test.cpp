// fp16/bf16 conversions: exhaustive over all 65536 encodings, against independent computations and F16C.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#include "half.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace r1 {
namespace {

// Independent decode of an fp16 encoding with ldexp (no bit tricks shared with the code under test).
double fp16_value(uint16_t h) {
  const int sign = (h >> 15) ? -1 : 1;
  const int e = (h >> 10) & 0x1f;
  const int m = h & 0x3ff;
  if (e == 0) return sign * std::ldexp(m, -24);
  if (e == 31) return m == 0 ? sign * INFINITY : NAN;
  return sign * std::ldexp(1024 + m, e - 25);
}

TEST(Half, Fp16ToFp32ExactForAllEncodings) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = fp16_to_fp32(static_cast<uint16_t>(h));
    const double expected = fp16_value(static_cast<uint16_t>(h));
    if (std::isnan(expected)) {  // NaN
      ASSERT_TRUE(std::isnan(f)) << h;
      // The payload is kept: the top mantissa bits of the float are the fp16 mantissa.
      ASSERT_EQ((std::bit_cast<uint32_t>(f) >> 13) & 0x3ff, h & 0x3ffu) << h;
    } else {
      ASSERT_EQ(static_cast<double>(f), expected) << h;
      ASSERT_EQ(std::signbit(f), (h & 0x8000) != 0) << h;
    }
  }
}

TEST(Half, Fp16RoundTripForAllEncodings) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const uint16_t back = fp32_to_fp16(fp16_to_fp32(static_cast<uint16_t>(h)));
    const bool is_nan = ((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff) != 0;
    if (is_nan) {
      ASSERT_EQ(back, h | 0x200) << h;  // quieted, payload kept
    } else {
      ASSERT_EQ(back, h) << h;
    }
  }
}

// Rounding of fp32 values between fp16 neighbours: midpoints go to even, everything else to nearest.
TEST(Half, Fp32ToFp16RoundsToNearestEven) {
  for (uint32_t h = 0; h < 0x7c00; ++h) {
    const double lo = fp16_value(static_cast<uint16_t>(h));
    const double hi = h + 1 == 0x7c00 ? 65536.0 : fp16_value(static_cast<uint16_t>(h + 1));
    const double mid = (lo + hi) / 2;
    const float fmid = static_cast<float>(mid);
    if (static_cast<double>(fmid) != mid) continue;  // midpoint not representable in fp32 (never for fp16)
    const uint16_t even = (h & 1) == 0 ? h : h + 1;
    ASSERT_EQ(fp32_to_fp16(fmid), h + 1 == 0x7c00 ? 0x7c00 : even) << h;
    ASSERT_EQ(fp32_to_fp16(std::nextafter(fmid, 0.0f)), h) << h;
    if (h + 1 < 0x7c00) {
      ASSERT_EQ(fp32_to_fp16(std::nextafter(fmid, INFINITY)), h + 1) << h;
    }
    ASSERT_EQ(fp32_to_fp16(-fmid), (h + 1 == 0x7c00 ? 0x7c00 : even) | 0x8000) << h;
  }
  EXPECT_EQ(fp32_to_fp16(1e10f), 0x7c00);
  EXPECT_EQ(fp32_to_fp16(-INFINITY), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(1e-10f), 0);
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t hardware_fp16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

// The hardware converter is what ggml uses on x86: ours must agree bit for bit on any fp32 input.
TEST(Half, Fp32ToFp16MatchesF16cOnRandomBits) {
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C on this CPU";
  std::mt19937 rng(42);
  for (int i = 0; i < 2'000'000; ++i) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    ASSERT_EQ(fp32_to_fp16(f), hardware_fp16(f)) << std::bit_cast<uint32_t>(f);
  }
  // Every value near the fp16 range edges and subnormal boundaries.
  for (uint32_t bits = 0x33000000 - 4096; bits < 0x39000000; bits += 7) {
    const float f = std::bit_cast<float>(bits);
    ASSERT_EQ(fp32_to_fp16(f), hardware_fp16(f)) << bits;
  }
  for (uint32_t bits = 0x477f0000; bits < 0x47810000; ++bits) {
    const float f = std::bit_cast<float>(bits);
    ASSERT_EQ(fp32_to_fp16(f), hardware_fp16(f)) << bits;
  }
}
#endif

TEST(Half, Bf16ToFp32ExactForAllEncodings) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_fp32(static_cast<uint16_t>(h));
    ASSERT_EQ(std::bit_cast<uint32_t>(f), h << 16) << h;
    if (!std::isnan(f)) {
      ASSERT_EQ(fp32_to_bf16(f), h) << h;
    }
  }
}

TEST(Half, Fp32ToBf16RoundsToNearestEvenAndQuietsNan) {
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);  // tie, even stays
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);  // tie, odd rounds up
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x3f808001u)), 0x3f81);  // above the tie
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7f800001u)), 0x7fc0);  // signalling NaN quieted
  EXPECT_EQ(fp32_to_bf16(std::bit_cast<float>(0x7f7fffffu)), 0x7f80);  // max float rounds to infinity
  std::mt19937 rng(7);
  for (int i = 0; i < 1'000'000; ++i) {
    const float f = std::bit_cast<float>(static_cast<uint32_t>(rng()));
    if (std::isnan(f)) continue;
    const uint16_t b = fp32_to_bf16(f);
    // The result is one of the two neighbours and the nearer one.
    const uint32_t down = std::bit_cast<uint32_t>(f) & 0xffff0000u;
    const double lo = std::bit_cast<float>(down);
    const double hi_b = std::bit_cast<float>(down + 0x10000u);
    if (std::isinf(hi_b)) continue;  // overflow to infinity is checked above
    const double err_pick = std::fabs(static_cast<double>(bf16_to_fp32(b)) - f);
    const double err_other = std::min(std::fabs(lo - f), std::fabs(hi_b - f));
    ASSERT_LE(err_pick, err_other) << std::bit_cast<uint32_t>(f);
  }
}

}  // namespace
}  // namespace r1
