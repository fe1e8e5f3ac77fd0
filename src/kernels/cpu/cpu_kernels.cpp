// CpuKernels: ISA selection, activation quantization, cache blocking over rows, and the decode-to-float path
// for weight types that have no block kernel. The kernels are in cpu_scalar.cpp, avx2/ and avx512/.
#include "cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "check.h"
#include "cpu_features.h"
#include "cpu_kernel_table.h"
#include "error.h"
#include "half.h"
#include "quant_row.h"
#include "thread_pool.h"

namespace r1 {
namespace {

const cpu::KernelTable& table_for(CpuIsa isa) {
  switch (isa) {
#if defined(__x86_64__)
    case CpuIsa::kAvx2: return cpu::avx2_table();
    case CpuIsa::kAvx512: return cpu::avx512_table();
#endif
    default: return cpu::scalar_table();
  }
}

bool cpu_has(const CpuFeatures& f, CpuIsa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case CpuIsa::kScalar: return true;
    case CpuIsa::kAvx2: return f.avx2 && f.fma && f.f16c;
    case CpuIsa::kAvx512: return f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni && f.avx2 && f.fma && f.f16c;
  }
  return false;
#else
  return isa == CpuIsa::kScalar;
#endif
}

bool is_float_type(GgmlType t) { return t == GgmlType::kF32 || t == GgmlType::kF16 || t == GgmlType::kBF16; }

// Rows per cache block when several tokens share the weights: small enough that the block's weight rows
// stay in L1/L2 while the kernel walks every token over them.
constexpr int64_t kRowBlock = 16;

}  // namespace

namespace cpu {
void* thread_scratch(int slot, size_t bytes) {
  constexpr size_t kAlign = 64;
  R1_CHECK(slot >= 0 && slot < 4, "thread_scratch slot out of range");
  thread_local std::vector<unsigned char> buffers[4];
  std::vector<unsigned char>& b = buffers[slot];
  if (b.size() < bytes + kAlign) b.resize(bytes + kAlign);
  const auto p = reinterpret_cast<uintptr_t>(b.data());
  return b.data() + ((kAlign - p % kAlign) % kAlign);
}
}  // namespace cpu

std::string_view cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kScalar: return "scalar";
    case CpuIsa::kAvx2: return "avx2";
    case CpuIsa::kAvx512: return "avx512";
  }
  return "?";
}

CpuKernels CpuKernels::for_isa(CpuIsa isa) { return CpuKernels(isa, &table_for(isa)); }

CpuKernels CpuKernels::scalar() { return for_isa(CpuIsa::kScalar); }

std::vector<CpuIsa> CpuKernels::available(const CpuFeatures& features) {
  std::vector<CpuIsa> out;
  for (CpuIsa isa : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (cpu_has(features, isa)) out.push_back(isa);
  }
  return out;
}

CpuKernels CpuKernels::select(const CpuFeatures& features) { return for_isa(available(features).back()); }

CpuKernels CpuKernels::select(const CpuFeatures& features, std::string_view isa) {
  if (isa.empty() || isa == "auto") return select(features);
  for (CpuIsa candidate : {CpuIsa::kScalar, CpuIsa::kAvx2, CpuIsa::kAvx512}) {
    if (cpu_isa_name(candidate) != isa) continue;
    if (!cpu_has(features, candidate)) throw_error("this CPU cannot run the {} kernels (it has: {})", isa, features.summary());
    return for_isa(candidate);
  }
  throw_error("unknown kernel ISA '{}' (expected scalar, avx2, avx512 or auto)", isa);
}

RepackMode CpuKernels::repack_from_name(std::string_view name) {
  if (name == "auto") return RepackMode::kAuto;
  if (name == "on") return RepackMode::kOn;
  if (name == "off") return RepackMode::kOff;
  throw_error("--repack '{}' is unknown (auto, on or off)", name);
}

uint64_t CpuKernels::packed_bytes(const WeightView& w) const {
  const auto id = static_cast<size_t>(w.type);
  if (id >= cpu::kMaxTypeId || table_->packer[id].pack == nullptr) return 0;
  const int64_t nb = w.cols / static_cast<int64_t>(type_info(w.type).block_size);
  return static_cast<uint64_t>(w.rows / 16) * static_cast<uint64_t>(nb) * table_->packer[id].block_bytes;
}

bool CpuKernels::repack_pays(GgmlType type) const {
  const auto id = static_cast<size_t>(type);
  return id < cpu::kMaxTypeId && table_->packer[id].pack != nullptr && table_->packer[id].pays_at_load;
}

void CpuKernels::pack_rows(const WeightView& w, int64_t group_begin, int64_t group_end, uint8_t* out) const {
  const cpu::RowPacker& p = table_->packer[static_cast<size_t>(w.type)];
  R1_CHECK(p.pack != nullptr && 0 <= group_begin && group_begin <= group_end && group_end <= w.rows / 16);
  R1_CHECK(reinterpret_cast<uintptr_t>(out) % 64 == 0, "packed weight rows must be 64-byte aligned");
  const int64_t nb = w.cols / static_cast<int64_t>(type_info(w.type).block_size);
  const uint64_t group_bytes = static_cast<uint64_t>(nb) * p.block_bytes;
  for (int64_t g = group_begin; g < group_end; ++g) {
    p.pack(w.data + static_cast<uint64_t>(16 * g) * w.row_bytes, w.row_bytes, nb,
           out + static_cast<uint64_t>(g) * group_bytes);
  }
}

bool CpuKernels::supports(GgmlType weight_type) {
  return cpu::scalar_table().find(weight_type) != nullptr ||
         (weight_type != GgmlType::kQ8_1 && activation_type_for(weight_type) != GgmlType::kQ8_1 &&
          can_dequantize(weight_type));
}

bool CpuKernels::has_kernel(GgmlType weight_type) const { return table_->find(weight_type) != nullptr; }

namespace {

// Activation rows [t_begin, t_end) of out (sized by quantize_activations).
void quantize_activation_rows(const cpu::KernelTable& table, const float* x, CpuActivations& out, int64_t t_begin,
                              int64_t t_end) {
  const int64_t cols = out.cols;
  for (int64_t t = t_begin; t < t_end; ++t) {
    const float* xt = x + t * cols;
    uint8_t* dst = out.data.data() + t * out.row_bytes;
    switch (out.type) {
      case GgmlType::kQ8_0:
        if (table.quantize_q8_0 != nullptr) table.quantize_q8_0(xt, dst, cols);
        else quantize_row_q8_0_activations(xt, dst, cols);
        if (out.prepared_row_bytes > 0) table.prepare_q8_0(dst, out.prepared.data() + t * out.prepared_row_bytes, cols);
        break;
      case GgmlType::kQ8_1:
        if (table.quantize_q8_1 != nullptr) table.quantize_q8_1(xt, dst, cols);
        else quantize_row_q8_1_activations(xt, dst, cols);
        break;
      case GgmlType::kQ8_K:
        if (table.quantize_q8_k != nullptr) table.quantize_q8_k(xt, dst, cols);
        else quantize_row_q8_k_activations(xt, dst, cols);
        break;
      case GgmlType::kF16:
        for (int64_t i = 0; i < cols; ++i) {
          const float v = fp16_to_fp32(fp32_to_fp16(xt[i]));
          std::memcpy(dst + 4 * i, &v, 4);
        }
        break;
      case GgmlType::kBF16:
        for (int64_t i = 0; i < cols; ++i) {
          const float v = bf16_to_fp32(fp32_to_bf16(xt[i]));
          std::memcpy(dst + 4 * i, &v, 4);
        }
        break;
      default: std::memcpy(dst, xt, out.row_bytes); break;
    }
  }
}

}  // namespace

void CpuKernels::quantize_activations(GgmlType weight_type, const float* x, int64_t n_tokens, int64_t cols,
                                      CpuActivations& out, ThreadPool* pool) const {
  R1_CHECK(supports(weight_type), "no CPU matmul for this weight type");
  const GgmlType act = activation_type_for(weight_type);
  out.weight_type = weight_type;
  out.type = act;
  out.cols = cols;
  out.n_tokens = n_tokens;
  switch (act) {
    case GgmlType::kQ8_0: R1_CHECK(cols % 32 == 0); out.row_bytes = cols / 32 * cpu::kQ8_0Bytes; break;
    case GgmlType::kQ8_1: R1_CHECK(cols % 32 == 0); out.row_bytes = cols / 32 * cpu::kQ8_1Bytes; break;
    case GgmlType::kQ8_K: R1_CHECK(cols % 256 == 0); out.row_bytes = cols / 256 * cpu::kQ8_KBytes; break;
    default: R1_CHECK(is_float_type(act)); out.row_bytes = static_cast<uint64_t>(cols) * sizeof(float); break;
  }
  // The buffers only grow: an out reused from call to call (the backend's) is not zeroed again each time.
  const auto grow = [](std::vector<uint8_t>& v, uint64_t bytes) {
    if (v.size() < bytes) v.resize(bytes);
  };
  grow(out.data, out.row_bytes * static_cast<uint64_t>(n_tokens));
  // The prompt kernels take calls of four tokens or more with packing on (dot_rows16, avx512_rows16.h).
  const bool prepare = act == GgmlType::kQ8_0 && table_->prepare_q8_0 != nullptr && n_tokens >= 4 && repack_;
  out.prepared_row_bytes = prepare ? static_cast<uint64_t>(cols / 32) * cpu::kPreparedQ8_0Bytes : 0;
  grow(out.prepared, out.prepared_row_bytes * static_cast<uint64_t>(n_tokens));
  if (pool != nullptr && pool->size() > 1 && n_tokens > 1) {
    pool->parallel_range(static_cast<size_t>(n_tokens), 1, [&](size_t begin, size_t end, int) {
      quantize_activation_rows(*table_, x, out, static_cast<int64_t>(begin), static_cast<int64_t>(end));
    });
  } else {
    quantize_activation_rows(*table_, x, out, 0, n_tokens);
  }
  out.decoded.clear();
  if (cpu::scalar_table().find(weight_type) == nullptr) {
    // The decode-to-float path multiplies in float: keep the activations as the dot product sees them.
    out.decoded.resize(static_cast<size_t>(n_tokens * cols));
    for (int64_t t = 0; t < n_tokens; ++t) {
      if (is_float_type(act)) std::memcpy(out.decoded.data() + t * cols, out.data.data() + t * out.row_bytes, out.row_bytes);
      else dequantize_row(act, out.data.data() + t * out.row_bytes, out.decoded.data() + t * cols, cols);
    }
  }
}

void CpuKernels::matmul(const WeightView& w, const CpuActivations& act, float* y, int64_t row_begin,
                        int64_t row_end, const uint8_t* packed) const noexcept {
  R1_DCHECK(act.weight_type == w.type && act.cols == w.cols);
  R1_DCHECK(0 <= row_begin && row_begin <= row_end && row_end <= w.rows);
  if (row_begin >= row_end || act.n_tokens == 0) return;
  cpu::DotFn fn = table_->find(w.type);
  if (fn == nullptr) fn = cpu::scalar_table().find(w.type);
  if (fn == nullptr) {
    // No block kernel: decode each row to float and multiply in double (the reference's way, but without
    // re-rounding the activations per call). dequantize_row cannot fail here: supports() checked the type.
    std::vector<float> row(static_cast<size_t>(w.cols));
    for (int64_t r = row_begin; r < row_end; ++r) {
      dequantize_row(w.type, w.data + static_cast<uint64_t>(r) * w.row_bytes, row.data(), w.cols);
      for (int64_t t = 0; t < act.n_tokens; ++t) {
        const float* a = act.decoded.data() + t * w.cols;
        double s = 0.0;
        for (int64_t i = 0; i < w.cols; ++i) s += static_cast<double>(row[static_cast<size_t>(i)]) * a[i];
        y[t * w.rows + r] = static_cast<float>(s);
      }
    }
    return;
  }
  // One token: stream all rows once. Several tokens: blocks of rows, each multiplied with every token while
  // it is in cache (the kernel's own row count where it blocks its rows itself).
  const int64_t own = fn == table_->find(w.type) ? table_->prompt_rows[static_cast<size_t>(w.type)] : 0;
  const int64_t block = act.n_tokens == 1 ? row_end - row_begin : (own > 0 ? own : kRowBlock);
  for (int64_t r0 = row_begin; r0 < row_end; r0 += block) {
    cpu::DotArgs args;
    args.n = w.cols;
    args.w = w.data + static_cast<uint64_t>(r0) * w.row_bytes;
    args.w_stride = w.row_bytes;
    args.n_rows = std::min(block, row_end - r0);
    args.a = act.data.data();
    args.a_stride = act.row_bytes;
    args.n_tokens = act.n_tokens;
    args.y = y + r0;
    args.y_stride = w.rows;
    args.grouped_tokens = q4_k_grouped_tokens(act.n_tokens);
    args.pack_rows = repack_;
    args.pass_tokens = pass_tokens_;
    // The copy packed at load holds whole groups of sixteen rows from row 0: usable from a group's first row.
    if (packed != nullptr && repack_ && r0 % 16 == 0 && table_->packer[static_cast<size_t>(w.type)].pack != nullptr) {
      const uint64_t group_bytes = static_cast<uint64_t>(w.cols / static_cast<int64_t>(type_info(w.type).block_size)) *
                                   table_->packer[static_cast<size_t>(w.type)].block_bytes;
      args.w_packed = packed + static_cast<uint64_t>(r0 / 16) * group_bytes;
    }
    if (act.prepared_row_bytes > 0) {
      args.a_prepared = act.prepared.data();
      args.a_prepared_stride = act.prepared_row_bytes;
    }
    fn(args);
  }
}

void CpuKernels::matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t row_begin,
                        int64_t row_end) const {
  CpuActivations act;
  quantize_activations(w.type, x, n_tokens, w.cols, act);
  matmul(w, act, y, row_begin, row_end);
}

void CpuKernels::attention(const AttentionParams& p, const float* q, const uint8_t* k, uint64_t k_row_bytes,
                           const uint8_t* v, uint64_t v_row_bytes, int64_t n_kv, float* out, int head_begin,
                           int head_end) const {
  // The SIMD kernels take F16 and Q8_0 caches (Q8_0 rows of whole blocks); F32 caches and the non-flash path
  // run the reference.
  const auto simd_cache = [](GgmlType t, int dim) {
    return (t == GgmlType::kF16 || (t == GgmlType::kQ8_0 && dim % 32 == 0)) && dim <= cpu::kMaxAttentionHeadDim;
  };
  const bool simd = table_->attention_flash != nullptr && p.flash && simd_cache(p.k_type, p.head_dim_k) &&
                    simd_cache(p.v_type, p.head_dim_v);
  if (simd) {
    table_->attention_flash(p, q, k, k_row_bytes, v, v_row_bytes, n_kv, out, head_begin, head_end);
  } else {
    attention_ref(p, q, k, k_row_bytes, v, v_row_bytes, n_kv, out, head_begin, head_end);
  }
}

void CpuKernels::swiglu(const float* gate, const float* up, float* out, int64_t n) const {
  if (table_->swiglu != nullptr) table_->swiglu(gate, up, out, n);
  else swiglu_ref(gate, up, out, n);
}

}  // namespace r1
