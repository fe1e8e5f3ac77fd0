// AtomicFile: a file written under a temporary name beside its destination and renamed over it by commit(), so
// a failed or interrupted write (a full disk, an error on the way) never leaves a half-written file where the
// user's file was. Every write is checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace r1 {

class AtomicFile {
 public:
  // Creates path + ".tmp-<pid>". Throws r1::Error naming the path when it cannot.
  explicit AtomicFile(std::string path);
  // Without commit(), the temporary file is removed and the destination left as it was.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Throws r1::Error naming the destination (a full disk, an I/O error).
  void write(const void* data, size_t n);
  uint64_t written() const { return written_; }
  // Flushes, syncs and closes the temporary file, then renames it over the destination.
  void commit();

 private:
  [[noreturn]] void fail(const char* what);

  std::string path_;
  std::string temp_;
  FILE* file_ = nullptr;
  uint64_t written_ = 0;
  bool committed_ = false;
};

}  // namespace r1
