// The load-time repacking rules and CpuBackend::repack (cpu_repack.h).
#include "cpu_repack.h"

#include <chrono>
#include <vector>

#include "backend.h"
#include "error.h"
#include "packed_weights.h"

namespace r1 {

bool repack_fits(uint64_t packed_bytes, uint64_t kv_cache_bytes, uint64_t mapped_weight_bytes,
                 uint64_t available_bytes) {
  constexpr uint64_t kSpare = uint64_t{1} << 30;
  const uint64_t need = packed_bytes + kv_cache_bytes + mapped_weight_bytes + kSpare;
  return need >= packed_bytes && need <= available_bytes;  // (the first: no wrap-around)
}

std::string RepackReport::summary() const {
  const double gib = static_cast<double>(copy_bytes) / double(1 << 30);
  if (mode == RepackMode::kOff) return "repack off: prompts multiply the file's layout";
  if (matrices == 0) {
    return mode == RepackMode::kOn ? "repack on: no matrix of this file has a packed layout in these kernels"
                                   : "repack auto: no matrix of this file is of a type whose packed copy pays; "
                                     "prompts run as without one";
  }
  if (!packed) {
    return fmt::format("repack auto: the packed copy ({:.2f} GiB) does not fit in free memory beside the KV cache; "
                       "prompts pack rows per call",
                       gib);
  }
  return fmt::format("repacked {} matrices ({:.2f} GiB) for prompts in {:.0f} ms", matrices, gib, seconds * 1e3);
}

RepackReport CpuBackend::repack(std::vector<WeightView> matrices, RepackMode mode, const RepackBudget& budget) {
  RepackReport r;
  r.mode = mode;
  if (mode == RepackMode::kOff || kernels_ == nullptr) {
    r.mode = RepackMode::kOff;
    return r;
  }
  std::erase_if(matrices, [&](const WeightView& w) {
    return kernels_->packed_bytes(w) == 0 || (mode == RepackMode::kAuto && !kernels_->repack_pays(w.type));
  });
  r.matrices = matrices.size();
  for (const WeightView& w : matrices) r.copy_bytes += kernels_->packed_bytes(w);
  const bool fits =
      repack_fits(r.copy_bytes, budget.kv_cache_bytes, budget.mapped_weight_bytes, budget.available_bytes);
  if (matrices.empty() || (mode == RepackMode::kAuto && !fits)) return r;
  const auto start = std::chrono::steady_clock::now();
  if (!packed_) packed_ = std::make_unique<PackedWeights>(*kernels_);
  for (const WeightView& w : matrices) packed_->add(w, pool_);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.packed = true;
  return r;
}

}  // namespace r1
