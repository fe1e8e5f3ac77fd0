// Finding test data: the shared fixtures (../shared/fixtures or $R1_FIXTURES) and the repo's tests/data.
// Tests that need the shared fixtures call R1_REQUIRE_FIXTURES(), which skips with a clear message when absent.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace r1::testlib {

// $R1_FIXTURES if set, else <source>/../shared/fixtures; nullopt when that folder does not exist.
std::optional<std::filesystem::path> fixtures_dir();
// <source>/tests/data (always present in a checkout).
std::filesystem::path test_data_dir();
// A scratch folder unique to this test process, removed at exit.
std::filesystem::path temp_dir();

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path);
void write_file_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes);
// Decompresses a .gz file (via zlib's gzip format, using the `gzip` program) into temp_dir(), once per process.
std::filesystem::path gunzip_to_temp(const std::filesystem::path& gz_path);

}  // namespace r1::testlib

#define R1_REQUIRE_FIXTURES(var)                                                                   \
  const auto var##_opt = ::r1::testlib::fixtures_dir();                                            \
  if (!var##_opt) GTEST_SKIP() << "shared fixtures not found (set R1_FIXTURES or place ../shared/fixtures)"; \
  const std::filesystem::path var = *var##_opt
