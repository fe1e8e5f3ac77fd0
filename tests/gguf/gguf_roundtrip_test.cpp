// GGUF writer and reader together: every value type round-trips, files are rewritten byte-identically,
// tensors land aligned, failures leave existing files untouched.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <limits>

#include "error.h"
#include "fixtures.h"
#include "gguf_file.h"
#include "gguf_writer.h"

namespace r1 {
namespace {

GgufWriter make_writer(std::vector<std::vector<uint8_t>>& storage, uint32_t alignment = 32) {
  GgufWriter w(alignment);
  w.set("general.architecture", GgufValue::string("llama"));
  w.set("v.u8", GgufValue::u8(255));
  w.set("v.i8", GgufValue::i8(-128));
  w.set("v.u16", GgufValue::u16(65535));
  w.set("v.i16", GgufValue::i16(-32768));
  w.set("v.u32", GgufValue::u32(4000000000u));
  w.set("v.i32", GgufValue::i32(-2000000000));
  w.set("v.u64", GgufValue::u64(std::numeric_limits<uint64_t>::max()));
  w.set("v.i64", GgufValue::i64(std::numeric_limits<int64_t>::min()));
  w.set("v.f32", GgufValue::f32(0.1f));
  w.set("v.f64", GgufValue::f64(-1e300));
  w.set("v.bool", GgufValue::boolean(true));
  w.set("v.str", GgufValue::string("h\xc3\xa9llo \xe2\x96\x81 <\xef\xbd\x9cUser\xef\xbd\x9c>"));
  w.set("v.empty_str", GgufValue::string(""));
  w.set("v.strs", GgufValue::string_array({"a", "", "\xf0\x9f\x98\x80", "Ġ t"}));
  w.set("v.i32s", GgufValue::i32_array({1, -2, 3}));
  w.set("v.f32s", GgufValue::f32_array({1.5f, -0.25f}));
  GgufArray nested;
  nested.element_type = GgufType::kArray;
  nested.arrays.push_back(GgufValue::i32_array({7, 8}));
  nested.arrays.push_back(GgufValue::string_array({"x"}));
  GgufArray empty;
  empty.element_type = GgufType::kU8;
  nested.arrays.push_back(GgufValue::array(empty));
  w.set("v.nested", GgufValue::array(nested));

  // Three tensors of different types and awkward sizes.
  storage.push_back(std::vector<uint8_t>(3 * 5 * 4));
  for (size_t i = 0; i < storage.back().size(); ++i) storage.back()[i] = static_cast<uint8_t>(i * 7);
  w.add_tensor("a.f32", GgmlType::kF32, {3, 5}, storage.back());
  storage.push_back(std::vector<uint8_t>(2 * 34));
  for (size_t i = 0; i < storage.back().size(); ++i) storage.back()[i] = static_cast<uint8_t>(i + 1);
  w.add_tensor("b.q8_0", GgmlType::kQ8_0, {64}, storage.back());
  storage.push_back(std::vector<uint8_t>(144 * 3));
  for (size_t i = 0; i < storage.back().size(); ++i) storage.back()[i] = static_cast<uint8_t>(255 - i);
  w.add_tensor("c.q4_k", GgmlType::kQ4_K, {256, 1, 3}, storage.back());
  return w;
}

TEST(GgufRoundTrip, EveryValueTypeAndTensorSurvives) {
  std::vector<std::vector<uint8_t>> storage;
  const GgufWriter w = make_writer(storage);
  const auto path = (testlib::temp_dir() / "roundtrip.gguf").string();
  w.write(path);

  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  const GgufMetadata& m = f.metadata();
  EXPECT_EQ(m.get_string("general.architecture"), "llama");
  EXPECT_EQ(m.get_uint("v.u8"), 255u);
  EXPECT_EQ(m.get_int("v.i8"), -128);
  EXPECT_EQ(m.get_uint("v.u16"), 65535u);
  EXPECT_EQ(m.get_int("v.i16"), -32768);
  EXPECT_EQ(m.get_u32("v.u32"), 4000000000u);
  EXPECT_EQ(m.get_int("v.i32"), -2000000000);
  EXPECT_EQ(m.get_uint("v.u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(m.get_int("v.i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(static_cast<float>(m.get_float("v.f32")), 0.1f);
  EXPECT_EQ(m.get_float("v.f64"), -1e300);
  EXPECT_TRUE(m.get_bool("v.bool"));
  EXPECT_EQ(m.get_string("v.str"), "h\xc3\xa9llo \xe2\x96\x81 <\xef\xbd\x9cUser\xef\xbd\x9c>");
  EXPECT_EQ(m.get_string("v.empty_str"), "");
  EXPECT_EQ(m.get_string_array("v.strs"), (std::vector<std::string>{"a", "", "\xf0\x9f\x98\x80", "Ġ t"}));
  EXPECT_EQ(m.get_int_array("v.i32s"), (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(m.get_float_array("v.f32s"), (std::vector<float>{1.5f, -0.25f}));
  const GgufArray& nested = m.get_array("v.nested");
  ASSERT_EQ(nested.element_type, GgufType::kArray);
  ASSERT_EQ(nested.size(), 3u);
  EXPECT_EQ(nested.arrays[1].as_array().strings, std::vector<std::string>{"x"});
  EXPECT_EQ(nested.arrays[2].as_array().size(), 0u);

  // Every value compares equal to what was written, in the same order.
  std::vector<std::vector<uint8_t>> storage2;
  const GgufWriter w2 = make_writer(storage2);
  ASSERT_EQ(f.tensors().size(), 3u);
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const GgufTensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.offset % 32, 0u) << t.name;
    EXPECT_EQ(t.n_bytes, storage[i].size()) << t.name;
    const auto data = f.tensor_data(t);
    ASSERT_EQ(data.size(), storage[i].size());
    EXPECT_EQ(0, std::memcmp(data.data(), storage[i].data(), data.size())) << t.name;
  }
  EXPECT_EQ(f.tensors()[2].shape(), (std::vector<uint64_t>{256, 1, 3}));
  EXPECT_EQ(f.tensors()[2].type->name, "Q4_K");
  EXPECT_EQ(f.tensors()[2].n_elements, 768u);
}

TEST(GgufRoundTrip, RewritingAFileFromItsReadFormIsByteIdentical) {
  std::vector<std::vector<uint8_t>> storage;
  const auto path = (testlib::temp_dir() / "first.gguf").string();
  make_writer(storage, 64).write(path);
  const GgufFile f = GgufFile::open(path);
  EXPECT_EQ(f.alignment(), 64u);

  GgufWriter copy(f.alignment());
  for (const auto& [key, value] : f.metadata().entries()) copy.set(key, value);
  for (const auto& t : f.tensors()) {
    copy.add_tensor(t.name, t.type->type, t.shape(), f.tensor_data(t));
  }
  const auto path2 = (testlib::temp_dir() / "second.gguf").string();
  copy.write(path2);
  EXPECT_EQ(testlib::read_file_bytes(path), testlib::read_file_bytes(path2));
}

TEST(GgufRoundTrip, FixtureModelsRewriteByteIdentically) {
  R1_REQUIRE_FIXTURES(fixtures);
  // llama.cpp wrote these; writing what we read must reproduce them exactly (same layout, same padding).
  for (const char* name : {"tiny-qwen2-a-s1.Q8_0.gguf", "tiny-deepseek2-legacy-a-s1.Q4_K_M.gguf"}) {
    const auto src = fixtures / "models" / name;
    const GgufFile f = GgufFile::open(src.string());
    GgufWriter copy(f.alignment());
    for (const auto& [key, value] : f.metadata().entries()) {
      if (key != "general.alignment") copy.set(key, value);
    }
    for (const auto& t : f.tensors()) copy.add_tensor(t.name, t.type->type, t.shape(), f.tensor_data(t));
    const auto out = testlib::temp_dir() / (std::string("copy-") + name);
    copy.write(out.string());
    EXPECT_EQ(testlib::read_file_bytes(src), testlib::read_file_bytes(out)) << name;
  }
}

TEST(GgufWriter, RefusesBadTensorsAndKeepsExistingFileOnFailure) {
  GgufWriter w;
  std::vector<uint8_t> data(10);
  EXPECT_THROW(w.add_tensor("x", GgmlType::kF32, {3}, data), Error);        // 12 bytes needed
  EXPECT_THROW(w.add_tensor("q", GgmlType::kQ4_0, {31}, data), Error);      // not a multiple of 32
  EXPECT_THROW(w.add_tensor("z", GgmlType::kF32, {0}, data), Error);        // zero dimension
  EXPECT_THROW(w.add_tensor("", GgmlType::kF32, {1}, data), Error);         // no name
  EXPECT_THROW(GgufWriter(3), Error);                                       // alignment not a power of two

  const auto path = (testlib::temp_dir() / "keep.gguf").string();
  testlib::write_file_bytes(path, {'o', 'l', 'd'});
  GgufWriter failing;
  failing.add_tensor("t", GgmlType::kF32, {4}, [](const GgufWriter::ByteSink& write) {
    const uint8_t some[8] = {};
    write(some);  // 8 of 16 bytes, then gives up
  });
  EXPECT_THROW(failing.write(path), Error);
  EXPECT_EQ(testlib::read_file_bytes(path), (std::vector<uint8_t>{'o', 'l', 'd'}));
  for (const auto& entry : std::filesystem::directory_iterator(testlib::temp_dir())) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos) << "temporary file left behind";
  }
}

TEST(GgufWriter, ReportsUnwritableDestination) {
  GgufWriter w;
  w.set("k", GgufValue::u32(1));
  try {
    w.write("/nonexistent-dir/out.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot create"), std::string::npos) << e.what();
  }
}

// A disk that fills up mid-write: simulated with a file-size limit (writes then fail like ENOSPC does).
TEST(GgufWriter, FullDiskIsAnErrorAndTheOldFileSurvives) {
  const auto path = (testlib::temp_dir() / "full.gguf").string();
  testlib::write_file_bytes(path, {'o', 'l', 'd'});
  GgufWriter big;
  std::vector<uint8_t> payload(4 << 20);
  big.add_tensor("t", GgmlType::kF32, {payload.size() / 4}, payload);

  struct rlimit saved {};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = 1 << 20;
  auto old_handler = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  bool threw = false;
  std::string message;
  try {
    big.write(path);
  } catch (const Error& e) {
    threw = true;
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_TRUE(threw);
  EXPECT_NE(message.find("write failed"), std::string::npos) << message;
  EXPECT_EQ(testlib::read_file_bytes(path), (std::vector<uint8_t>{'o', 'l', 'd'}));
}

}  // namespace
}  // namespace r1
