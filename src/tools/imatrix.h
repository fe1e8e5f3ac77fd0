// Collecting an importance matrix (`r1 imatrix`): a Backend decorator that forwards every op to the real
// backend and, for each matmul over a weight of the file, adds the squares of the float32 activations going in
// (before any 8-bit rounding) per input column, per expert for 3-D `*_exps` tensors; and the run over a text in
// perplexity's chunks. The data and its files are imatrix_file.h's.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "backend.h"
#include "gguf_set.h"
#include "imatrix_file.h"

namespace r1 {

class Logger;

struct ImatrixCollectOptions {
  // Collect output.weight too (llama.cpp leaves it out unless --process-output): otherwise only "blk.*".
  bool process_output = false;
};

// Names each matmul by its weight's data pointer: the start of a whole 2-D tensor, or of expert e's slice of a
// 3-D tensor (base + e * rows * row_bytes, as the model binds them). Anything else (row slices of deepseek2's
// attn_kv_b, the derived k_b copy of legacy files, the up half of a fused ffn_gate_up_exps slice, which shares
// the gate half's input) is forwarded but not recorded. As llama.cpp does, a matmul of a 2-D weight over fewer
// than 16 token rows is not recorded (decode-sized batches say little); expert matmuls always are.
// The model calls a backend from one thread at a time, so recording needs no lock.
class ImatrixCollector final : public Backend {
 public:
  ImatrixCollector(Backend& inner, const GgufSet& file, const ImatrixCollectOptions& options = {});
  std::string name() const override { return "imatrix(" + inner_.name() + ")"; }

  void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y) override;
  void get_row(const WeightView& w, int64_t r, float* dst) override { inner_.get_row(w, r, dst); }
  void rms_norm(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps) override {
    inner_.rms_norm(x, weight, y, n_rows, n, eps);
  }
  void rope(float* x, int n_heads, int head_dim, int64_t pos, const RopeParams& p) override {
    inner_.rope(x, n_heads, head_dim, pos, p);
  }
  void swiglu(const float* gate, const float* up, float* out, int64_t n) override { inner_.swiglu(gate, up, out, n); }
  void attention(const AttentionParams& p, const AttentionRow* rows, int64_t n_rows, uint64_t k_row_bytes,
                 uint64_t v_row_bytes) override {
    inner_.attention(p, rows, n_rows, k_row_bytes, v_row_bytes);
  }

  // What was collected so far, entries for every weight matmul seen (chunk metadata left to the caller).
  const Imatrix& data() const { return data_; }
  Imatrix& data() { return data_; }

 private:
  struct Tensor {
    std::string name;
    int64_t n_cols;
    int64_t n_mat;
    ImatrixEntry* entry;  // in data_.entries once first multiplied (std::map nodes stay put)
  };
  struct Target {
    size_t tensor;       // index into tensors_
    int64_t mat;         // expert index (0 for a 2-D tensor)
    int64_t rows;        // rows of that matrix
    bool expert;         // a slice of a 3-D tensor
    bool fused_gate_up;  // an ffn_gate_up_exps slice: its gate half (rows / 2) is recorded too
  };
  Backend& inner_;
  Imatrix data_;
  std::vector<Tensor> tensors_;
  std::unordered_map<const uint8_t*, Target> targets_;
};

struct ImatrixRunOptions {
  std::string model;
  std::string text_file;
  int n_ctx = 512;         // tokens per chunk (-c)
  int max_chunks = -1;     // --chunks (<= 0: all)
  int threads = 0;         // 0: one per physical core
  std::string kernels = "auto";  // "reference" for the scalar reference kernels
  bool process_output = false;
  const Logger* log = nullptr;
};

struct ImatrixProgress {
  int chunk = 0;  // chunks done
  int n_chunks = 0;
  size_t n_tokens = 0;  // tokens in the text
  double chunk_ppl = 0;    // this chunk's perplexity (second half scored, as r1 perplexity does)
  double running_ppl = 0;  // all chunks so far
  double seconds = 0;      // since the first chunk started
};

// Tokenizes the text (BOS as the model says, special tokens not parsed), runs each chunk alone with BOS in
// front, and returns the collected matrix with datasets = {text_file}, chunk_count and chunk_size set.
// Legacy deepseek2 files run MLA in its expanded form so attn_kv_b is multiplied whole, as in llama.cpp.
Imatrix compute_imatrix(const ImatrixRunOptions& options, const std::function<void(const ImatrixProgress&)>& on_chunk);

}  // namespace r1
