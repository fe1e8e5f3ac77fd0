// `--repack` at load (cpu_repack.h, CpuBackend::repack): auto's rules, what each mode does with a fixture file's
// matrices (file_matrices), and the line it reports. That prompts on the copy give the goldens' logits is in
// model_golden_test and deepseek2_test; that they give the bits of packing per call, in the kernels' tests.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "backend.h"
#include "cpu_features.h"
#include "error.h"
#include "fixtures.h"
#include "golden.h"
#include "model_weights.h"
#include "packed_weights.h"
#include "thread_pool.h"
#include "type_table.h"

namespace r1 {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

TEST(Repack, AutoFitsBesideTheKvCacheAndMappedWeightsWithAGibToSpare) {
  EXPECT_TRUE(repack_fits(1 * kGiB, 2 * kGiB, 3 * kGiB, 7 * kGiB));
  EXPECT_FALSE(repack_fits(1 * kGiB, 2 * kGiB, 3 * kGiB, 7 * kGiB - 1));
  EXPECT_TRUE(repack_fits(1 * kGiB, 0, 0, 2 * kGiB)) << "weights copied, nothing mapped";
  EXPECT_FALSE(repack_fits(std::numeric_limits<uint64_t>::max() - kGiB, 2 * kGiB, 0,
                           std::numeric_limits<uint64_t>::max()))
      << "no wrap-around";
}

TEST(Repack, AutoCopiesTheTypesMeasuredToGain) {
  const CpuKernels kernels = CpuKernels::select(detect_cpu_features());
  const WeightView q8{.type = GgmlType::kQ8_0, .data = nullptr, .rows = 64, .cols = 256, .row_bytes = 34 * 8};
  if (kernels.packed_bytes(q8) == 0) GTEST_SKIP() << "no packed layouts in " << kernels.isa_name();
  EXPECT_TRUE(kernels.repack_pays(GgmlType::kQ8_0)) << "1.06 times the file";
  for (GgmlType t : {GgmlType::kQ4_K, GgmlType::kQ6_K, GgmlType::kQ4_0, GgmlType::kQ5_0, GgmlType::kIQ4_NL}) {
    EXPECT_FALSE(kernels.repack_pays(t)) << type_info(t).name << ": 1.6-2.2 times the file, no faster at 512 tokens";
  }
  EXPECT_FALSE(kernels.repack_pays(GgmlType::kIQ2_XXS)) << "no packed layout";
}

TEST(Repack, ModesOnAFixtureFile) {
  R1_REQUIRE_FIXTURES(fixtures);
  const GgufSet file = GgufSet::open(testlib::model_path(fixtures, "tiny-qwen2-a-s1.Q8_0").string());
  const std::vector<WeightView> matrices = file_matrices(file);
  // Every matrix but the token embedding (the file has an output matrix, so prompts only look rows up in it).
  ASSERT_NE(file.find_tensor("output.weight"), nullptr);
  const GgufSet::Tensor* embd = file.find_tensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  for (const WeightView& w : matrices) EXPECT_NE(w.data, file.tensor_data(*embd).data());
  EXPECT_GE(matrices.size(), 8u) << "q, k, v, o, gate, up, down of one layer at least, and output";

  const CpuKernels kernels = CpuKernels::select(detect_cpu_features());
  if (kernels.packed_bytes(matrices.front()) == 0) GTEST_SKIP() << "no packed layout in " << kernels.isa_name();
  ThreadPool pool(2);
  const RepackBudget no_memory{}, plenty{.available_bytes = 64 * kGiB};
  {
    CpuBackend backend(&pool, &kernels);
    const RepackReport r = backend.repack(matrices, RepackMode::kAuto, no_memory);
    EXPECT_FALSE(r.packed) << "no memory available";
    EXPECT_GT(r.copy_bytes, 0u);
    EXPECT_EQ(backend.packed_weights(), nullptr);
    EXPECT_NE(r.summary().find("does not fit"), std::string::npos) << r.summary();
  }
  {
    CpuBackend backend(&pool, &kernels);
    const RepackReport r = backend.repack(matrices, RepackMode::kAuto, plenty);
    ASSERT_TRUE(r.packed);
    ASSERT_NE(backend.packed_weights(), nullptr);
    EXPECT_EQ(backend.packed_weights()->bytes(), r.copy_bytes);
    EXPECT_EQ(r.matrices, matrices.size()) << "every matrix is Q8_0";
    EXPECT_EQ(backend.packed_weights()->matrices(), matrices.size());
    for (const WeightView& w : matrices) EXPECT_NE(backend.packed_weights()->find(w), nullptr);
    EXPECT_EQ(r.summary().rfind("repacked " + std::to_string(matrices.size()) + " matrices", 0), 0u) << r.summary();
  }
  {
    CpuBackend backend(&pool, &kernels);
    EXPECT_TRUE(backend.repack(matrices, RepackMode::kOn, no_memory).packed) << "on: whatever the memory";
  }
  {
    CpuBackend backend(&pool, &kernels);
    const RepackReport r = backend.repack(matrices, RepackMode::kOff, plenty);
    EXPECT_FALSE(r.packed);
    EXPECT_EQ(backend.packed_weights(), nullptr);
    EXPECT_NE(r.summary().find("off"), std::string::npos);
  }
  {
    CpuBackend reference(&pool, nullptr);
    EXPECT_FALSE(reference.repack(matrices, RepackMode::kOn, plenty).packed) << "the reference kernels pack nothing";
  }
}

TEST(Repack, UnknownModeIsAnError) {
  EXPECT_THROW(CpuKernels::repack_from_name("sometimes"), Error);
  EXPECT_EQ(CpuKernels::repack_from_name("auto"), RepackMode::kAuto);
  EXPECT_EQ(CpuKernels::repack_from_name("on"), RepackMode::kOn);
  EXPECT_EQ(CpuKernels::repack_from_name("off"), RepackMode::kOff);
}

}  // namespace
}  // namespace r1
