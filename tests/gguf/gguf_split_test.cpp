// Split sets: opening any part opens the whole set; missing or inconsistent parts are named in the error.
#include <gtest/gtest.h>

#include <filesystem>

#include "error.h"
#include "fixtures.h"
#include "gguf_set.h"
#include "gguf_writer.h"

namespace r1 {
namespace {

// Writes a 3-part set of 2 tensors each into dir; returns the prefix.
std::string write_set(const std::filesystem::path& dir, std::vector<std::vector<uint8_t>>& storage) {
  std::filesystem::create_directories(dir);
  const std::string prefix = (dir / "model").string();
  for (uint32_t part = 0; part < 3; ++part) {
    GgufWriter w;
    if (part == 0) w.set("general.architecture", GgufValue::string("deepseek2"));
    w.set("split.no", GgufValue::u16(static_cast<uint16_t>(part)));
    w.set("split.count", GgufValue::u16(3));
    w.set("split.tensors.count", GgufValue::i32(6));
    for (int t = 0; t < 2; ++t) {
      storage.emplace_back(16, static_cast<uint8_t>(part * 10 + t));
      w.add_tensor("blk." + std::to_string(part * 2 + t) + ".w", GgmlType::kF32, {4}, storage.back());
    }
    w.write(GgufSet::split_path(prefix, part + 1, 3));
  }
  return prefix;
}

TEST(GgufSplit, ParsesSplitNames) {
  const auto n = GgufSet::parse_split_name("/m/DeepSeek-R1-Q2_K-00002-of-00005.gguf");
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->prefix, "/m/DeepSeek-R1-Q2_K");
  EXPECT_EQ(n->number, 2u);
  EXPECT_EQ(n->count, 5u);
  EXPECT_FALSE(GgufSet::parse_split_name("model.gguf").has_value());
  EXPECT_EQ(GgufSet::split_path("x", 3, 12), "x-00003-of-00012.gguf");
}

TEST(GgufSplit, AnyPartOpensTheWholeSet) {
  std::vector<std::vector<uint8_t>> storage;
  const std::string prefix = write_set(testlib::temp_dir() / "split-ok", storage);
  for (uint32_t part = 1; part <= 3; ++part) {
    const GgufSet set = GgufSet::open(GgufSet::split_path(prefix, part, 3));
    ASSERT_EQ(set.parts().size(), 3u);
    ASSERT_EQ(set.tensors().size(), 6u);
    EXPECT_EQ(set.metadata().get_string("general.architecture"), "deepseek2");
    const GgufSet::Tensor* t = set.find_tensor("blk.5.w");
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->part, 2u);
    EXPECT_EQ(set.tensor_data(*t)[0], 21);
  }
}

TEST(GgufSplit, MissingPartIsNamed) {
  std::vector<std::vector<uint8_t>> storage;
  const std::string prefix = write_set(testlib::temp_dir() / "split-missing", storage);
  std::filesystem::remove(GgufSet::split_path(prefix, 2, 3));
  try {
    GgufSet::open(GgufSet::split_path(prefix, 1, 3));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model-00002-of-00003.gguf"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("part 2 of 3"), std::string::npos) << e.what();
  }
}

TEST(GgufSplit, InconsistentPartsAreErrors) {
  std::vector<std::vector<uint8_t>> storage;
  const auto dir = testlib::temp_dir() / "split-bad";
  const std::string prefix = write_set(dir, storage);
  // Part 3 claims to be part 2.
  GgufWriter w;
  w.set("split.no", GgufValue::u16(1));
  w.set("split.count", GgufValue::u16(3));
  w.write(GgufSet::split_path(prefix, 3, 3));
  EXPECT_THROW(GgufSet::open(GgufSet::split_path(prefix, 1, 3)), Error);

  // A part whose file name does not follow the pattern cannot find its siblings.
  GgufWriter lone;
  lone.set("split.no", GgufValue::u16(0));
  lone.set("split.count", GgufValue::u16(2));
  const auto odd = (dir / "renamed.gguf").string();
  lone.write(odd);
  try {
    GgufSet::open(odd);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("split set"), std::string::npos) << e.what();
  }
}

TEST(GgufSplit, TensorCountMismatchAndDuplicates) {
  std::vector<std::vector<uint8_t>> storage;
  const auto dir = testlib::temp_dir() / "split-dup";
  const std::string prefix = write_set(dir, storage);
  GgufWriter w;
  w.set("split.no", GgufValue::u16(2));
  w.set("split.count", GgufValue::u16(3));
  storage.emplace_back(16, 0);
  w.add_tensor("blk.0.w", GgmlType::kF32, {4}, storage.back());  // already in part 1
  w.write(GgufSet::split_path(prefix, 3, 3));
  try {
    GgufSet::open(GgufSet::split_path(prefix, 1, 3));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than one part"), std::string::npos) << e.what();
  }
}

TEST(GgufSplit, SingleFileIsASetOfOne) {
  R1_REQUIRE_FIXTURES(fixtures);
  const GgufSet set = GgufSet::open((fixtures / "models" / "tiny-llama-a-s1.Q8_0.gguf").string());
  EXPECT_EQ(set.parts().size(), 1u);
  EXPECT_EQ(set.metadata().get_string("general.architecture"), "llama");
  EXPECT_FALSE(set.tensors().empty());
}

}  // namespace
}  // namespace r1

namespace r1 {
namespace {

TEST(GgufOverride, ReplacesAddsAndRefusesMalformedSpecs) {
  std::vector<std::vector<uint8_t>> storage;
  const std::string prefix = write_set(testlib::temp_dir() / "override", storage);
  GgufSet set = GgufSet::open(GgufSet::split_path(prefix, 1, 3));
  set.apply_override("general.architecture=str:qwen2");
  set.apply_override("qwen2.context_length=int:8192");
  set.apply_override("x.scale=float:0.5");
  set.apply_override("x.flag=bool:true");
  EXPECT_EQ(set.metadata().get_string("general.architecture"), "qwen2");
  EXPECT_EQ(set.metadata().get_int("qwen2.context_length"), 8192);
  EXPECT_EQ(set.metadata().get_float("x.scale"), 0.5);
  EXPECT_TRUE(set.metadata().get_bool("x.flag"));
  for (const char* bad : {"novalue", "=int:1", "k=int", "k=int:12x", "k=bool:yes", "k=blob:1", "k=float:"}) {
    EXPECT_THROW(set.apply_override(bad), Error) << bad;
  }
}

}  // namespace
}  // namespace r1
