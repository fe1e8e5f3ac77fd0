// The format fixture: r1 decodes every tensor of all-types.gguf exactly as ggml does, and r1's quantizers,
// fed the original values, reproduce ggml's blocks (or at least its round-trip error) on the same data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "gguf_file.h"
#include "quant_row.h"
#include "quant_test_data.h"

namespace r1 {
namespace {

#define R1_REQUIRE_ALL_TYPES(var)                                                      \
  const auto var##_opt = testing::load_all_types_fixture();                            \
  if (!var##_opt) GTEST_SKIP() << "all-types fixture not found (tests/data/formats)"; \
  const testing::AllTypesFixture& var = *var##_opt

struct Errors {
  double rmse = 0, wmse = 0;
};

Errors round_trip_errors(const std::vector<float>& original, const std::vector<float>& decoded,
                         const std::vector<float>& importance, int cols) {
  double se = 0, wse = 0;
  for (size_t i = 0; i < original.size(); ++i) {
    const double d = static_cast<double>(decoded[i]) - original[i];
    se += d * d;
    wse += importance[i % cols] * d * d;
  }
  return {std::sqrt(se / original.size()), wse / original.size()};
}

TEST(QuantFixture, DequantizesEveryTensorBitExactly) {
  R1_REQUIRE_ALL_TYPES(fx);
  const GgufFile file = GgufFile::open(fx.gguf_path.string());
  const size_t per_tensor = static_cast<size_t>(fx.rows) * fx.cols;
  ASSERT_EQ(fx.dequant.size(), per_tensor * fx.json.at("tensors").size());
  int checked = 0;
  for (size_t t = 0; t < fx.json.at("tensors").size(); ++t) {
    const std::string name = fx.json["tensors"][t].at("name");
    SCOPED_TRACE(name);
    const GgufTensorInfo* info = file.find_tensor(name);
    ASSERT_NE(info, nullptr);
    ASSERT_EQ(info->n_elements, per_tensor);
    const auto bytes = file.tensor_data(*info);
    std::vector<float> out(per_tensor);
    // Row by row, as a loader would (rows of some formats are not aligned beyond 1 byte).
    const size_t row_size = *row_bytes(*info->type, fx.cols);
    for (int r = 0; r < fx.rows; ++r) {
      dequantize_row(info->type->type, bytes.data() + r * row_size, out.data() + static_cast<size_t>(r) * fx.cols, fx.cols);
    }
    const float* expected = fx.dequant.data() + t * per_tensor;
    int mismatches = 0;
    for (size_t i = 0; i < per_tensor; ++i) {
      uint32_t a, b;
      std::memcpy(&a, &out[i], 4);
      std::memcpy(&b, &expected[i], 4);
      if (a != b && mismatches++ < 3) ADD_FAILURE() << "element " << i << ": r1 " << out[i] << " ggml " << expected[i];
    }
    EXPECT_EQ(mismatches, 0);
    ++checked;
  }
  EXPECT_EQ(checked, 25);
}

// r1's quantizer against ggml's on the fixture's original values: the same bytes where r1 follows ggml's
// search exactly, and in every case a round-trip error no worse than 1.02 × ggml's (from the JSON).
TEST(QuantFixture, QuantizersMatchGgml) {
  R1_REQUIRE_ALL_TYPES(fx);
  const GgufFile file = GgufFile::open(fx.gguf_path.string());
  const GgufTensorInfo* f32 = file.find_tensor("t.f32");
  ASSERT_NE(f32, nullptr);
  std::vector<float> original(f32->n_elements);
  std::memcpy(original.data(), file.tensor_data(*f32).data(), original.size() * 4);

  for (const auto& entry : fx.json.at("tensors")) {
    const std::string name = entry.at("name");
    const GgufTensorInfo* info = file.find_tensor(name);
    ASSERT_NE(info, nullptr);
    const GgmlType type = info->type->type;
    if (!can_quantize(type)) continue;
    SCOPED_TRACE(name);
    const bool with_importance = entry.at("imatrix").get<bool>();
    const size_t row_size = *row_bytes(*info->type, fx.cols);
    std::vector<uint8_t> blocks(row_size * fx.rows);
    quantize_rows(type, original.data(), blocks.data(),
                  {.n_rows = fx.rows, .n_per_row = fx.cols, .importance = with_importance ? fx.importance.data() : nullptr});
    const auto reference = file.tensor_data(*info);
    const bool identical = std::memcmp(blocks.data(), reference.data(), blocks.size()) == 0;

    std::vector<float> decoded(original.size());
    for (int r = 0; r < fx.rows; ++r) {
      dequantize_row(type, blocks.data() + r * row_size, decoded.data() + static_cast<size_t>(r) * fx.cols, fx.cols);
    }
    const Errors ours = round_trip_errors(original, decoded, fx.importance, fx.cols);
    const double ggml_rmse = entry.at("rmse").get<double>();
    const double ggml_wmse = entry.at("wmse").get<double>();
    RecordProperty(name + ".identical", identical ? 1 : 0);
    EXPECT_LE(ours.rmse, 1.02 * ggml_rmse + 1e-12) << "identical bytes: " << identical;
    EXPECT_LE(ours.wmse, 1.02 * ggml_wmse + 1e-15) << "identical bytes: " << identical;
    // Every format whose search r1 reproduces operation for operation must give ggml's bytes.
    EXPECT_TRUE(identical) << name << ": rmse r1 " << ours.rmse << " ggml " << ggml_rmse;
  }
}

}  // namespace
}  // namespace r1
