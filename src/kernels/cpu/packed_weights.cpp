// PackedWeights: fresh anonymous mappings (map_fresh_memory, as the copied weights are) filled by
// CpuKernels::pack_rows, found again by address.
#include "packed_weights.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iterator>

#include "error.h"
#include "process_memory.h"
#include "thread_pool.h"
#include "type_table.h"

namespace r1 {

PackedWeights::~PackedWeights() {
  for (const Entry& e : entries_) ::munmap(e.packed, e.mapped_bytes);
}

uint64_t PackedWeights::add(const WeightView& w, ThreadPool* pool) {
  const uint64_t bytes = kernels_.packed_bytes(w);
  if (bytes == 0) return 0;
  // Entries may not overlap (find takes the last one starting at or before an address): a matrix overlapping one
  // already added, itself included, is left alone.
  const uint8_t* data_end = w.data + static_cast<uint64_t>(w.rows) * w.row_bytes;
  const auto next = std::lower_bound(entries_.begin(), entries_.end(), data_end,
                                     [](const Entry& x, const uint8_t* e) { return x.begin < e; });
  if (next != entries_.begin() && std::prev(next)->end > w.data) return 0;
  // Faulted in up front, except under --numa, where each pinned thread's first touch while packing places the
  // pages on its node.
  uint8_t* out = map_fresh_memory(bytes, /*populate=*/pool == nullptr || !pool->pinned());
  if (out == nullptr) {
    throw Error(fmt::format("cannot allocate {} bytes for packed weight rows: {} (try --repack off)", bytes,
                            std::strerror(errno)));
  }
  const int64_t groups = w.rows / 16;
  if (pool != nullptr && pool->size() > 1) {
    pool->parallel_range(static_cast<size_t>(groups), 1, [&](size_t begin, size_t end, int) {
      kernels_.pack_rows(w, static_cast<int64_t>(begin), static_cast<int64_t>(end), out);
    });
  } else {
    kernels_.pack_rows(w, 0, groups, out);
  }
  ::mprotect(out, bytes, PROT_READ);  // read-only from here on, like the weights it copies
  const Entry e{.begin = w.data, .end = data_end, .type = w.type, .cols = w.cols, .row_bytes = w.row_bytes,
                .group_bytes = bytes / static_cast<uint64_t>(groups), .packed = out, .mapped_bytes = bytes};
  entries_.insert(std::upper_bound(entries_.begin(), entries_.end(), e.begin,
                                   [](const uint8_t* b, const Entry& x) { return b < x.begin; }),
                  e);
  bytes_ += bytes;
  return bytes;
}

const uint8_t* PackedWeights::find(const WeightView& w) const {
  // The last matrix starting at or before w.data.
  auto it = std::upper_bound(entries_.begin(), entries_.end(), w.data,
                             [](const uint8_t* b, const Entry& x) { return b < x.begin; });
  if (it == entries_.begin()) return nullptr;
  const Entry& e = *--it;
  if (w.data >= e.end || w.type != e.type || w.cols != e.cols || w.row_bytes != e.row_bytes) return nullptr;
  const auto offset = static_cast<uint64_t>(w.data - e.begin);
  const uint64_t group_span = 16 * e.row_bytes;
  if (offset % group_span != 0) return nullptr;
  // Only the groups w covers in full are read, and those lie inside the matrix.
  const uint64_t span = static_cast<uint64_t>(e.end - e.begin);
  if (offset + static_cast<uint64_t>(w.rows / 16) * group_span > span) return nullptr;
  return e.packed + offset / group_span * e.group_bytes;
}

}  // namespace r1
