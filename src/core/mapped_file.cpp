// MappedFile over POSIX open/fstat/mmap (mapped) or mmap(MAP_ANONYMOUS) + pread (copied).
#include "mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

#include "error.h"
#include "process_memory.h"

namespace r1 {

Residency choose_residency(std::string_view mode, uint64_t file_bytes) {
  if (mode == "map") return Residency::kMapped;
  if (mode == "copy") return Residency::kCopied;
  if (mode != "auto") throw Error(fmt::format("unknown weights residency '{}' (expected auto, map or copy)", mode));
  const uint64_t available = meminfo_bytes("MemAvailable"), total = meminfo_bytes("MemTotal");
  const uint64_t spare = std::max<uint64_t>(uint64_t{2} << 30, total / 8);
  return available > spare && file_bytes <= available - spare ? Residency::kCopied : Residency::kMapped;
}

const char* residency_name(Residency r) { return r == Residency::kCopied ? "copied" : "mapped"; }

namespace {

// Bytes [begin, end) of fd into dst + begin; an error message, or empty.
std::string read_range(int fd, uint8_t* dst, size_t begin, size_t end, size_t size) {
  size_t done = begin;
  while (done < end) {
    const ssize_t n = ::pread(fd, dst + done, end - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fmt::format("cannot read at byte {}: {}", done, std::strerror(errno));
    if (n == 0) return fmt::format("file ended at byte {} of {} while being read (changed on disk?)", done, size);
    done += static_cast<size_t>(n);
  }
  return {};
}

// size bytes of fd into fresh private memory (map_fresh_memory), then made read-only like a mapping. Several
// threads read 2 MiB-aligned parts: with the pages faulted in one by one, those faults dominated a single reader
// (1.76 GB on a 2-vCPU VM: 0.3-1 s with one thread, 0.2 s with two).
const uint8_t* copy_into_memory(int fd, size_t size, const std::string& path) {
  // Populated up front: a copied file is never under --numa's first-touch placement (that maps the file).
  uint8_t* dst = map_fresh_memory(size, /*populate=*/true);
  if (dst == nullptr) {
    throw Error(fmt::format("cannot allocate {} bytes to hold the file: {} (try --mmap)", size, std::strerror(errno)))
        .file(path);
  }
  constexpr size_t kPart = size_t{64} << 20;
  const size_t parts = (size + kPart - 1) / kPart;
  const size_t n_threads = std::min<size_t>({parts, std::max(1u, std::thread::hardware_concurrency()), 8});
  std::vector<std::string> errors(n_threads);
  std::atomic<size_t> next{0};
  auto reader = [&](size_t t) {
    for (size_t i = next++; i < parts && errors[t].empty(); i = next++) {
      errors[t] = read_range(fd, dst, i * kPart, std::min(size, (i + 1) * kPart), size);
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 1; t < n_threads; ++t) threads.emplace_back(reader, t);
  reader(0);
  for (auto& th : threads) th.join();
  for (const std::string& e : errors) {
    if (!e.empty()) {
      ::munmap(dst, size);
      throw Error(e).file(path);
    }
  }
  ::mprotect(dst, size, PROT_READ);
  return dst;
}

}  // namespace

MappedFile::MappedFile(const std::string& path, Residency residency) : path_(path), residency_(residency) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(fmt::format("cannot open: {}", std::strerror(errno))).file(path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw Error(fmt::format("cannot stat: {}", std::strerror(err))).file(path);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error("not a regular file").file(path);
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0 && residency_ == Residency::kCopied) {
    try {
      data_ = copy_into_memory(fd, size_, path);
    } catch (...) {
      ::close(fd);
      throw;
    }
  } else if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw Error(fmt::format("cannot map {} bytes: {}", size_, std::strerror(err))).file(path);
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
}

MappedFile::~MappedFile() { release(); }

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)),
      data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      residency_(other.residency_) {}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    release();
    path_ = std::move(other.path_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    residency_ = other.residency_;
  }
  return *this;
}

void MappedFile::release() noexcept {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace r1
