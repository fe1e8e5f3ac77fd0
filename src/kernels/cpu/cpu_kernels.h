// The CPU kernels' public face: a dispatch object chosen once from r1::CpuFeatures (or forced to an ISA for
// tests) whose matmul has the contract of matmul_ref (ref_matmul.h). Activations are quantized once per
// call to the format llama.cpp pairs with the weight type; each weight row is then multiplied block by block
// as stored in the file (integer dot products for the quantized formats). Threading and the choice of row
// ranges are the caller's (the backend); this object is immutable and safe to share between threads.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "ref_matmul.h"
#include "ref_ops.h"
#include "type_table.h"

namespace r1 {

struct CpuFeatures;
namespace cpu {
struct KernelTable;
}
class ThreadPool;

enum class CpuIsa { kScalar, kAvx2, kAvx512 };
enum class RepackMode { kOff, kAuto, kOn };
std::string_view cpu_isa_name(CpuIsa isa);

// Activations of one matmul, quantized once and shared by every row range (and thread) of that matmul.
// data: [n_tokens, row_bytes] at its start (the vectors only grow, so a reused one may hold more); for
// F32/F16/BF16 weights the rows hold float32 values rounded to that format.
struct CpuActivations {
  GgmlType weight_type = GgmlType::kF32;
  GgmlType type = GgmlType::kF32;  // activation_type_for(weight_type)
  int64_t cols = 0;
  int64_t n_tokens = 0;
  uint64_t row_bytes = 0;
  std::vector<uint8_t> data;
  // The same rows in the kernels' prepared layout, where the ISA has one for this activation type and the
  // prompt kernels will read it (several tokens, packing on); prepared_row_bytes is 0 otherwise.
  std::vector<uint8_t> prepared;
  uint64_t prepared_row_bytes = 0;
  // Only for weight types with no integer kernel: the activations as the dot product sees them, in float.
  std::vector<float> decoded;
};

class CpuKernels {
 public:
  // The best ISA the features allow.
  static CpuKernels select(const CpuFeatures& features);
  // A named ISA ("scalar", "avx2", "avx512"); throws r1::Error when the name is unknown or the CPU lacks it.
  static CpuKernels select(const CpuFeatures& features, std::string_view isa);
  static CpuKernels scalar();
  // Every ISA this CPU can run, scalar first (for tests and benchmarks).
  static std::vector<CpuIsa> available(const CpuFeatures& features);
  static CpuKernels for_isa(CpuIsa isa);  // the caller has checked available()
  // A table this CPU may lack the instructions for, built by the caller: the tests run the AVX-512 kernels
  // emulated this way (avx512_vec.h).
  static CpuKernels with_table(CpuIsa isa, const cpu::KernelTable& table) { return CpuKernels(isa, &table); }

  CpuIsa isa() const { return isa_; }

  // `--repack`: prompt-sized calls read weight rows in the prompt kernels' packed layout, packed once at load
  // (PackedWeights) or, where there is no such copy, per call into a per-thread buffer. off: every call on the
  // file's layout. auto packs at load only what pays, when the copy fits in free memory (cpu_repack.h).
  static RepackMode repack_from_name(std::string_view name);  // throws r1::Error on an unknown name
  void set_repack(RepackMode mode) { repack_ = mode != RepackMode::kOff; }
  bool repack() const { return repack_; }
  // Bytes of w's rows in this ISA's packed prompt layout: whole groups of sixteen rows (the rest stay on the
  // file's layout). 0 where the ISA has no packed layout for w's type.
  uint64_t packed_bytes(const WeightView& w) const;
  // Whether prompts on that copy were measured to beat packing per call (what `--repack auto` copies).
  bool repack_pays(GgmlType type) const;
  // Groups [group_begin, group_end) of sixteen rows of w into out (packed_bytes(w) bytes from group 0 on,
  // 64-byte aligned); a matmul given the copy reads it instead of packing per call, with the same bits.
  void pack_rows(const WeightView& w, int64_t group_begin, int64_t group_end, uint8_t* out) const;
  // Tests: the most tokens the packed prompt kernels take per pass over the rows (0: their cache budget
  // decides), so that the passes can be exercised on small shapes.
  void set_pass_tokens(int64_t n) { pass_tokens_ = n; }
  std::string_view isa_name() const { return cpu_isa_name(isa_); }

  // True when matmul can handle this weight type at all, and when it has a block kernel for it in this ISA
  // (otherwise a slow decode-to-float path runs).
  static bool supports(GgmlType weight_type);
  bool has_kernel(GgmlType weight_type) const;

  // x: [n_tokens, cols] row-major, cols a multiple of the weight type's block size. With a pool, the
  // tokens are quantized in parallel (the same bits: each row is quantized on its own).
  void quantize_activations(GgmlType weight_type, const float* x, int64_t n_tokens, int64_t cols,
                            CpuActivations& out, ThreadPool* pool = nullptr) const;

  // y[t, r] for rows [row_begin, row_end): y: [n_tokens, w.rows] row-major. act must come from
  // quantize_activations for w.type and w.cols. packed: null, or all of w's rows as pack_rows writes them.
  void matmul(const WeightView& w, const CpuActivations& act, float* y, int64_t row_begin, int64_t row_end,
              const uint8_t* packed = nullptr) const noexcept;
  // Same as matmul_ref: quantizes x, then multiplies.
  void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, int64_t row_begin, int64_t row_end) const;

  // attention_ref's contract and results for heads [head_begin, head_end); a SIMD kernel where this ISA has
  // one for the parameters (flash attention over an F16 cache), else attention_ref itself.
  void attention(const AttentionParams& p, const float* q, const uint8_t* k, uint64_t k_row_bytes, const uint8_t* v,
                 uint64_t v_row_bytes, int64_t n_kv, float* out, int head_begin, int head_end) const;

  // swiglu_ref's contract; this ISA's SIMD version (within a few ulp of it) where there is one.
  void swiglu(const float* gate, const float* up, float* out, int64_t n) const;

 private:
  CpuKernels(CpuIsa isa, const cpu::KernelTable* table) : isa_(isa), table_(table) {}
  CpuIsa isa_;
  const cpu::KernelTable* table_;
  bool repack_ = true;
  int64_t pass_tokens_ = 0;
};

}  // namespace r1
