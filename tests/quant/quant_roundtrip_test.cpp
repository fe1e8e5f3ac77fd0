// Round trips on random data: every writable type stays within its error bound (tighter than llama.cpp's
// test-quantize-fns thresholds), rows of the wrong length are refused, threads give the same bytes, and the
// activation quantizers follow llama.cpp's rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "error.h"
#include "half.h"
#include "quant_blocks.h"
#include "quant_row.h"
#include "thread_pool.h"

namespace r1 {
namespace {

std::vector<float> random_rows(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(n);
  for (auto& v : x) v = normal(rng) * 0.02f;
  return x;
}

double rel_rmse(GgmlType type, const std::vector<float>& x, int64_t n_rows, int64_t n_per_row, const float* importance) {
  const size_t row_size = *row_bytes(type_info(type), n_per_row);
  std::vector<uint8_t> q(row_size * n_rows);
  quantize_rows(type, x.data(), q.data(), {.n_rows = n_rows, .n_per_row = n_per_row, .importance = importance});
  std::vector<float> y(x.size());
  for (int64_t r = 0; r < n_rows; ++r) dequantize_row(type, q.data() + r * row_size, y.data() + r * n_per_row, n_per_row);
  double se = 0, s2 = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    se += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
    s2 += double(x[i]) * x[i];
  }
  return std::sqrt(se / s2);
}

struct Bound {
  GgmlType type;
  double max_rel_rmse;  // on Gaussian rows (‖error‖ / ‖x‖)
};

// Measured on Gaussian data plus a margin: a regression in any search shows up here.
constexpr Bound kBounds[] = {
    {GgmlType::kF16, 0.0005},   {GgmlType::kBF16, 0.004},   {GgmlType::kQ4_0, 0.13},    {GgmlType::kQ4_1, 0.11},
    {GgmlType::kQ5_0, 0.065},   {GgmlType::kQ5_1, 0.055},   {GgmlType::kQ8_0, 0.009},   {GgmlType::kQ2_K, 0.37},
    {GgmlType::kQ3_K, 0.20},    {GgmlType::kQ4_K, 0.095},   {GgmlType::kQ5_K, 0.05},    {GgmlType::kQ6_K, 0.026},
    {GgmlType::kIQ2_XXS, 0.50}, {GgmlType::kIQ2_XS, 0.42},  {GgmlType::kIQ2_S, 0.40},   {GgmlType::kIQ3_XXS, 0.30},
    {GgmlType::kIQ3_S, 0.21},   {GgmlType::kIQ1_S, 0.65},   {GgmlType::kIQ1_M, 0.58},   {GgmlType::kIQ4_NL, 0.11},
    {GgmlType::kIQ4_XS, 0.11},  {GgmlType::kTQ1_0, 0.85},   {GgmlType::kTQ2_0, 0.85},   {GgmlType::kMXFP4, 0.16},
    {GgmlType::kNVFP4, 0.13},   {GgmlType::kQ1_0, 0.62},    {GgmlType::kQ2_0, 0.75},
};

TEST(QuantRoundTrip, ErrorWithinBoundOnAwkwardRowCounts) {
  ThreadPool pool(3);
  for (const Bound& b : kBounds) {
    SCOPED_TRACE(std::string(type_info(b.type).name));
    const int64_t n_per_row = 512;
    const int64_t n_rows = 7;  // not a multiple of any thread count
    const auto x = random_rows(n_rows * n_per_row, 42);
    std::vector<float> importance(n_per_row, 1.0f);
    const double err = rel_rmse(b.type, x, n_rows, n_per_row, quantize_wants_importance(b.type) ? importance.data() : nullptr);
    EXPECT_LE(err, b.max_rel_rmse);
    EXPECT_GT(err, 0.0);
  }
}

TEST(QuantRoundTrip, ImportanceLowersWeightedError) {
  // Columns with 100× weight must come out more accurate than when all columns weigh the same.
  const int64_t n = 1024;
  const auto x = random_rows(4 * n, 7);
  std::vector<float> flat(n, 1.0f), skewed(n, 1.0f);
  for (int64_t i = 0; i < n; i += 4) skewed[i] = 100.0f;
  for (GgmlType type : {GgmlType::kQ4_K, GgmlType::kIQ2_XS, GgmlType::kIQ3_S, GgmlType::kIQ4_XS, GgmlType::kQ4_0}) {
    SCOPED_TRACE(std::string(type_info(type).name));
    const size_t row_size = *row_bytes(type_info(type), n);
    auto weighted_error = [&](const float* importance) {
      std::vector<uint8_t> q(row_size * 4);
      quantize_rows(type, x.data(), q.data(), {.n_rows = 4, .n_per_row = n, .importance = importance});
      std::vector<float> y(x.size());
      for (int r = 0; r < 4; ++r) dequantize_row(type, q.data() + r * row_size, y.data() + r * n, n);
      double e = 0;
      for (size_t i = 0; i < x.size(); ++i) e += skewed[i % n] * (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
      return e;
    };
    EXPECT_LT(weighted_error(skewed.data()), weighted_error(flat.data()));
  }
}

TEST(QuantRoundTrip, RefusesRowsThatDoNotFitTheBlock) {
  std::vector<float> x(300, 0.5f);
  std::vector<uint8_t> q(4096);
  EXPECT_THROW(quantize_row(GgmlType::kQ4_K, x.data(), q.data(), 300, nullptr), Error);
  EXPECT_THROW(quantize_row(GgmlType::kQ4_0, x.data(), q.data(), 33, nullptr), Error);
  EXPECT_THROW(dequantize_row(GgmlType::kIQ2_XXS, q.data(), x.data(), 100), Error);
  EXPECT_THROW(quantize_rows(GgmlType::kQ6_K, x.data(), q.data(), {.n_rows = 1, .n_per_row = 255}), Error);
  // Types without an encoder or decoder.
  EXPECT_THROW(quantize_row(GgmlType::kQ8_K, x.data(), q.data(), 256, nullptr), Error);
  EXPECT_THROW(dequantize_row(GgmlType::kI32, q.data(), x.data(), 4), Error);
  try {
    quantize_row(GgmlType::kQ4_K, x.data(), q.data(), 300, nullptr);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of its block size 256"), std::string::npos) << e.what();
  }
}

TEST(QuantRoundTrip, ThreadsProduceTheSameBytes) {
  ThreadPool pool(4);
  const int64_t n_rows = 13, n_per_row = 768;
  const auto x = random_rows(n_rows * n_per_row, 3);
  for (GgmlType type : {GgmlType::kQ4_K, GgmlType::kIQ1_M, GgmlType::kIQ3_XXS, GgmlType::kQ8_0}) {
    const size_t size = *row_bytes(type_info(type), n_per_row) * n_rows;
    std::vector<uint8_t> a(size), b(size);
    EXPECT_EQ(quantize_rows(type, x.data(), a.data(), {.n_rows = n_rows, .n_per_row = n_per_row}), size);
    quantize_rows(type, x.data(), b.data(), {.n_rows = n_rows, .n_per_row = n_per_row, .pool = &pool});
    EXPECT_EQ(a, b) << type_info(type).name;
  }
}

TEST(QuantRoundTrip, ZeroAndConstantRowsStayFinite) {
  for (GgmlType type : {GgmlType::kQ4_0, GgmlType::kQ2_K, GgmlType::kQ3_K, GgmlType::kQ6_K, GgmlType::kIQ2_XXS,
                        GgmlType::kIQ2_S, GgmlType::kIQ3_S, GgmlType::kIQ1_S, GgmlType::kIQ1_M, GgmlType::kIQ4_XS,
                        GgmlType::kMXFP4, GgmlType::kNVFP4, GgmlType::kTQ1_0}) {
    for (float value : {0.0f, 0.25f}) {
      std::vector<float> x(256, value), y(256);
      std::vector<uint8_t> q(*row_bytes(type_info(type), 256));
      quantize_row(type, x.data(), q.data(), 256, nullptr);
      dequantize_row(type, q.data(), y.data(), 256);
      for (float v : y) ASSERT_TRUE(std::isfinite(v)) << type_info(type).name;
      if (value == 0.0f && type != GgmlType::kIQ2_XXS && type != GgmlType::kIQ2_S && type != GgmlType::kIQ3_S &&
          type != GgmlType::kIQ1_S && type != GgmlType::kIQ1_M) {
        for (float v : y) ASSERT_EQ(v, 0.0f) << type_info(type).name;  // the lattice formats have no zero point
      }
    }
  }
}

TEST(QuantActivations, Q8_0RoundsHalfToEvenWithTheReciprocalScale) {
  // 2.5/127*127 style ties: with amax = 127, x * (127/amax) = x exactly, so 2.5 → 2 and 3.5 → 4.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = 3.5f;
  x[3] = -2.5f;
  BlockQ8_0 b;
  quantize_row_q8_0_activations(x.data(), &b, 32);
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], 2);
  EXPECT_EQ(b.qs[2], 4);
  EXPECT_EQ(b.qs[3], -2);
  EXPECT_EQ(b.d, fp32_to_fp16(1.0f));
  // The file quantizer (ggml's _ref) rounds ties away from zero instead.
  BlockQ8_0 f;
  quantize_row(GgmlType::kQ8_0, x.data(), &f, 32, nullptr);
  EXPECT_EQ(f.qs[1], 3);
}

TEST(QuantActivations, Q8_KScalesFromTheSignedExtreme) {
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[i] = (i % 7 - 3) * 0.1f;
  x[10] = -1.0f;
  BlockQ8_K b;
  quantize_row_q8_k_activations(x.data(), &b, 256);
  EXPECT_FLOAT_EQ(b.d, 1.0f / 127.0f);  // max = -1: iscale = 127, d = 1/127
  EXPECT_EQ(b.qs[10], -127);
  int sum = 0;
  for (int i = 0; i < 16; ++i) sum += b.qs[i];
  EXPECT_EQ(b.bsums[0], sum);
  std::vector<float> y(256);
  dequantize_row(GgmlType::kQ8_K, &b, y.data(), 256);
  EXPECT_NEAR(y[10], -1.0f, 1e-6f);
}

}  // namespace
}  // namespace r1
