// CpuBackend: the CPU kernels (or the reference ones), rows of a matmul and heads of attention spread over the
// thread pool.
#include "backend.h"

#include "thread_pool.h"

namespace r1 {

void CpuBackend::matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y) {
  if (kernels_ != nullptr) {
    // Activations are quantized once; threads then stream distinct row ranges of the weights. The buffers are
    // the calling thread's, kept between calls: a fresh one per call cost 2 % of a 512-token prompt in zeroing
    // (its vectors are filled in full before they are read). The reference, not the thread_local itself, goes
    // into the lambda below: the name would mean each pool thread's own (empty) buffers there.
    thread_local CpuActivations calling_thread_act;
    CpuActivations& act = calling_thread_act;
    kernels_->quantize_activations(w.type, x, n_tokens, w.cols, act, pool_);
    // Only prompts read packed rows (decode multiplies the file's layout), and ranges start on groups of 16.
    const uint8_t* packed = packed_ != nullptr && n_tokens >= 4 ? packed_->find(w) : nullptr;
    if (pool_ == nullptr || pool_->size() == 1) {
      kernels_->matmul(w, act, y, 0, w.rows, packed);
      return;
    }
    pool_->parallel_range(static_cast<size_t>(w.rows), 16, [&](size_t begin, size_t end, int) {
      kernels_->matmul(w, act, y, static_cast<int64_t>(begin), static_cast<int64_t>(end), packed);
    });
    return;
  }
  if (pool_ == nullptr || pool_->size() == 1) {
    matmul_ref(w, x, n_tokens, y, 0, w.rows);
    return;
  }
  pool_->parallel_range(static_cast<size_t>(w.rows), 16, [&](size_t begin, size_t end, int) {
    matmul_ref(w, x, n_tokens, y, static_cast<int64_t>(begin), static_cast<int64_t>(end));
  });
}

void CpuBackend::get_row(const WeightView& w, int64_t r, float* dst) { weight_row_ref(w, r, dst); }

// Rows (and, below, elements) are independent: split over the pool once there is enough work to pay for it.
void CpuBackend::rms_norm(const float* x, const float* weight, float* y, int64_t n_rows, int64_t n, float eps) {
  if (pool_ == nullptr || pool_->size() == 1 || n_rows < 2) {
    for (int64_t r = 0; r < n_rows; ++r) rms_norm_ref(x + r * n, weight, y + r * n, n, eps);
    return;
  }
  pool_->parallel_range(static_cast<size_t>(n_rows), 1, [&](size_t begin, size_t end, int) {
    for (auto r = static_cast<int64_t>(begin); r < static_cast<int64_t>(end); ++r) {
      rms_norm_ref(x + r * n, weight, y + r * n, n, eps);
    }
  });
}

void CpuBackend::rope(float* x, int n_heads, int head_dim, int64_t pos, const RopeParams& p) {
  rope_ref(x, n_heads, head_dim, pos, p);
}

void CpuBackend::swiglu(const float* gate, const float* up, float* out, int64_t n) {
  constexpr int64_t kMinChunk = 16384;
  const auto run = [&](int64_t begin, int64_t end) {
    if (kernels_ != nullptr) kernels_->swiglu(gate + begin, up + begin, out + begin, end - begin);
    else swiglu_ref(gate + begin, up + begin, out + begin, end - begin);
  };
  if (pool_ == nullptr || pool_->size() == 1 || n < 2 * kMinChunk) {
    run(0, n);
    return;
  }
  pool_->parallel_range(static_cast<size_t>(n), kMinChunk, [&](size_t begin, size_t end, int) {
    run(static_cast<int64_t>(begin), static_cast<int64_t>(end));
  });
}

// Rows and heads are independent and each is computed the same way whichever thread takes it (the same bits):
// a micro-batch spreads its rows over the threads (interleaved, which also evens out the causal triangle), a
// single row (decoding) its heads.
void CpuBackend::attention(const AttentionParams& params, const AttentionRow* rows, int64_t n_rows,
                           uint64_t k_row_bytes, uint64_t v_row_bytes) {
  AttentionParams p = params;
  p.n_queries = n_rows;  // how many query rows decides llama.cpp's kernel, so its accumulator (ref_ops.h)
  auto run = [&](const AttentionRow& r, int begin, int end) {
    if (kernels_ != nullptr) kernels_->attention(p, r.q, r.k, k_row_bytes, r.v, v_row_bytes, r.n_kv, r.out, begin, end);
    else attention_ref(p, r.q, r.k, k_row_bytes, r.v, v_row_bytes, r.n_kv, r.out, begin, end);
  };
  if (pool_ == nullptr || pool_->size() == 1) {
    for (int64_t i = 0; i < n_rows; ++i) run(rows[i], 0, p.n_head);
    return;
  }
  if (n_rows >= pool_->size()) {
    pool_->parallel_for(static_cast<size_t>(n_rows), [&](size_t i, int) { run(rows[i], 0, p.n_head); });
    return;
  }
  for (int64_t i = 0; i < n_rows; ++i) {
    if (p.n_head == 1) {
      run(rows[i], 0, 1);
      continue;
    }
    pool_->parallel_range(static_cast<size_t>(p.n_head), 1, [&](size_t begin, size_t end, int) {
      run(rows[i], static_cast<int>(begin), static_cast<int>(end));
    });
  }
}

}  // namespace r1
