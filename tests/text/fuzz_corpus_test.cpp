// The tokenizer and template fuzz corpora as regression tests: every kept input (tests/fuzz/corpus_tokenizer,
// corpus_template) goes through the fuzz target's own entry point, compiled here without libFuzzer, so a past
// finding stays fixed in `make test`. A broken invariant traps, which CTest reports as a failure.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>

#include "fixtures.h"

// The targets' LLVMFuzzerTestOneInput, renamed per source file by tests/text/CMakeLists.txt.
extern "C" int fuzz_tokenizer_entry(const uint8_t* data, size_t size);
extern "C" int fuzz_template_entry(const uint8_t* data, size_t size);

namespace r1 {
namespace {

size_t run_corpus(const char* name, int (*entry)(const uint8_t*, size_t)) {
  const auto dir = std::filesystem::path(R1_SOURCE_DIR) / "tests" / "fuzz" / name;
  size_t n = 0;
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    if (!file.is_regular_file()) continue;
    const std::vector<uint8_t> bytes = testlib::read_file_bytes(file.path());
    SCOPED_TRACE(file.path().string());
    entry(bytes.data(), bytes.size());
    ++n;
  }
  return n;
}

TEST(TextFuzzCorpus, TokenizerInputsKeepInvariants) { EXPECT_GE(run_corpus("corpus_tokenizer", fuzz_tokenizer_entry), 10u); }

TEST(TextFuzzCorpus, TemplateInputsRenderOrFailCleanly) { EXPECT_GE(run_corpus("corpus_template", fuzz_template_entry), 10u); }

}  // namespace
}  // namespace r1
