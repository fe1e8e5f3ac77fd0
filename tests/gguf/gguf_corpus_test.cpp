// Fuzz corpus as a regression test: every input the fuzzer kept (tests/fuzz/corpus) must parse or fail with
// r1::Error, as it did under ASan+UBSan when the corpus was made. Runs without clang or libFuzzer.
#include <gtest/gtest.h>

#include <filesystem>

#include "error.h"
#include "fixtures.h"
#include "gguf_file.h"

namespace r1 {
namespace {

TEST(GgufFuzzCorpus, EveryInputParsesOrFailsCleanly) {
  const auto dir = std::filesystem::path(R1_SOURCE_DIR) / "tests" / "fuzz" / "corpus";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  size_t n_inputs = 0, n_valid = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    const std::vector<uint8_t> bytes = testlib::read_file_bytes(entry.path());
    ++n_inputs;
    try {
      const GgufFile f = GgufFile::parse(bytes, entry.path().filename().string());
      for (const auto& t : f.tensors()) {
        const auto data = f.tensor_data(t);
        ASSERT_LE(data.data() + data.size(), bytes.data() + bytes.size()) << entry.path();
      }
      ++n_valid;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()), "") << entry.path();
    }
  }
  EXPECT_GE(n_inputs, 4u);
  EXPECT_GE(n_valid, 4u);  // the seeds made from the fixture models are valid files
}

}  // namespace
}  // namespace r1
