// AtomicFile over stdio, fsync and rename (see atomic_file.h).
#include "atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "error.h"

namespace r1 {

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)), temp_(path_ + ".tmp-" + std::to_string(::getpid())) {
  file_ = std::fopen(temp_.c_str(), "wb");
  if (file_ == nullptr) throw Error(fmt::format("cannot create file: {}", std::strerror(errno))).file(temp_);
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) {
    std::error_code ignored;
    std::filesystem::remove(temp_, ignored);
  }
}

void AtomicFile::fail(const char* what) {
  throw Error(fmt::format("{} failed: {}", what, std::strerror(errno))).file(path_);
}

void AtomicFile::write(const void* data, size_t n) {
  if (file_ == nullptr) throw Error("write after commit").file(path_);
  if (n != 0 && std::fwrite(data, 1, n, file_) != n) fail("write");
  written_ += n;
}

void AtomicFile::commit() {
  if (file_ == nullptr) throw Error("committed twice").file(path_);
  if (std::fflush(file_) != 0) fail("write");
  if (::fsync(::fileno(file_)) != 0) fail("sync");
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) fail("close");
  std::error_code ec;
  std::filesystem::rename(temp_, path_, ec);
  if (ec) throw Error(fmt::format("cannot rename the finished file into place: {}", ec.message())).file(path_);
  committed_ = true;
}

}  // namespace r1
