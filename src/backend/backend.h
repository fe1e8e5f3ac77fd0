// Backend: the coarse operations a model step is made of, behind one interface, so model code never knows
// which kernels (scalar reference, SIMD, GPU) run. Each tensor's placement names the backend that runs the
// ops reading it; a model can split its layers across backends.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cpu_kernels.h"
#include "cpu_repack.h"
#include "packed_weights.h"
#include "ref_matmul.h"
#include "ref_ops.h"

namespace r1 {

class ThreadPool;

// One query row of attention: q for every head, attending over the first n_kv rows of a cache (k, v), the
// output for every head into out.
struct AttentionRow {
  const float* q;
  const uint8_t* k;
  const uint8_t* v;
  int64_t n_kv;
  float* out;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // y: [n_tokens, w.rows] = x: [n_tokens, w.cols] times W^T (with llama.cpp's activation rounding).
  virtual void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y) = 0;
  // dst: [w.cols] = row r of w, decoded (embedding lookup).
  virtual void get_row(const WeightView& w, int64_t r, float* dst) = 0;
  // Row-wise RMS norm of n_rows rows of n values (in place allowed).
  virtual void rms_norm(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps) = 0;
  virtual void rope(float* x, int n_heads, int head_dim, int64_t pos, const RopeParams& p) = 0;
  virtual void swiglu(const float* gate, const float* up, float* out, int64_t n) = 0;
  // All query rows of a micro-batch in one call (one dispatch over the threads, not one per token); the rows'
  // caches share the row strides.
  virtual void attention(const AttentionParams& p, const AttentionRow* rows, int64_t n_rows, uint64_t k_row_bytes,
                         uint64_t v_row_bytes) = 0;
};

// The CPU backend: matmuls through the kernels/cpu dispatch table (SIMD for the ISA chosen at start-up), or
// through the scalar reference kernels when kernels is null; parallel over output rows with a thread pool
// (null: serial). Model code does not change either way.
class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(ThreadPool* pool, const CpuKernels* kernels = nullptr, std::string label = "cpu")
      : pool_(pool), kernels_(kernels), label_(std::move(label)) {}
  std::string name() const override { return label_; }
  // `--repack` at load (cpu_repack.h): packs those of matrices the mode and budget allow into a copy this backend
  // keeps, which its prompt matmuls then read. Throws r1::Error when memory for the copy cannot be had.
  RepackReport repack(std::vector<WeightView> matrices, RepackMode mode, const RepackBudget& budget);
  const PackedWeights* packed_weights() const { return packed_.get(); }

  void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y) override;
  void get_row(const WeightView& w, int64_t r, float* dst) override;
  void rms_norm(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps) override;
  void rope(float* x, int n_heads, int head_dim, int64_t pos, const RopeParams& p) override;
  void swiglu(const float* gate, const float* up, float* out, int64_t n) override;
  void attention(const AttentionParams& p, const AttentionRow* rows, int64_t n_rows, uint64_t k_row_bytes,
                 uint64_t v_row_bytes) override;

 private:
  ThreadPool* pool_;
  const CpuKernels* kernels_;
  std::unique_ptr<PackedWeights> packed_;  // --repack's copy; null: none
  std::string label_;
};

}  // namespace r1
