// Multi-head latent attention: the shared projections and cache writes, then the absorbed or the expanded
// form (see the header for both and when each pays).
#include "layers/mla_attention.h"

#include <algorithm>
#include <cstring>

#include "half.h"
#include "quant_row.h"

namespace r1 {
namespace {

constexpr uint64_t kMaxExpandedBytes = uint64_t{1} << 30;  // rebuilt K and V of one sequence

// The tokens of one sequence in a micro-batch and the context they reach.
struct SequenceSpan {
  int seq = 0;
  std::vector<int64_t> tokens;  // indices into the micro-batch, in batch order
  int64_t context = 0;          // highest position + 1
};

std::vector<SequenceSpan> sequence_spans(const Batch& b, size_t start, int64_t n) {
  std::vector<SequenceSpan> spans;
  for (int64_t t = 0; t < n; ++t) {
    const int seq = b.seq_ids[start + static_cast<size_t>(t)];
    auto it = std::find_if(spans.begin(), spans.end(), [seq](const SequenceSpan& s) { return s.seq == seq; });
    if (it == spans.end()) it = spans.insert(spans.end(), SequenceSpan{.seq = seq, .tokens = {}, .context = 0});
    it->tokens.push_back(t);
    it->context = std::max<int64_t>(it->context, b.positions[start + static_cast<size_t>(t)] + 1);
  }
  return spans;
}

// The rebuilt K and V are held in F32 with an F32 cache and in F16 otherwise (as llama.cpp's default per-head
// F16 cache holds them for legacy files).
GgmlType expanded_type(GgmlType cache_type) { return cache_type == GgmlType::kF32 ? GgmlType::kF32 : GgmlType::kF16; }

uint64_t expanded_bytes(const MlaShape& s, GgmlType cache_type, int64_t context) {
  const uint64_t element = expanded_type(cache_type) == GgmlType::kF32 ? 4 : 2;
  return static_cast<uint64_t>(context) * static_cast<uint64_t>(s.n_head) *
         static_cast<uint64_t>(s.head_k() + s.head_v) * element;
}

void store_as(GgmlType type, const float* src, int64_t n, uint8_t* dst) {
  if (type == GgmlType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  auto* out = reinterpret_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; ++i) out[i] = fp32_to_fp16(src[i]);
}

// Absorbed form for the micro-batch tokens listed: queries through k_b into latent space, multi-query attention
// over the cached latent rows (this micro-batch's own rows read back through the cache type, so prefill equals
// token-by-token decoding), the result back through v_b. q: [n, n_head, head_k] with q_pe not yet rotated;
// o: [n, n_head * head_v]; only the listed tokens' rows are read and written.
void attend_absorbed(Backend& be, const MlaShape& s, const MlaWeights& w, const MlaRun& run, MlaCache& cache, int layer,
                     const Batch& b, size_t start, const std::vector<int64_t>& tokens, const float* q, float* o) {
  const int64_t m = static_cast<int64_t>(tokens.size());
  const int64_t r = s.kv_lora_rank;
  const int64_t q_dim = static_cast<int64_t>(s.n_head) * s.head_k();
  const int64_t qa_dim = r + s.n_rot;  // one absorbed query head: [k_b q_nope, rope(q_pe)]
  std::vector<float> qa(static_cast<size_t>(m * s.n_head * qa_dim));  // [m, n_head, kv_lora_rank + n_rot]
  std::vector<float> lat(static_cast<size_t>(m * s.n_head * r));      // [m, n_head, kv_lora_rank] attention output
  std::vector<float> gather(static_cast<size_t>(m * std::max<int64_t>(s.n_nope, r)));   // [m, nope] or [m, r]
  std::vector<float> scatter(static_cast<size_t>(m * std::max<int64_t>(r, s.head_v)));  // [m, r] or [m, head_v]
  const auto position = [&](int64_t i) { return b.positions[start + static_cast<size_t>(tokens[static_cast<size_t>(i)])]; };

  for (int hd = 0; hd < s.n_head; ++hd) {
    for (int64_t i = 0; i < m; ++i) {
      const float* src = q + tokens[static_cast<size_t>(i)] * q_dim + static_cast<int64_t>(hd) * s.head_k();
      std::copy(src, src + s.n_nope, gather.begin() + i * s.n_nope);
    }
    be.matmul(w.k_b[static_cast<size_t>(hd)], gather.data(), m, scatter.data());
    for (int64_t i = 0; i < m; ++i) {
      float* dst = qa.data() + (i * s.n_head + hd) * qa_dim;
      std::copy(scatter.begin() + i * r, scatter.begin() + (i + 1) * r, dst);
      const float* pe = q + tokens[static_cast<size_t>(i)] * q_dim + static_cast<int64_t>(hd) * s.head_k() + s.n_nope;
      std::copy(pe, pe + s.n_rot, dst + r);
      be.rope(dst + r, 1, s.n_rot, position(i), s.rope);
    }
  }

  const AttentionParams ap{.n_head = s.n_head,
                           .n_head_kv = 1,
                           .head_dim_k = static_cast<int>(qa_dim),
                           .head_dim_v = static_cast<int>(r),
                           .scale = s.kq_scale,
                           .k_type = run.cache_type,
                           .v_type = run.cache_type,
                           .flash = run.flash};
  std::vector<AttentionRow> rows(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) {
    const int seq = b.seq_ids[start + static_cast<size_t>(tokens[static_cast<size_t>(i)])];
    const uint8_t* latent = cache.row(layer, seq, 0);  // keys and values are the same latent rows
    rows[static_cast<size_t>(i)] = {qa.data() + i * s.n_head * qa_dim, latent, latent, position(i) + 1,
                                    lat.data() + i * s.n_head * r};
  }
  be.attention(ap, rows.data(), m, cache.row_bytes(), cache.row_bytes());

  for (int hd = 0; hd < s.n_head; ++hd) {
    for (int64_t i = 0; i < m; ++i) {
      const float* src = lat.data() + (i * s.n_head + hd) * r;
      std::copy(src, src + r, gather.begin() + i * r);
    }
    be.matmul(w.v_b[static_cast<size_t>(hd)], gather.data(), m, scatter.data());
    for (int64_t i = 0; i < m; ++i) {
      std::copy(scatter.begin() + i * s.head_v, scatter.begin() + (i + 1) * s.head_v,
                o + (tokens[static_cast<size_t>(i)] * s.n_head + hd) * s.head_v);
    }
  }
}

// Expanded form (legacy files) for one sequence's tokens: every context position's latent (this micro-batch's rows as
// computed, earlier ones decoded from the cache) goes through attn_kv_b once, giving each head's K and V,
// which are rounded to the cache's element type as llama.cpp's per-head cache rounds them; then plain
// attention. q: [n, n_head, head_k] with q_pe not yet rotated (rotated here); rows: [n, kv_lora_rank + n_rot]
// this micro-batch's cache rows in F32; o: [n, n_head * head_v].
void attend_expanded(Backend& be, const MlaShape& s, const MlaWeights& w, const MlaRun& run, MlaCache& cache, int layer,
                     const Batch& b, size_t start, const SequenceSpan& span, float* q, const float* rows, float* o) {
  const int64_t r = s.kv_lora_rank;
  const int64_t row_dim = r + s.n_rot;
  const int64_t head_k = s.head_k();
  const int64_t q_dim = s.n_head * head_k;
  const int64_t kvb_dim = static_cast<int64_t>(s.n_head) * (s.n_nope + s.head_v);
  const GgmlType type = expanded_type(run.cache_type);
  const uint64_t element = type == GgmlType::kF32 ? 4 : 2;
  const uint64_t k_row_bytes = static_cast<uint64_t>(s.n_head * head_k) * element;
  const uint64_t v_row_bytes = static_cast<uint64_t>(s.n_head) * static_cast<uint64_t>(s.head_v) * element;

  for (int64_t t : span.tokens) {
    for (int hd = 0; hd < s.n_head; ++hd) {
      be.rope(q + t * q_dim + hd * head_k + s.n_nope, 1, s.n_rot, b.positions[start + static_cast<size_t>(t)], s.rope);
    }
  }
  const AttentionParams ap{.n_head = s.n_head,
                           .n_head_kv = s.n_head,
                           .head_dim_k = static_cast<int>(head_k),
                           .head_dim_v = s.head_v,
                           .scale = s.kq_scale,
                           .k_type = type,
                           .v_type = type,
                           .flash = run.flash};
  const int64_t ctx = span.context;
  std::vector<int64_t> batch_row(static_cast<size_t>(ctx), -1);  // position -> micro-batch token, or -1: cached
  for (int64_t t : span.tokens) batch_row[static_cast<size_t>(b.positions[start + static_cast<size_t>(t)])] = t;
  std::vector<float> latent(static_cast<size_t>(ctx * r));      // [ctx, kv_lora_rank]
  std::vector<float> k_pe(static_cast<size_t>(ctx * s.n_rot));   // [ctx, n_rot]
  std::vector<float> row(static_cast<size_t>(row_dim));
  for (int64_t p = 0; p < ctx; ++p) {
    const int64_t t = batch_row[static_cast<size_t>(p)];
    const float* src = row.data();
    if (t >= 0) {
      src = rows + t * row_dim;
    } else {
      dequantize_row(run.cache_type, cache.row(layer, span.seq, static_cast<int>(p)), row.data(), row_dim);
    }
    std::copy(src, src + r, latent.begin() + p * r);
    std::copy(src + r, src + row_dim, k_pe.begin() + p * s.n_rot);
  }
  std::vector<float> kvb(static_cast<size_t>(ctx * kvb_dim));  // [ctx, n_head, nope + head_v]
  be.matmul(w.kv_b, latent.data(), ctx, kvb.data());

  std::vector<uint8_t> keys(static_cast<size_t>(ctx) * k_row_bytes), values(static_cast<size_t>(ctx) * v_row_bytes);
  std::vector<float> key(static_cast<size_t>(head_k));
  for (int64_t p = 0; p < ctx; ++p) {
    for (int hd = 0; hd < s.n_head; ++hd) {
      const float* kv = kvb.data() + p * kvb_dim + static_cast<int64_t>(hd) * (s.n_nope + s.head_v);
      std::copy(kv, kv + s.n_nope, key.begin());
      std::copy(k_pe.begin() + p * s.n_rot, k_pe.begin() + (p + 1) * s.n_rot, key.begin() + s.n_nope);
      store_as(type, key.data(), head_k, keys.data() + p * k_row_bytes + hd * head_k * element);
      store_as(type, kv + s.n_nope, s.head_v, values.data() + p * v_row_bytes + hd * s.head_v * element);
    }
  }
  // Heads in blocks whose K and V over the whole context fit in about 1 MiB (a core's L2), every token of the
  // block's heads before the next block: each head's K and V are its own here (unlike the absorbed form's one
  // shared row), and token by token over all heads would stream them from memory once per token. Heads are
  // independent, so the blocking changes no result.
  const uint64_t head_bytes = static_cast<uint64_t>(ctx) * static_cast<uint64_t>(head_k + s.head_v) * element;
  const uint64_t fit = (uint64_t{1} << 20) / std::max<uint64_t>(head_bytes, 1);
  const int block = static_cast<int>(std::min<uint64_t>(std::max<uint64_t>(fit, 2), static_cast<uint64_t>(s.n_head)));
  std::vector<AttentionRow> queries;
  for (int h0 = 0; h0 < s.n_head; h0 += block) {
    AttentionParams part = ap;
    part.n_head = part.n_head_kv = std::min(block, s.n_head - h0);
    queries.clear();
    for (int64_t t : span.tokens) {
      const int64_t pos = b.positions[start + static_cast<size_t>(t)];
      queries.push_back({q + t * q_dim + h0 * head_k, keys.data() + h0 * head_k * element,
                      values.data() + static_cast<uint64_t>(h0) * s.head_v * element, pos + 1,
                      o + t * s.n_head * s.head_v + static_cast<int64_t>(h0) * s.head_v});
    }
    be.attention(part, queries.data(), static_cast<int64_t>(queries.size()), k_row_bytes, v_row_bytes);
  }
}

}  // namespace

bool mla_expands(const MlaShape& s, const MlaWeights& w, const MlaRun& run, int64_t context,
                 std::span<const int32_t> positions) {
  if (w.kv_b.data == nullptr || run.form == MlaForm::kAbsorbed) return false;
  if (expanded_bytes(s, run.cache_type, context) > kMaxExpandedBytes) return false;
  if (run.form == MlaForm::kExpanded) return true;
  // Multiply-adds per head. Both forms spend m * kv_lora_rank * (nope + head_v) on the m new tokens (absorbing
  // queries and outputs, or rebuilding their K and V); the expanded form also rebuilds every earlier position,
  // and then attends with head_k + head_v values per position instead of 2 * kv_lora_rank + n_rot. So a
  // micro-batch that starts its sequence never costs more expanded. With earlier positions the count can
  // still favour rebuilding (R1: from about 170 new tokens on), but measured on R1's shapes it lost (pp256 at
  // depth 1024: 22.1 tok/s expanded, 26.2 absorbed; docs/MODELS.md): the rebuild's product and fp16
  // conversions over the whole past cost more than the count says. So only a sequence's first micro-batch
  // runs expanded.
  const int64_t past = context - static_cast<int64_t>(positions.size());
  return past == 0;
}

void mla_attention(Backend& be, const MlaShape& s, const MlaWeights& w, const MlaRun& run, MlaCache& cache, int layer,
                   const Batch& b, size_t start, int64_t n, const float* h, float* out) {
  const int64_t r = s.kv_lora_rank;
  const int64_t q_dim = static_cast<int64_t>(s.n_head) * s.head_k();
  const int64_t row_dim = r + s.n_rot;  // one cache row: latent then rope key
  std::vector<float> q(static_cast<size_t>(n * q_dim));                      // [n, n_head, nope + rope]
  std::vector<float> rows(static_cast<size_t>(n * row_dim));                 // [n, kv_lora_rank + n_rot]
  std::vector<float> o(static_cast<size_t>(n * s.n_head * s.head_v));        // [n, n_head, head_v]

  // q = W_q_b rms_norm(W_q_a h) (or W_q h); c_kv, k_pe = W_kv_a h.
  if (s.q_lora_rank > 0) {
    std::vector<float> q_low(static_cast<size_t>(n * s.q_lora_rank));  // [n, q_lora_rank]
    be.matmul(w.q_a, h, n, q_low.data());
    be.rms_norm(q_low.data(), w.q_a_norm, q_low.data(), n, s.q_lora_rank, s.rms_eps);
    be.matmul(w.q_b, q_low.data(), n, q.data());
  } else {
    be.matmul(w.q, h, n, q.data());
  }
  be.matmul(w.kv_a, h, n, rows.data());

  // Cache rows: c_kv normalized (and, for legacy files, rounded as llama.cpp's attn_kv_b product rounds it),
  // k_pe rotated once for all heads.
  for (int64_t t = 0; t < n; ++t) {
    float* row = rows.data() + t * row_dim;
    be.rms_norm(row, w.kv_a_norm, row, 1, r, s.rms_eps);
    round_like_activation(w.latent_rounding, row, r);
    const int64_t pos = b.positions[start + static_cast<size_t>(t)];
    be.rope(row + r, 1, s.n_rot, pos, s.rope);
    cache.store(layer, b.seq_ids[start + static_cast<size_t>(t)], static_cast<int>(pos), row, row + r);
  }

  // Each sequence takes its own form: what it costs depends on its own past, and a sequence's result must not
  // depend on which other sequences share the batch.
  std::vector<int64_t> absorbed;  // micro-batch tokens of the sequences that stay absorbed
  for (const SequenceSpan& span : sequence_spans(b, start, n)) {
    std::vector<int32_t> positions;
    for (int64_t t : span.tokens) positions.push_back(b.positions[start + static_cast<size_t>(t)]);
    if (mla_expands(s, w, run, span.context, positions)) {
      attend_expanded(be, s, w, run, cache, layer, b, start, span, q.data(), rows.data(), o.data());
    } else {
      absorbed.insert(absorbed.end(), span.tokens.begin(), span.tokens.end());
    }
  }
  if (!absorbed.empty()) {
    std::sort(absorbed.begin(), absorbed.end());
    attend_absorbed(be, s, w, run, cache, layer, b, start, absorbed, q.data(), o.data());
  }
  be.matmul(w.wo, o.data(), n, out);
}

}  // namespace r1
