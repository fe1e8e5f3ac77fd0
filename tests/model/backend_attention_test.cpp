// The CPU backend's attention call: a call's query rows are the micro-batch's tokens, and their count picks
// llama.cpp's accumulator (ref_ops.h: fp16 for few rows in a short context, float for a prompt of 64 or more).
// Every kernel set this CPU runs, and the reference, with and without threads.

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "backend.h"
#include "golden.h"
#include "random_rows.h"
#include "ref_ops.h"
#include "thread_pool.h"
#include "type_table.h"

namespace r1 {
namespace {

TEST(CpuBackendAttention, QueryRowsInTheCallPickTheAccumulator) {
  const int n_head = 6, n_head_kv = 2, d = 64;
  const int64_t n_kv = 90;
  const uint64_t row = *row_bytes(type_info(GgmlType::kF16), static_cast<uint64_t>(n_head_kv * d));
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  const std::vector<uint8_t> k = testlib::random_rows(GgmlType::kF16, n_kv, n_head_kv * d, 3.0f, rng);
  const std::vector<uint8_t> v = testlib::random_rows(GgmlType::kF16, n_kv, n_head_kv * d, 3.0f, rng);
  const int64_t max_rows = kFlashTiledFromQueries;
  std::vector<float> q(static_cast<size_t>(max_rows * n_head * d));
  for (auto& e : q) e = 2.0f * normal(rng);
  const AttentionParams p{n_head, n_head_kv, d, d, 0.125f, GgmlType::kF16, GgmlType::kF16, /*flash=*/true};

  ThreadPool pool(2);
  for (const auto& kernels : testlib::kernel_sets_to_test()) {
    for (ThreadPool* threads : {static_cast<ThreadPool*>(nullptr), &pool}) {
      CpuBackend backend(threads, kernels.get());
      std::string trace(kernels ? kernels->isa_name() : "reference");
      trace += threads ? ", threaded" : ", serial";
      SCOPED_TRACE(trace);
      for (const int64_t n_rows : {max_rows - 1, max_rows}) {
        // Row i is a causal prompt's token i: it sees the first n_kv - n_rows + 1 + i positions.
        std::vector<float> out(static_cast<size_t>(n_rows * n_head * d), -1.0f);
        std::vector<AttentionRow> rows;
        for (int64_t i = 0; i < n_rows; ++i) {
          rows.push_back({q.data() + i * n_head * d, k.data(), v.data(), n_kv - n_rows + 1 + i,
                          out.data() + i * n_head * d});
        }
        backend.attention(p, rows.data(), n_rows, row, row);
        AttentionParams want_p = p;
        want_p.n_queries = n_rows;
        for (int64_t i = 0; i < n_rows; ++i) {
          std::vector<float> want(static_cast<size_t>(n_head * d));
          attention_ref(want_p, rows[i].q, k.data(), row, v.data(), row, rows[i].n_kv, want.data());
          ASSERT_EQ(std::memcmp(want.data(), rows[i].out, want.size() * sizeof(float)), 0)
              << n_rows << " rows, row " << i;
        }
      }
    }
  }
}

}  // namespace
}  // namespace r1
