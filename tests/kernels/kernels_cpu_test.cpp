// The CPU kernels against the reference matmul (matmul_ref): every weight format with a kernel, under every
// ISA this CPU runs (the scalar table included, forced), on random weights and activations of awkward shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "cpu_features.h"
#include "cpu_kernels.h"
#include "error.h"
#include "half.h"
#include "packed_weights.h"
#include "quant_row.h"
#include "random_rows.h"
#include "ref_matmul.h"
#include "ref_ops.h"
#include "type_table.h"

namespace r1 {
namespace cpu {
const KernelTable& avx512_emulated_table();  // avx512_emulated.cpp
}  // namespace cpu
namespace {

struct Matrix {
  std::vector<uint8_t> bytes;
  std::vector<float> decoded;  // [rows, cols] as the file's decoder sees it
  WeightView view;
};

Matrix random_matrix(GgmlType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> src(static_cast<size_t>(rows * cols));
  for (auto& v : src) v = normal(rng);
  // A few rows with an offset and larger spread, so min/offset terms are exercised.
  for (int64_t i = 0; i < cols && rows > 2; ++i) src[static_cast<size_t>(2 * cols + i)] = 3.0f * src[static_cast<size_t>(2 * cols + i)] + 1.5f;
  Matrix m;
  const uint64_t rb = *row_bytes(type_info(type), static_cast<uint64_t>(cols));
  m.bytes.resize(rb * static_cast<uint64_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    if (type == GgmlType::kF32) {
      std::memcpy(m.bytes.data() + r * rb, src.data() + r * cols, rb);
    } else {
      quantize_row(type, src.data() + r * cols, m.bytes.data() + r * rb, cols, nullptr);
    }
  }
  m.decoded.resize(src.size());
  for (int64_t r = 0; r < rows; ++r) dequantize_row(type, m.bytes.data() + r * rb, m.decoded.data() + r * cols, cols);
  m.view = WeightView{.type = type, .data = m.bytes.data(), .rows = rows, .cols = cols, .row_bytes = rb};
  return m;
}

std::vector<float> random_activations(int64_t n_tokens, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tokens * cols));
  for (auto& v : x) v = normal(rng);
  // One outlier per token, as real activations have.
  for (int64_t t = 0; t < n_tokens; ++t) x[static_cast<size_t>(t * cols + (7 * t + 3) % cols)] *= 20.0f;
  return x;
}

// |y - y_ref| <= kRel * sum_i |w_i| * |x_i| (the row's magnitude): float accumulation of exact integer block
// sums stays far inside this.
constexpr double kRel = 1e-5;

void expect_matches_reference(const CpuKernels& kernels, const Matrix& m, int64_t rows, const std::vector<float>& x,
                              int64_t n_tokens, int64_t row_begin, int64_t row_end, const std::string& what) {
  WeightView w = m.view;
  w.rows = rows;
  const int64_t cols = w.cols;
  std::vector<float> y(static_cast<size_t>(n_tokens * rows), -12345.0f), y_ref(y.size(), -12345.0f);
  matmul_ref(w, x.data(), n_tokens, y_ref.data(), row_begin, row_end);
  kernels.matmul(w, x.data(), n_tokens, y.data(), row_begin, row_end);
  int failures = 0;
  for (int64_t t = 0; t < n_tokens; ++t) {
    for (int64_t r = 0; r < rows; ++r) {
      const size_t i = static_cast<size_t>(t * rows + r);
      if (r < row_begin || r >= row_end) {
        EXPECT_EQ(y[i], -12345.0f) << what << ": wrote outside its rows, t=" << t << " r=" << r;
        continue;
      }
      double mag = 0.0;
      for (int64_t k = 0; k < cols; ++k) {
        mag += std::fabs(static_cast<double>(m.decoded[static_cast<size_t>(r * cols + k)]) * x[static_cast<size_t>(t * cols + k)]);
      }
      const double err = std::fabs(static_cast<double>(y[i]) - y_ref[i]);
      // Q4_K and the signed 32-element formats sum in llama.cpp's order in every kernel and in the reference
      // (Q4_K: the first n - n%4 tokens per 64 elements, the rest per super-block; the others in eight lanes
      // per block): the same float operations, so the same bits.
      const bool llama_order = w.type == GgmlType::kQ4_K || w.type == GgmlType::kQ4_0 || w.type == GgmlType::kQ5_0 ||
                               w.type == GgmlType::kQ8_0 || w.type == GgmlType::kIQ4_NL;
      const double bound = llama_order ? 0.0 : kRel * mag + 1e-30;
      if (!(err <= bound) && ++failures <= 5) {
        ADD_FAILURE() << what << ": t=" << t << " r=" << r << " got " << y[i] << " want " << y_ref[i]
                      << " (error " << err << ", bound " << kRel * mag << ")";
      }
    }
  }
  EXPECT_EQ(failures, 0) << what;
}

// The AVX-512 kernels this machine can run: natively where the CPU has AVX-512 VNNI, emulated on any x86-64 with
// AVX2 (what they hand the other calls to).
std::vector<std::pair<std::string, CpuKernels>> avx512_tables_here() {
  std::vector<std::pair<std::string, CpuKernels>> tables;
  const CpuFeatures features = detect_cpu_features();
  const std::vector<CpuIsa> isas = CpuKernels::available(features);
  if (std::find(isas.begin(), isas.end(), CpuIsa::kAvx512) != isas.end()) {
    tables.emplace_back("native", CpuKernels::for_isa(CpuIsa::kAvx512));
  }
#if defined(__x86_64__)
  if (features.avx2 && features.fma && features.f16c) {
    tables.emplace_back("emulated", CpuKernels::with_table(CpuIsa::kAvx512, cpu::avx512_emulated_table()));
  }
#endif
  return tables;
}

struct Case {
  GgmlType type;
  std::string isa;
};

std::string case_name(const testing::TestParamInfo<Case>& info) {
  return std::string(type_info(info.param.type).name) + "_" + info.param.isa;
}

class KernelVsReference : public testing::TestWithParam<Case> {};

// Random matrices of awkward shapes (row counts past multiples of 8 and 16, token counts past multiples of
// 4, columns over several packed chunks, a row range in the middle) through kernels, against the reference.
void expect_awkward_shapes_match(CpuKernels kernels, GgmlType type) {
  // Both prompt paths: rows packed eight at a time per call (the default) and the file's layout (--repack off).
  for (bool repack : {true, false}) {
    kernels.set_repack(repack ? RepackMode::kOn : RepackMode::kOff);

    const uint32_t block = type_info(type).block_size;
    // The largest sizes span several column chunks of the packed prompt kernels (kPackedChunkBytes).
    std::vector<int64_t> col_sizes = block == 256 ? std::vector<int64_t>{256, 512, 768, 4096}
                                                  : std::vector<int64_t>{32, 64, 256, 768, 2048};
    if (block == 1) col_sizes.insert(col_sizes.end(), {7, 33, 100});
    const int64_t kMaxRows = 65, kMaxTokens = 13;
    uint32_t seed = 1;
    for (int64_t cols : col_sizes) {
      const Matrix m = random_matrix(type, kMaxRows, cols, seed++);
      const std::vector<float> x = random_activations(kMaxTokens, cols, seed++);
      for (int64_t rows : {1, 3, 17, 65}) {
        for (int64_t n_tokens : {1, 2, 5, 13}) {
          const std::string what = "cols=" + std::to_string(cols) + " rows=" + std::to_string(rows) +
                                   " tokens=" + std::to_string(n_tokens) + (repack ? "" : " repack off");
          expect_matches_reference(kernels, m, rows, x, n_tokens, 0, rows, what);
        }
      }
      // A row range in the middle, as a thread of the backend would ask for.
      expect_matches_reference(kernels, m, kMaxRows, x, 5, 18, 41, "cols=" + std::to_string(cols) + " rows 18..41");
    }
  }
}

TEST_P(KernelVsReference, AwkwardShapes) {
  const Case& c = GetParam();
  const CpuFeatures features = detect_cpu_features();
  bool available = false;
  for (CpuIsa isa : CpuKernels::available(features)) available |= cpu_isa_name(isa) == c.isa;
  if (!available) GTEST_SKIP() << "this CPU cannot run the " << c.isa << " kernels";
  CpuKernels kernels = CpuKernels::select(features, c.isa);
  ASSERT_EQ(kernels.isa_name(), c.isa);
  ASSERT_TRUE(kernels.has_kernel(c.type));
  expect_awkward_shapes_match(kernels, c.type);
}

const GgmlType kTypes[] = {GgmlType::kF32,    GgmlType::kF16,    GgmlType::kBF16,  GgmlType::kQ4_0,
                           GgmlType::kQ4_1,   GgmlType::kQ5_0,   GgmlType::kQ5_1,  GgmlType::kQ8_0,
                           GgmlType::kIQ4_NL, GgmlType::kQ2_K,   GgmlType::kQ3_K,  GgmlType::kQ4_K,
                           GgmlType::kQ5_K,   GgmlType::kQ6_K,   GgmlType::kIQ4_XS, GgmlType::kIQ2_XXS,
                           GgmlType::kIQ2_XS, GgmlType::kIQ2_S,  GgmlType::kIQ3_XXS, GgmlType::kIQ3_S,
                           GgmlType::kIQ1_S,  GgmlType::kIQ1_M};

std::vector<Case> all_cases() {
  std::vector<Case> out;
  for (GgmlType t : kTypes) {
    for (const char* isa : {"scalar", "avx2", "avx512"}) out.push_back({t, isa});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(AllTypes, KernelVsReference, testing::ValuesIn(all_cases()), case_name);

#if defined(__x86_64__)
// The AVX-512 kernels run natively above where the CPU has AVX-512 VNNI; here they run emulated
// (tests/kernels/avx512_emulated.cpp) on any x86-64 machine with AVX2 (what they hand the other calls to).
TEST(Avx512Emulated, KernelsMatchReference) {
  const CpuFeatures features = detect_cpu_features();
  if (!(features.avx2 && features.fma && features.f16c)) GTEST_SKIP() << "the AVX-512 kernels fall back to AVX2 ones";
  const CpuKernels kernels = CpuKernels::with_table(CpuIsa::kAvx512, cpu::avx512_emulated_table());
  const CpuKernels avx2 = CpuKernels::select(features, "avx2");
  uint32_t seed = 500;
  for (GgmlType type : {GgmlType::kQ4_K, GgmlType::kQ6_K, GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kIQ4_NL}) {
    SCOPED_TRACE(type_info(type).name);
    expect_awkward_shapes_match(kernels, type);
    // The bits of the AVX2 kernel too (Q6_K is held to a bound above, not to the reference's bits): 48 rows
    // (three groups of sixteen, six of eight) and 4 + 4 + 3 tokens, over several packed chunks.
    constexpr int64_t kRows = 50, kTokens = 11;
    const int64_t cols = type_info(type).block_size == 256 ? 4096 : 2048;
    const Matrix m = random_matrix(type, kRows, cols, seed++);
    const std::vector<float> x = random_activations(kTokens, cols, seed++);
    std::vector<float> got(static_cast<size_t>(kTokens * kRows)), want(got.size());
    avx2.matmul(m.view, x.data(), kTokens, want.data(), 0, kRows);
    // In one pass over the tokens, and in passes of at most 4 and 8 (passes of 4 + 4 + 3 and 8 + 3 tokens).
    for (int64_t pass : {0, 4, 8}) {
      CpuKernels in_passes = kernels;
      in_passes.set_pass_tokens(pass);
      std::fill(got.begin(), got.end(), -1.0f);
      in_passes.matmul(m.view, x.data(), kTokens, got.data(), 0, kRows);
      EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0)
          << "differs from the AVX2 kernel, passes of " << pass << " tokens";
    }
  }
}
#endif

// Natively where the CPU has AVX-512 VNNI: passes over the tokens change no bit, on a row range of several
// groups of sixteen and a tail, and tokens past a multiple of the pass (Q4_K's grouped tokens included).
TEST(CpuKernels, Avx512PassesGiveTheOnePassBits) {
  const std::vector<CpuIsa> isas = CpuKernels::available(detect_cpu_features());
  if (std::find(isas.begin(), isas.end(), CpuIsa::kAvx512) == isas.end()) GTEST_SKIP() << "no AVX-512 VNNI here";
  constexpr int64_t kRows = 75, kTokens = 27;
  uint32_t seed = 900;
  for (GgmlType type :
       {GgmlType::kQ4_K, GgmlType::kQ6_K, GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kIQ4_NL}) {
    SCOPED_TRACE(type_info(type).name);
    const int64_t cols = type_info(type).block_size == 256 ? 4096 : 2048;
    const Matrix m = random_matrix(type, kRows, cols, seed++);
    const std::vector<float> x = random_activations(kTokens, cols, seed++);
    CpuKernels kernels = CpuKernels::for_isa(CpuIsa::kAvx512);
    std::vector<float> one(static_cast<size_t>(kTokens * kRows)), passes(one.size());
    kernels.matmul(m.view, x.data(), kTokens, one.data(), 3, kRows);
    for (int64_t pass : {4, 5, 12}) {
      kernels.set_pass_tokens(pass);
      kernels.matmul(m.view, x.data(), kTokens, passes.data(), 3, kRows);
      EXPECT_EQ(std::memcmp(one.data(), passes.data(), one.size() * sizeof(float)), 0) << "passes of " << pass;
    }
  }
}

// Rows packed once (PackedWeights, `--repack`) give a prompt the bits of rows packed per call, on row ranges from
// a group's first row (the copy is read) and from other rows (the copy cannot be, so per call); and the kernel
// does read the copy. Natively where the CPU has AVX-512 VNNI, emulated on any x86-64 with AVX2.
TEST(PackedWeights, PromptsReadTheCopyWithTheBitsOfPackingPerCall) {
  std::vector<std::pair<std::string, CpuKernels>> tables = avx512_tables_here();
  if (tables.empty()) GTEST_SKIP() << "no AVX-512 kernels here, native or emulated";
  constexpr int64_t kRows = 75, kTokens = 13;  // four groups of sixteen and 11 rows; 4 + 4 + 4 + 1 tokens
  uint32_t seed = 1300;
  for (auto& [label, kernels] : tables) {
    for (GgmlType type :
         {GgmlType::kQ4_K, GgmlType::kQ6_K, GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kIQ4_NL}) {
      SCOPED_TRACE(label + " " + std::string(type_info(type).name));
      const int64_t cols = type_info(type).block_size == 256 ? 1024 : 2048;
      const Matrix m = random_matrix(type, kRows, cols, seed++);
      const std::vector<float> x = random_activations(kTokens, cols, seed++);
      CpuActivations act;
      kernels.quantize_activations(type, x.data(), kTokens, cols, act);
      PackedWeights packed(kernels);
      const uint64_t bytes = packed.add(m.view, nullptr);
      ASSERT_EQ(bytes, kernels.packed_bytes(m.view));
      ASSERT_GT(bytes, 0u);
      EXPECT_EQ(packed.add(m.view, nullptr), 0u) << "added twice";
      const uint8_t* copy = packed.find(m.view);
      ASSERT_NE(copy, nullptr);
      for (int64_t pass : {0, 4}) {
        kernels.set_pass_tokens(pass);
        for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, kRows}, {16, kRows}, {32, 48}, {3, kRows}}) {
          std::vector<float> want(static_cast<size_t>(kTokens * kRows), -1.0f), got(want.size(), -1.0f);
          kernels.matmul(m.view, act, want.data(), begin, end);
          kernels.matmul(m.view, act, got.data(), begin, end, copy);
          EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0)
              << "rows " << begin << ".." << end << ", passes of " << pass;
        }
      }
      kernels.set_pass_tokens(0);
      // A copy of zeros in place of the rows: the packed groups now multiply to zero, so the copy is read.
      const size_t aligned = (bytes + 63) / 64 * 64;
      std::unique_ptr<uint8_t, decltype(&std::free)> zeros(static_cast<uint8_t*>(std::aligned_alloc(64, aligned)),
                                                           &std::free);
      std::memset(zeros.get(), 0, aligned);
      std::vector<float> y(static_cast<size_t>(kTokens * kRows), -1.0f);
      kernels.matmul(m.view, act, y.data(), 0, kRows, zeros.get());
      EXPECT_EQ(y[0], 0.0f);
      EXPECT_EQ(y[static_cast<size_t>(kTokens - 1) * kRows + 63], 0.0f);
      EXPECT_NE(y[64], 0.0f) << "row 64 is past the last group: the file's row";
      kernels.set_repack(RepackMode::kOff);
      std::fill(y.begin(), y.end(), -1.0f);
      kernels.matmul(m.view, act, y.data(), 0, kRows, zeros.get());
      EXPECT_NE(y[0], 0.0f) << "--repack off reads the file's rows";
      kernels.set_repack(RepackMode::kOn);
    }
  }
}

#if defined(__x86_64__)
// A matrix inside a packed one (a stacked tensor's slice) finds its rows when it starts on a group of sixteen
// and lies inside with the same layout; nothing else does.
TEST(PackedWeights, FindsSlicesOnGroupBoundariesOnly) {
  const CpuKernels kernels = CpuKernels::with_table(CpuIsa::kAvx512, cpu::avx512_emulated_table());
  const Matrix m = random_matrix(GgmlType::kQ8_0, 64, 256, 77);
  PackedWeights packed(kernels);
  EXPECT_EQ(packed.find(m.view), nullptr);
  packed.add(m.view, nullptr);
  EXPECT_EQ(packed.matrices(), 1u);
  EXPECT_EQ(packed.bytes(), kernels.packed_bytes(m.view));
  const uint8_t* base = packed.find(m.view);
  ASSERT_NE(base, nullptr);
  const uint64_t group_bytes = packed.bytes() / 4;
  const auto slice = [&](int64_t first_row, int64_t rows) {
    WeightView w = m.view;
    w.data += static_cast<uint64_t>(first_row) * w.row_bytes;
    w.rows = rows;
    return w;
  };
  EXPECT_EQ(packed.find(slice(16, 32)), base + group_bytes);
  EXPECT_EQ(packed.find(slice(48, 16)), base + 3 * group_bytes);
  EXPECT_EQ(packed.find(slice(48, 20)), base + 3 * group_bytes) << "its whole groups lie inside";
  EXPECT_EQ(packed.find(slice(8, 16)), nullptr) << "not on a group boundary";
  EXPECT_EQ(packed.find(slice(48, 32)), nullptr) << "runs past the matrix";
  EXPECT_EQ(packed.find(slice(64, 16)), nullptr) << "past the matrix";
  EXPECT_EQ(packed.add(slice(16, 32), nullptr), 0u) << "inside a matrix already packed";
  EXPECT_EQ(packed.matrices(), 1u);
  WeightView other = m.view;
  other.type = GgmlType::kQ4_0;
  EXPECT_EQ(packed.find(other), nullptr) << "another type";
  const Matrix f32 = random_matrix(GgmlType::kF32, 32, 64, 78);
  EXPECT_EQ(packed.add(f32.view, nullptr), 0u) << "no packed layout for F32";
}
#endif

// The backend keeps one CpuActivations per thread from call to call; its buffers only grow. Calls of every
// size in turn (a prompt, one token, a smaller prompt, a larger one) give the bits of a fresh one each time.
TEST(CpuKernels, ReusedActivationsGiveTheBitsOfFreshOnes) {
  const CpuKernels kernels = CpuKernels::select(detect_cpu_features());
  uint32_t seed = 1700;
  CpuActivations reused;
  for (GgmlType type : {GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K}) {
    for (auto [rows, cols, n_tokens] : {std::tuple<int64_t, int64_t, int64_t>{40, 2048, 13}, {40, 2048, 1},
                                        {33, 512, 5}, {17, 4096, 9}}) {
      SCOPED_TRACE(std::string(type_info(type).name) + " cols " + std::to_string(cols) + " tokens " +
                   std::to_string(n_tokens));
      const Matrix m = random_matrix(type, rows, cols, seed++);
      const std::vector<float> x = random_activations(n_tokens, cols, seed++);
      CpuActivations fresh;
      kernels.quantize_activations(type, x.data(), n_tokens, cols, fresh);
      kernels.quantize_activations(type, x.data(), n_tokens, cols, reused);
      std::vector<float> want(static_cast<size_t>(n_tokens * rows)), got(want.size());
      kernels.matmul(m.view, fresh, want.data(), 0, rows);
      kernels.matmul(m.view, reused, got.data(), 0, rows);
      EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0);
    }
  }
}

// How many of the outputs of one call over n_tokens tokens differ, in any bit, from those of each token alone.
int outputs_differing_alone(const CpuKernels& kernels, const Matrix& m, const std::vector<float>& x, int64_t n_tokens,
                            int64_t rows, int64_t cols) {
  std::vector<float> together(static_cast<size_t>(n_tokens * rows)), alone(together.size());
  kernels.matmul(m.view, x.data(), n_tokens, together.data(), 0, rows);
  for (int64_t t = 0; t < n_tokens; ++t) {
    kernels.matmul(m.view, x.data() + t * cols, 1, alone.data() + t * rows, 0, rows);
  }
  int differing = 0;
  for (size_t i = 0; i < together.size(); ++i) differing += std::memcmp(&together[i], &alone[i], sizeof(float)) != 0;
  return differing;
}

// The super-block formats without a packed prompt kernel unpack each row once per call for prompts
// (dot_super_unpacked) and sum in the one-token kernel's order: a prompt gives each token the bits it gets alone.
TEST(CpuKernels, PromptGivesEachTokenItsDecodeBits) {
  const CpuKernels kernels = CpuKernels::select(detect_cpu_features());
  const GgmlType types[] = {GgmlType::kQ2_K,   GgmlType::kQ3_K,   GgmlType::kQ5_K,  GgmlType::kIQ4_XS,
                            GgmlType::kIQ2_XXS, GgmlType::kIQ2_XS, GgmlType::kIQ2_S, GgmlType::kIQ3_XXS,
                            GgmlType::kIQ3_S,  GgmlType::kIQ1_S,  GgmlType::kIQ1_M};
  constexpr int64_t kRows = 70, kCols = 4096, kTokens = 11;  // several row groups; 4 + 4 + 3 tokens
  uint32_t seed = 100;
  for (GgmlType type : types) {
    const Matrix m = random_matrix(type, kRows, kCols, seed++);
    const std::vector<float> x = random_activations(kTokens, kCols, seed++);
    EXPECT_EQ(outputs_differing_alone(kernels, m, x, kTokens, kRows, kCols), 0)
        << type_info(type).name << " under " << kernels.isa_name();
  }
}

// Under AVX-512 a Q6_K row rounds the same way for prompts (sixteen packed rows) and for decode (eight rows on
// the file's layout, avx512_decode.h): one exact integer total per super-block. The reference test
// holds Q6_K only to a bound, so this pins the decode kernel to the prompt kernel's bits, which the emulated
// test pins to the AVX2 prompt kernel's. Natively where the CPU has AVX-512 VNNI, emulated on any x86-64.
TEST(CpuKernels, Avx512Q6KDecodeGivesThePromptBits) {
  std::vector<std::pair<std::string, CpuKernels>> tables = avx512_tables_here();
  if (tables.empty()) GTEST_SKIP() << "no AVX-512 kernels here, native or emulated";
  constexpr int64_t kRows = 64, kCols = 2816, kTokens = 6;  // whole groups of sixteen; 11 super-blocks
  const Matrix m = random_matrix(GgmlType::kQ6_K, kRows, kCols, 501);
  const std::vector<float> x = random_activations(kTokens, kCols, 502);
  for (const auto& [name, kernels] : tables) {
    EXPECT_EQ(outputs_differing_alone(kernels, m, x, kTokens, kRows, kCols), 0) << name;
  }
}

// Activation rows to 8-bit blocks: each ISA's quantizer writes the scalar one's bytes, on rows of N(0, 1) values
// with the awkward cases (block = the format's block size): ties of magnitude with either sign first, an
// all-zero block, a NaN (passed over by the magnitude search), infinities, tiny and huge rows, exact halves.
void expect_activation_bytes(GgmlType weight_type, int64_t block, void (*scalar)(const float*, void*, int64_t),
                             uint32_t seed) {
  const CpuFeatures features = detect_cpu_features();
  const int64_t cols = block * 7, n_tokens = 9;
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_tokens * cols));
  for (auto& v : x) v = normal(rng);
  auto at = [&](int64_t t, int64_t i) -> float& { return x[static_cast<size_t>(t * cols + i)]; };
  at(0, 5) = 9.0f, at(0, 7) = -9.0f;                         // tie, positive first
  at(1, block + 3) = -9.0f, at(1, block + 4) = 9.0f;         // tie, negative first
  for (int64_t i = 2 * block; i < 3 * block; ++i) at(2, i) = 0.0f;
  at(3, block + 1) = std::nanf("");
  at(4, 10) = INFINITY;
  at(5, 20) = -INFINITY;
  for (int64_t i = 0; i < cols; ++i) at(6, i) *= 1e-30f;
  for (int64_t i = 0; i < cols; ++i) at(7, i) *= 1e30f;
  for (int64_t i = 0; i < cols; ++i) at(8, i) = std::round(at(8, i) * 3.0f) / 2.0f;
  const uint64_t row = *row_bytes(type_info(activation_type_for(weight_type)), static_cast<uint64_t>(cols));
  std::vector<uint8_t> want(row * static_cast<uint64_t>(n_tokens));
  for (int64_t t = 0; t < n_tokens; ++t) scalar(&at(t, 0), want.data() + t * row, cols);
  for (CpuIsa isa : CpuKernels::available(features)) {
    const CpuKernels kernels = CpuKernels::select(features, cpu_isa_name(isa));
    CpuActivations act;
    kernels.quantize_activations(weight_type, x.data(), n_tokens, cols, act, nullptr);
    ASSERT_GE(act.data.size(), want.size());
    for (int64_t t = 0; t < n_tokens; ++t) {
      EXPECT_EQ(std::memcmp(act.data.data() + t * row, want.data() + t * row, row), 0)
          << kernels.isa_name() << " " << type_info(weight_type).name << ", row " << t;
    }
  }
}

// Q8_K: what every K-quant and i-quant product multiplies.
TEST(CpuKernels, ActivationsToQ8KMatchTheScalarBytes) {
  expect_activation_bytes(GgmlType::kQ4_K, 256, quantize_row_q8_k_activations, 77);
}

// Q8_0: what Q8_0, Q4_0, Q5_0 and IQ4_NL products multiply.
TEST(CpuKernels, ActivationsToQ8_0MatchTheScalarBytes) {
  expect_activation_bytes(GgmlType::kQ8_0, 32, quantize_row_q8_0_activations, 78);
}

// Q8_1: what Q4_1 and Q5_1 products multiply (Q8_0 plus the scaled sum of the codes).
TEST(CpuKernels, ActivationsToQ8_1MatchTheScalarBytes) {
  expect_activation_bytes(GgmlType::kQ4_1, 32, quantize_row_q8_1_activations, 79);
}

// SwiGLU with a SIMD exponential: within 5e-7 relative (~8 ulp; 3.5e-7 was the worst over 4M values) of
// swiglu_ref, tails included (beyond |x| ~ 88 both saturate to 0 or x).
TEST(CpuKernels, SwigluWithinAFewUlpOfTheReference) {
  const CpuFeatures features = detect_cpu_features();
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> wide(-120.0f, 120.0f);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  constexpr int64_t kN = 4099;  // a tail after the last full vector
  std::vector<float> gate(kN), up(kN), want(kN), got(kN);
  for (int64_t i = 0; i < kN; ++i) {
    gate[static_cast<size_t>(i)] = i % 3 == 0 ? wide(rng) : normal(rng);
    up[static_cast<size_t>(i)] = normal(rng);
  }
  gate[0] = 0.0f, gate[1] = -0.0f, gate[2] = 88.0f, gate[3] = -88.0f, gate[4] = 1e-20f, gate[5] = -1e-20f;
  swiglu_ref(gate.data(), up.data(), want.data(), kN);
  for (CpuIsa isa : CpuKernels::available(features)) {
    const CpuKernels kernels = CpuKernels::select(features, cpu_isa_name(isa));
    kernels.swiglu(gate.data(), up.data(), got.data(), kN);
    int bad = 0;
    for (size_t i = 0; i < static_cast<size_t>(kN); ++i) {
      const double err = std::fabs(static_cast<double>(got[i]) - want[i]);
      if (!(err <= 5e-7 * std::fabs(want[i]) + 1e-30) && ++bad <= 5) {
        ADD_FAILURE() << kernels.isa_name() << ": gate " << gate[i] << " up " << up[i] << " got " << got[i]
                      << " want " << want[i];
      }
    }
    EXPECT_EQ(bad, 0) << kernels.isa_name();
  }
}

TEST(CpuKernels, SelectsBestAndForces) {
  const CpuFeatures features = detect_cpu_features();
  const CpuKernels best = CpuKernels::select(features);
  EXPECT_EQ(best.isa_name(), features.best_isa());
  EXPECT_EQ(CpuKernels::select(features, "scalar").isa(), CpuIsa::kScalar);
  EXPECT_EQ(CpuKernels::scalar().isa(), CpuIsa::kScalar);
  EXPECT_THROW(CpuKernels::select(features, "neon9000"), Error);
  if (!features.avx512f) {
    EXPECT_THROW(CpuKernels::select(features, "avx512"), Error);
  }
  EXPECT_EQ(CpuKernels::available(features).front(), CpuIsa::kScalar);
}

// Formats with no block kernel still multiply correctly (decode-to-float path).
TEST(CpuKernels, DecodePathForOtherFormats) {
  const CpuKernels kernels = CpuKernels::select(detect_cpu_features());
  int tested = 0;
  for (GgmlType t : {GgmlType::kTQ1_0, GgmlType::kTQ2_0, GgmlType::kMXFP4, GgmlType::kQ1_0, GgmlType::kQ2_0}) {
    if (!can_quantize(t) || !CpuKernels::supports(t) || kernels.has_kernel(t)) continue;
    const int64_t cols = 512;
    const Matrix m = random_matrix(t, 9, cols, 77);
    const std::vector<float> x = random_activations(3, cols, 78);
    expect_matches_reference(kernels, m, 9, x, 3, 0, 9, std::string(type_info(t).name));
    ++tested;
  }
  if (tested == 0) GTEST_SKIP() << "every format has a block kernel";
}

// Activations quantized once and shared by several row ranges give the same result as one call.
TEST(CpuKernels, PreparedActivationsSplitRows) {
  const CpuKernels kernels = CpuKernels::select(detect_cpu_features());
  const Matrix m = random_matrix(GgmlType::kQ4_K, 40, 512, 5);
  const std::vector<float> x = random_activations(6, 512, 6);
  CpuActivations act;
  kernels.quantize_activations(GgmlType::kQ4_K, x.data(), 6, 512, act);
  std::vector<float> whole(6 * 40), split(6 * 40);
  kernels.matmul(m.view, act, whole.data(), 0, 40);
  for (int64_t r0 = 0; r0 < 40; r0 += 13) kernels.matmul(m.view, act, split.data(), r0, std::min<int64_t>(40, r0 + 13));
  EXPECT_EQ(whole, split);
}

// Attention: every ISA gives attention_ref's bits, for flash attention over an F16 cache (the SIMD kernel) and
// for the other cases it hands to the reference, with head dimensions that leave tails (not multiples of 32 or
// 8), grouped heads, MLA-like shapes (one KV head, V shorter than K) and a head range.
TEST(CpuKernels, AttentionMatchesReferenceBitForBit) {
  struct Shape {
    int n_head, n_head_kv, dk, dv;
  };
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const CpuFeatures features = detect_cpu_features();
  std::vector<CpuKernels> all;
  for (CpuIsa isa : CpuKernels::available(features)) all.push_back(CpuKernels::for_isa(isa));
#if defined(__x86_64__)
  // The AVX-512 kernel emulated too, so that a machine without AVX-512 checks its bits.
  if (features.avx2 && features.fma && features.f16c) {
    all.push_back(CpuKernels::with_table(CpuIsa::kAvx512, cpu::avx512_emulated_table()));
  }
#endif
  for (const CpuKernels& kernels : all) {
    // Groups of 6 and 7 heads per KV head (R1-Distill-Qwen-1.5B and -7B) and 10 (past the AVX-512 kernel's 8).
    for (const Shape sh : {Shape{4, 2, 64, 64}, Shape{8, 1, 144, 128}, Shape{3, 3, 40, 20}, Shape{2, 1, 576, 512},
                           Shape{7, 1, 80, 72}, Shape{14, 2, 32, 40}, Shape{12, 2, 128, 128}, Shape{7, 1, 64, 48},
                           Shape{10, 1, 32, 32}}) {
      for (int64_t n_kv : {int64_t{1}, int64_t{7}, int64_t{100}, kFlashFloatAccumulatorFrom - 1, kFlashFloatAccumulatorFrom + 77}) {
        // Caches: F16, F32, Q8_0, and Q8_0 keys with F16 values and the other way round (Q8_0 rows need head
        // sizes in whole blocks of 32).
        const std::pair<GgmlType, GgmlType> caches[] = {{GgmlType::kF16, GgmlType::kF16},
                                                        {GgmlType::kF32, GgmlType::kF32},
                                                        {GgmlType::kQ8_0, GgmlType::kQ8_0},
                                                        {GgmlType::kQ8_0, GgmlType::kF16},
                                                        {GgmlType::kF16, GgmlType::kQ8_0}};
        for (const auto& [k_type, v_type] : caches) {
          if ((k_type == GgmlType::kQ8_0 && sh.dk % 32 != 0) || (v_type == GgmlType::kQ8_0 && sh.dv % 32 != 0)) continue;
          for (const auto& [flash, n_queries] : {std::pair{true, int64_t{1}}, std::pair{false, int64_t{1}},
                                                std::pair{true, kFlashTiledFromQueries}}) {
            // A call of many query rows (a prompt) takes the float accumulator at every context length.
            if (n_queries > 1 && !flash_fp16_accumulator(AttentionParams{.v_type = v_type}, n_kv)) continue;
            AttentionParams p{sh.n_head, sh.n_head_kv, sh.dk, sh.dv, 0.125f, k_type, v_type, flash, n_queries};
            const auto row_size = [](GgmlType t, int64_t n) { return *row_bytes(type_info(t), static_cast<uint64_t>(n)); };
            const uint64_t k_row = row_size(k_type, sh.n_head_kv * sh.dk);
            const uint64_t v_row = row_size(v_type, sh.n_head_kv * sh.dv);
            // Rows of 3 * N(0, 1) values in the cache's type (stored as the model stores them).
            const std::vector<uint8_t> k = testlib::random_rows(k_type, n_kv, sh.n_head_kv * sh.dk, 3.0f, rng);
            const std::vector<uint8_t> v = testlib::random_rows(v_type, n_kv, sh.n_head_kv * sh.dv, 3.0f, rng);
            std::vector<float> q(static_cast<size_t>(sh.n_head * sh.dk));
            for (auto& x : q) x = 2.0f * normal(rng);
            std::vector<float> want(static_cast<size_t>(sh.n_head * sh.dv), -1.0f), got(want.size(), -1.0f);
            attention_ref(p, q.data(), k.data(), k_row, v.data(), v_row, n_kv, want.data());
            const auto expect_reference_bits = [&](const char* how) {
              size_t first = 0;
              while (first < want.size() && std::memcmp(&want[first], &got[first], sizeof(float)) == 0) ++first;
              EXPECT_EQ(first, want.size())
                  << how << " value " << first << ": " << (first < want.size() ? want[first] : 0.0f) << " vs "
                  << (first < got.size() ? got[first] : 0.0f) << ", " << kernels.isa_name() << " heads " << sh.n_head
                  << "/" << sh.n_head_kv << " dk " << sh.dk << " dv " << sh.dv << " n_kv " << n_kv << " "
                  << type_info(k_type).name << "/" << type_info(v_type).name << (flash ? " flash" : "")
                  << " queries " << n_queries;
            };
            kernels.attention(p, q.data(), k.data(), k_row, v.data(), v_row, n_kv, got.data(), 0, sh.n_head);
            expect_reference_bits("all heads:");
            // A head range that starts inside a group of heads sharing a KV head (threads split heads so).
            const int h0 = sh.n_head / 2 + 1;
            if (h0 < sh.n_head) {
              std::fill(got.begin(), got.end(), -1.0f);
              kernels.attention(p, q.data(), k.data(), k_row, v.data(), v_row, n_kv, got.data(), 0, h0);
              kernels.attention(p, q.data(), k.data(), k_row, v.data(), v_row, n_kv, got.data(), h0, sh.n_head);
              expect_reference_bits("two head ranges:");
            }
          }
        }
      }
    }
  }
}

// A call of 64 or more query rows keeps flash attention's output in float over an F16 V cache, as llama.cpp's
// tiled kernel does, where one query row in a short context keeps it in fp16: the two must differ, and the float
// one must be the closer to the same attention worked out in double (from the fp16-rounded query flash uses).
TEST(AttentionRef, PromptCallsKeepTheOutputInFloat) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  const int n_head = 6, n_head_kv = 2, d = 64;
  const int64_t n_kv = 100;
  const float scale = 0.125f;
  const uint64_t row = *row_bytes(type_info(GgmlType::kF16), static_cast<uint64_t>(n_head_kv * d));
  const std::vector<uint8_t> k = testlib::random_rows(GgmlType::kF16, n_kv, n_head_kv * d, 3.0f, rng);
  const std::vector<uint8_t> v = testlib::random_rows(GgmlType::kF16, n_kv, n_head_kv * d, 3.0f, rng);
  std::vector<float> q(static_cast<size_t>(n_head * d));
  for (auto& e : q) e = 2.0f * normal(rng);
  const auto run = [&](int64_t n_queries) {
    std::vector<float> out(static_cast<size_t>(n_head * d));
    const AttentionParams p{n_head, n_head_kv, d, d, scale, GgmlType::kF16, GgmlType::kF16, true, n_queries};
    attention_ref(p, q.data(), k.data(), row, v.data(), row, n_kv, out.data());
    return out;
  };
  const auto cached = [&](const std::vector<uint8_t>& c, int64_t j, int hk, int i) {
    uint16_t h;
    std::memcpy(&h, c.data() + static_cast<uint64_t>(j) * row + static_cast<uint64_t>((hk * d + i) * 2), 2);
    return static_cast<double>(fp16_to_fp32(h));
  };
  std::vector<double> exact(q.size());
  for (int h = 0; h < n_head; ++h) {
    const int hk = h / (n_head / n_head_kv);
    std::vector<double> w(static_cast<size_t>(n_kv));
    double top = -INFINITY, sum = 0;
    for (int64_t j = 0; j < n_kv; ++j) {
      double dot = 0;
      for (int i = 0; i < d; ++i) {
        dot += fp16_to_fp32(fp32_to_fp16(q[static_cast<size_t>(h * d + i)])) * cached(k, j, hk, i);
      }
      w[static_cast<size_t>(j)] = dot * scale;
      top = std::max(top, w[static_cast<size_t>(j)]);
    }
    for (auto& e : w) sum += (e = std::exp(e - top));
    for (int i = 0; i < d; ++i) {
      double o = 0;
      for (int64_t j = 0; j < n_kv; ++j) o += w[static_cast<size_t>(j)] * cached(v, j, hk, i);
      exact[static_cast<size_t>(h * d + i)] = o / sum;
    }
  }
  const std::vector<float> one = run(1), below = run(kFlashTiledFromQueries - 1), prompt = run(kFlashTiledFromQueries);
  EXPECT_EQ(std::memcmp(one.data(), below.data(), one.size() * sizeof(float)), 0) << "63 rows: still fp16";
  double err_one = 0, err_prompt = 0;
  for (size_t i = 0; i < exact.size(); ++i) {
    err_one = std::max(err_one, std::fabs(one[i] - exact[i]));
    err_prompt = std::max(err_prompt, std::fabs(prompt[i] - exact[i]));
  }
  EXPECT_GT(err_one, 1e-4) << "one query row: the fp16 output rounds";
  EXPECT_LT(err_prompt, err_one / 10) << "a prompt's float output";
}

}  // namespace
}  // namespace r1
