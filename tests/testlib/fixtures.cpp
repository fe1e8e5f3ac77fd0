// Locating fixtures and scratch space for tests.
#include "fixtures.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>

namespace r1::testlib {

std::optional<std::filesystem::path> fixtures_dir() {
  if (const char* env = std::getenv("R1_FIXTURES"); env != nullptr && *env != '\0') {
    if (std::filesystem::is_directory(env)) return std::filesystem::path(env);
    return std::nullopt;
  }
  const auto candidate = std::filesystem::path(R1_SOURCE_DIR) / ".." / "shared" / "fixtures";
  if (std::filesystem::is_directory(candidate)) return std::filesystem::weakly_canonical(candidate);
  return std::nullopt;
}

std::filesystem::path test_data_dir() { return std::filesystem::path(R1_SOURCE_DIR) / "tests" / "data"; }

namespace {
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() / ("r1-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::filesystem::path temp_dir() {
  static TempDir dir;
  return dir.path;
}

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::filesystem::path gunzip_to_temp(const std::filesystem::path& gz_path) {
  // Keyed on the whole path: several fixtures share a file name (tokenizers/*/tokenizer.json.gz).
  std::string name = gz_path.filename().string();
  if (name.size() > 3 && name.substr(name.size() - 3) == ".gz") name.resize(name.size() - 3);
  const auto key = std::to_string(std::hash<std::string>{}(std::filesystem::absolute(gz_path).string()));
  std::filesystem::create_directories(temp_dir() / key);
  const auto out = temp_dir() / key / name;
  if (std::filesystem::exists(out)) return out;
  const auto partial = temp_dir() / key / (name + ".partial");
  const std::string cmd = "gzip -dc '" + gz_path.string() + "' > '" + partial.string() + "'";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("cannot decompress " + gz_path.string());
  std::filesystem::rename(partial, out);
  return out;
}

}  // namespace r1::testlib
