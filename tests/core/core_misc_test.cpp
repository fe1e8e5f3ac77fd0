// Error context rendering, logging levels, UTF-8 validation, mapped files, CPU feature detection, memory facts.
#include <gtest/gtest.h>

#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "cpu_features.h"
#include "error.h"
#include "fixtures.h"
#include "log.h"
#include "mapped_file.h"
#include "process_memory.h"
#include "utf8.h"

namespace r1 {
namespace {

TEST(Error, RendersContextInOneLine) {
  const Error e = Error("tensor data out of bounds").file("m.gguf").offset(1234).tensor("blk.0.attn_q.weight");
  EXPECT_STREQ(e.what(), "m.gguf: at byte 1234: tensor 'blk.0.attn_q.weight': tensor data out of bounds");
  EXPECT_EQ(e.message(), "tensor data out of bounds");
  EXPECT_EQ(*e.offset_context(), 1234u);
  try {
    throw_error("bad value {}", 7);
  } catch (const Error& caught) {
    EXPECT_STREQ(caught.what(), "bad value 7");
  }
}

TEST(Logger, QuietByDefaultAndVerbosityRaisesLevel) {
  std::vector<std::string> lines;
  Logger log(LogLevel::kWarn, [&](LogLevel, std::string_view m) { lines.emplace_back(m); });
  log.info("hidden {}", 1);
  log.warn("shown {}", 2);
  EXPECT_EQ(lines, std::vector<std::string>{"shown 2"});
  log.set_verbosity(1);
  log.info("now {}", 3);
  log.debug("still hidden");
  EXPECT_EQ(lines.size(), 2u);
  log.set_verbosity(5);
  EXPECT_EQ(log.level(), LogLevel::kTrace);
}

TEST(Utf8, ValidatesStrictly) {
  EXPECT_TRUE(is_valid_utf8("plain ascii"));
  EXPECT_TRUE(is_valid_utf8("\xe2\x96\x81 \xef\xbd\x9c \xf0\x9f\x98\x80"));  // ▁ ｜ 😀
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));           // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));       // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));   // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("abc\xe2\x96"));        // truncated
  EXPECT_EQ(valid_utf8_prefix("abc\xe2\x96"), 3u);
  EXPECT_EQ(sanitize_utf8("a\xffz"), "a\xef\xbf\xbdz");
}

TEST(MappedFile, MapsBytesAndReportsMissingFiles) {
  const auto path = testlib::temp_dir() / "mapped.bin";
  testlib::write_file_bytes(path, {1, 2, 3, 4, 5});
  MappedFile f(path.string());
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f.data()[4], 5);
  MappedFile moved = std::move(f);
  EXPECT_EQ(moved.size(), 5u);

  const auto empty = testlib::temp_dir() / "empty.bin";
  testlib::write_file_bytes(empty, {});
  EXPECT_EQ(MappedFile(empty.string()).size(), 0u);

  try {
    MappedFile missing((testlib::temp_dir() / "nope.bin").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope.bin"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos);
  }
  EXPECT_THROW(MappedFile(testlib::temp_dir().string()), Error);  // a directory
}

// A copied file holds the same bytes as a mapped one, read-only, and says so; the residency modes.
TEST(MappedFile, CopiesIntoMemoryAndChoosesResidency) {
  const auto path = testlib::temp_dir() / "copied.bin";
  std::vector<uint8_t> bytes(3 * 4096 + 17);  // pages and a ragged end
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 131 + 7);
  testlib::write_file_bytes(path, bytes);
  const MappedFile mapped(path.string()), copied(path.string(), Residency::kCopied);
  EXPECT_EQ(mapped.residency(), Residency::kMapped);
  EXPECT_EQ(copied.residency(), Residency::kCopied);
  ASSERT_EQ(copied.size(), bytes.size());
  EXPECT_EQ(std::memcmp(copied.data(), bytes.data(), bytes.size()), 0);
  EXPECT_NE(copied.data(), mapped.data());
  MappedFile moved = MappedFile(path.string(), Residency::kCopied);
  EXPECT_EQ(moved.residency(), Residency::kCopied);
  EXPECT_EQ(moved.data()[bytes.size() - 1], bytes.back());

  const auto empty = testlib::temp_dir() / "empty_copied.bin";
  testlib::write_file_bytes(empty, {});
  EXPECT_EQ(MappedFile(empty.string(), Residency::kCopied).size(), 0u);
  EXPECT_THROW(MappedFile((testlib::temp_dir() / "nope.bin").string(), Residency::kCopied), Error);

  EXPECT_EQ(choose_residency("map", 1), Residency::kMapped);
  EXPECT_EQ(choose_residency("copy", uint64_t{1} << 60), Residency::kCopied);
  EXPECT_EQ(choose_residency("auto", uint64_t{1} << 60), Residency::kMapped);  // larger than any RAM
  if (meminfo_bytes("MemAvailable") > (uint64_t{3} << 30) + meminfo_bytes("MemTotal") / 8) {
    EXPECT_EQ(choose_residency("auto", 4096), Residency::kCopied);
  }
  EXPECT_THROW(choose_residency("mmap", 1), Error);
  EXPECT_STREQ(residency_name(Residency::kCopied), "copied");
}

TEST(CpuFeatures, ConsistentWithCompilerBuiltins) {
  const CpuFeatures f = detect_cpu_features();
#if defined(__x86_64__)
  __builtin_cpu_init();
  EXPECT_EQ(f.avx2, static_cast<bool>(__builtin_cpu_supports("avx2")));
  EXPECT_EQ(f.fma, static_cast<bool>(__builtin_cpu_supports("fma")));
  EXPECT_EQ(f.avx512f, static_cast<bool>(__builtin_cpu_supports("avx512f")));
  EXPECT_FALSE(f.vendor.empty());
#endif
  EXPECT_FALSE(f.summary().empty());
  const std::string isa = f.best_isa();
  EXPECT_TRUE(isa == "avx512" || isa == "avx2" || isa == "scalar") << isa;
}

// Fresh memory is writable either way; populated, it is resident before anything touches it (where the kernel
// knows MADV_POPULATE_WRITE: Linux 5.14 on), and left lazy otherwise.
TEST(ProcessMemory, FreshMemoryIsPopulatedOnlyWhenAsked) {
  constexpr size_t kBytes = size_t{64} << 20;
  for (bool populate : {false, true}) {
    const uint64_t before = resident_bytes();
    uint8_t* p = map_fresh_memory(kBytes, populate);
    ASSERT_NE(p, nullptr);
    const uint64_t after = resident_bytes();
    const uint64_t grown = after - std::min(before, after);
    if (populate) {
      void* probe = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      const bool kernel_populates = ::madvise(probe, 4096, MADV_POPULATE_WRITE) == 0;
      ::munmap(probe, 4096);
      if (kernel_populates) {
        EXPECT_GE(grown, kBytes - (kBytes / 8)) << "populated memory not resident";
      }
    } else {
      EXPECT_LT(grown, kBytes / 2) << "unpopulated memory already resident";
    }
    p[0] = 1;
    p[kBytes - 1] = 2;
    EXPECT_EQ(p[0] + p[kBytes - 1], 3);
    ::munmap(p, kBytes);
  }
}

}  // namespace
}  // namespace r1

namespace r1 {
namespace {

TEST(ProcessMemory, ReadsMeminfoAndWarnsWhenTheModelIsLargerThanRam) {
  const uint64_t total = meminfo_bytes("MemTotal");
  const uint64_t available = meminfo_bytes("MemAvailable");
  EXPECT_GT(total, 64ull << 20);
  EXPECT_LE(available, total);
  EXPECT_EQ(meminfo_bytes("NoSuchCounter"), 0u);
  EXPECT_EQ(meminfo_bytes("MemTota"), 0u);  // whole names only
  EXPECT_GT(resident_bytes(), 0u);

  EXPECT_TRUE(larger_than_ram_warning(10ull << 30, 24ull << 30).empty());
  EXPECT_TRUE(larger_than_ram_warning(10ull << 30, 0).empty());  // RAM unknown: no guess
  const std::string w = larger_than_ram_warning(131ull << 30, 24ull << 30);
  EXPECT_NE(w.find("131.0 GiB"), std::string::npos) << w;
  EXPECT_NE(w.find("24.0 GiB"), std::string::npos) << w;
  EXPECT_NE(w.find("disk"), std::string::npos) << w;
}

}  // namespace
}  // namespace r1
