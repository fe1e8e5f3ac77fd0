// PackedWeights: weight matrices copied once, at load, into the CPU prompt kernels' packed layout
// (`--repack`), so that prompt matmuls read them as they are instead of packing sixteen rows per call and
// pass (avx512_rows16.h). The copy sits beside the file's bytes, which decode keeps reading; whether it fits
// is the backend's decision (cpu_repack.h). Built before the first matmul, read-only afterwards, so any
// number of threads may look matrices up at once.
#pragma once

#include <cstdint>
#include <vector>

#include "cpu_kernels.h"
#include "ref_matmul.h"

namespace r1 {

class ThreadPool;

class PackedWeights {
 public:
  explicit PackedWeights(const CpuKernels& kernels) : kernels_(kernels) {}
  ~PackedWeights();
  PackedWeights(const PackedWeights&) = delete;
  PackedWeights& operator=(const PackedWeights&) = delete;

  // Packs every whole group of sixteen rows of w (threads of pool, when given, take distinct groups). A matrix
  // the kernels have no packed layout for, or one overlapping a matrix already added (itself included), is left
  // alone; returns the bytes added.
  // Throws r1::Error when the memory cannot be had.
  uint64_t add(const WeightView& w, ThreadPool* pool);

  // The packed rows of w from its row 0, when w lies inside an added matrix at a group boundary (a slice of
  // a stacked tensor, or the matrix itself) with the same type, columns and row stride; null otherwise.
  const uint8_t* find(const WeightView& w) const;

  uint64_t bytes() const { return bytes_; }
  size_t matrices() const { return entries_.size(); }

 private:
  struct Entry {
    const uint8_t* begin;  // the file's rows: [begin, end)
    const uint8_t* end;
    GgmlType type;
    int64_t cols;
    uint64_t row_bytes;
    uint64_t group_bytes;  // one group of sixteen rows, packed
    uint8_t* packed;       // owned: an anonymous mapping of mapped_bytes
    uint64_t mapped_bytes;
  };
  CpuKernels kernels_;  // a copy (a pointer to a table and flags): only its packers are used
  std::vector<Entry> entries_;  // sorted by begin, not overlapping
  uint64_t bytes_ = 0;
};

}  // namespace r1
