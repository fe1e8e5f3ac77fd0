// `--repack auto|on|off` at load: which weight matrices get a copy in the CPU prompt kernels' packed layout
// (PackedWeights, held by the CpuBackend), whether that copy fits, and what it cost. The copy is an addition,
// never a replacement: decode keeps reading the file's rows, and prompts read the copy instead of packing rows
// per call. A model whose copy does not fit in free memory beside its KV cache (a 671B model, always) is not
// packed under auto; its prompts pack per call, as with no copy.
#pragma once

#include <cstdint>
#include <string>

#include "cpu_kernels.h"
#include "ref_matmul.h"

namespace r1 {

// auto copies the matrices whose type the kernels name (CpuKernels::repack_pays: measured per type, docs/
// PERFORMANCE.md) when the copy, the KV cache at its full size (reserved now, touched as the context fills) and
// the weights still mapped from the page cache (they must stay resident) fit in available memory (MemAvailable)
// with 1 GiB to spare.
bool repack_fits(uint64_t packed_bytes, uint64_t kv_cache_bytes, uint64_t mapped_weight_bytes,
                 uint64_t available_bytes);

// What the memory around a model holds when the copy is decided (CpuBackend::repack).
struct RepackBudget {
  uint64_t kv_cache_bytes = 0;       // the KV cache at its full size
  uint64_t mapped_weight_bytes = 0;  // weights mapped from the page cache (not copied into the process)
  uint64_t available_bytes = 0;      // MemAvailable now
};

struct RepackReport {
  RepackMode mode = RepackMode::kAuto;
  uint64_t copy_bytes = 0;  // what the copy takes (or would have taken)
  size_t matrices = 0;      // the matrices it holds (or would have held)
  bool packed = false;      // the copy was made
  double seconds = 0;       // packing time, part of the load time
  std::string summary() const;  // one line: "repacked 197 matrices (1.62 GiB) for prompts in 412 ms", or why not
};

}  // namespace r1
