// The planner: memory sizing, placement search, roofline speed prediction, verdicts, and their JSON and
// text forms. The model of time per token is written out in docs/PLANNING.md; the constants are in plan_estimate.h.
#include "plan_estimate.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "cpu_features.h"
#include "cpu_kernels.h"
#include "error.h"

namespace r1::plan {
namespace {

// What one device holds and does per token.
struct DeviceLoad {
  double dense_bytes = 0;         // weights read every decode token (all but routed experts)
  double expert_bytes = 0;        // routed-expert bytes read per decode token (used experts only)
  double resident_bytes = 0;      // all weights held (prompt processing reads them once per ubatch)
  double kv_bytes_per_pos = 0;    // KV-cache bytes read per cached position
  double active_params = 0;       // matmul parameters per token
  double attn_flops_per_pos = 0;  // attention FLOPs per token per cached position
  int layers = 0;                 // layers (or expert blocks) it runs, for the per-layer overhead
  bool used() const { return resident_bytes > 0 || layers > 0; }
};

struct Candidate {
  PlacementKind kind = PlacementKind::kNone;
  int gpu_layers = 0;         // the first gpu_layers layers' attention + FFN on the GPU
  int gpu_expert_layers = 0;  // routed experts of the last gpu_expert_layers layers on the GPU
  bool output_on_gpu = false;
};

struct Evaluated {
  Placement placement;
  DeviceLoad gpu, cpu;
  int crossings = 0;  // activation hand-overs between devices per token
  uint64_t compute = 0;
  bool fits = false;
};

// Activation buffers for one forward pass of `ubatch` tokens, F32: the residual stream and a few temporaries
// of width n_embd, the FFN intermediates (gate, up, product), the logits, and one attention score tile.
uint64_t compute_buffer_bytes(const ModelProfile& m, int64_t ubatch) {
  const ModelShapeFacts& s = m.shape;
  const int64_t ff = std::max<int64_t>(s.n_ff, s.n_ff_expert * (s.n_expert_used + 1));
  const double per_token = 6.0 * s.n_embd + 3.0 * ff + s.n_vocab + 256.0 * s.n_head;
  return static_cast<uint64_t>(4.0 * ubatch * per_token);
}

double cpu_bandwidth(const Hardware& hw, const Efficiency& e, bool raw) {
  double bw = hw.ram_bw;
  if (raw) return bw;
  if (!hw.ram_bw_measured) bw *= kSpecToMeasuredBw;
  if (hw.sockets > 1) bw = bw / hw.sockets * (1.0 + e.extra_socket_gain * (hw.sockets - 1));
  return bw;
}

uint64_t ram_capacity(const Hardware& hw) {
  const double reserve = std::max(kRamReserveMin, kRamReserveShare * hw.ram);
  return static_cast<uint64_t>(std::max(0.0, hw.ram - reserve));
}

Evaluated evaluate(const ModelProfile& m, const Hardware& hw, const PlanOptions& o, const Candidate& c) {
  Evaluated ev;
  const int n = m.shape.n_layer;
  const double kv_layer = static_cast<double>(m.kv_bytes_per_token(o.cache_type)) / n;
  const double attn_layer = m.attn_flops_per_position() / n;
  const double frac = m.expert_fraction();
  const int64_t ubatch = std::min<int64_t>(o.n_ubatch, std::max<int64_t>(1, o.n_ctx));
  const uint64_t buffer = compute_buffer_bytes(m, ubatch);
  const bool unified = c.kind == PlacementKind::kUnified;

  // `--repack auto`'s copy of what the CPU multiplies (o.cpu_repack_ratio per type).
  double cpu_copy = 0;
  const auto copy_of = [&o](const BytesByType& types) {
    double bytes = 0;
    for (const auto& [type, n] : types) {
      const auto r = o.cpu_repack_ratio.find(type);
      if (r != o.cpu_repack_ratio.end()) bytes += r->second * static_cast<double>(n);
    }
    return bytes;
  };
  std::vector<bool> on_gpu_sequence;  // device of each step, in order, to count hand-overs
  on_gpu_sequence.push_back(unified);  // token embedding: a row lookup in RAM (or unified memory)
  for (int i = 0; i < n; ++i) {
    const LayerWeights& l = m.layers[static_cast<size_t>(i)];
    const bool layer_gpu = unified || i < c.gpu_layers;
    const bool experts_gpu = unified || (c.kind == PlacementKind::kExpertsInRam ? i >= n - c.gpu_expert_layers
                                                                                 : layer_gpu);
    DeviceLoad& d = layer_gpu ? ev.gpu : ev.cpu;
    if (!layer_gpu) cpu_copy += copy_of(l.dense_types);
    d.dense_bytes += static_cast<double>(l.attn_bytes + l.ffn_bytes);
    d.resident_bytes += static_cast<double>(l.attn_bytes + l.ffn_bytes);
    d.kv_bytes_per_pos += kv_layer;
    d.active_params += static_cast<double>(l.attn_params + l.ffn_params);
    d.attn_flops_per_pos += attn_layer;
    d.layers += 1;
    on_gpu_sequence.push_back(layer_gpu);
    if (l.expert_bytes > 0) {
      DeviceLoad& e = experts_gpu ? ev.gpu : ev.cpu;
      if (!experts_gpu) cpu_copy += copy_of(l.expert_types);
      e.expert_bytes += frac * static_cast<double>(l.expert_bytes);
      e.resident_bytes += static_cast<double>(l.expert_bytes);
      e.active_params += frac * static_cast<double>(l.expert_params);
      if (experts_gpu != layer_gpu) {
        e.layers += 1;
        on_gpu_sequence.push_back(experts_gpu);
        on_gpu_sequence.push_back(layer_gpu);  // the expert output joins the shared expert's on the layer side
      }
    }
  }
  const bool output_gpu = unified || c.output_on_gpu;
  DeviceLoad& out = output_gpu ? ev.gpu : ev.cpu;
  if (!output_gpu) cpu_copy += copy_of(m.output_types);
  out.dense_bytes += static_cast<double>(m.output_bytes);
  out.resident_bytes += static_cast<double>(m.output_bytes);
  out.active_params += static_cast<double>(m.output_params);
  on_gpu_sequence.push_back(output_gpu);
  for (size_t i = 1; i < on_gpu_sequence.size(); ++i) ev.crossings += on_gpu_sequence[i] != on_gpu_sequence[i - 1];
  if (ev.gpu.used() && hw.n_gpu > 1 && !unified) ev.crossings += hw.n_gpu - 1;

  // Memory. The embedding table and anything else loaded but not multiplied stays in RAM (unified: the pool).
  const double host_only = static_cast<double>(m.embed_bytes + m.other_bytes);
  const double kv_gpu = ev.gpu.kv_bytes_per_pos * o.n_ctx, kv_cpu = ev.cpu.kv_bytes_per_pos * o.n_ctx;
  Placement& p = ev.placement;
  p.kind = c.kind;
  p.gpu_layers = unified ? n : c.gpu_layers;
  p.gpu_expert_layers = unified ? n : c.kind == PlacementKind::kExpertsInRam ? c.gpu_expert_layers : c.gpu_layers;
  p.output_on_gpu = output_gpu;
  if (unified) {
    ev.compute = buffer;
    p.gpu_bytes = static_cast<uint64_t>(ev.gpu.resident_bytes + host_only + kv_gpu) + ev.compute;
    const double reserve = std::max(kUnifiedReserveMin, 0.10 * hw.ram);
    p.gpu_capacity = static_cast<uint64_t>(std::max(0.0, hw.ram - reserve));
    p.ram_capacity = p.gpu_capacity;
    ev.fits = p.gpu_bytes <= p.gpu_capacity;
  } else {
    const bool gpu_used = ev.gpu.used();
    const int gpus = gpu_used ? hw.n_gpu : 0;
    const uint64_t gpu_extra = static_cast<uint64_t>(gpus * (static_cast<double>(buffer) + kGpuReserveBytes));
    const uint64_t cpu_extra = ev.cpu.used() ? buffer : 0;
    ev.compute = static_cast<uint64_t>(gpus * static_cast<double>(buffer)) + cpu_extra;
    p.gpu_bytes = gpu_used ? static_cast<uint64_t>(ev.gpu.resident_bytes + kv_gpu) + gpu_extra : 0;
    p.ram_bytes = static_cast<uint64_t>(ev.cpu.resident_bytes + host_only + kv_cpu) + cpu_extra;
    p.gpu_capacity = static_cast<uint64_t>(hw.n_gpu * hw.gpu_mem);
    p.ram_capacity = ram_capacity(hw);
    ev.fits = p.gpu_bytes <= p.gpu_capacity && p.ram_bytes <= p.ram_capacity;
    // The copy is made only where it fits beside everything else (the engine checks free memory so at load).
    const auto copy = static_cast<uint64_t>(cpu_copy);
    if (copy > 0 && ev.fits && p.ram_bytes + copy <= p.ram_capacity) {
      p.ram_bytes += copy;
      p.repack_bytes = copy;
    } else {
      p.repack_left_out = copy;
    }
  }
  return ev;
}

// Seconds for one decode step at `depth` cached positions on one device.
double decode_seconds(const DeviceLoad& d, double bw, double flops, const Efficiency& e, double depth) {
  if (!d.used()) return 0.0;
  const double read = (d.dense_bytes + d.kv_bytes_per_pos * depth) / (bw * e.decode_bw) +
                      d.expert_bytes / (bw * e.decode_bw_moe);
  const double math = (2.0 * d.active_params + d.attn_flops_per_pos * depth) / (flops * e.flops);
  return std::max(read, math) + d.layers * e.layer_overhead_s;
}

struct Speeds {
  double gen0 = 0, gen_ctx = 0, gen_mean = 0, prompt = 0, roofline = 0, bytes_per_token = 0;
};

Speeds predict(const ModelProfile& m, const Hardware& hw, const PlanOptions& o, const Evaluated& ev) {
  const Efficiency ge = o.accel_efficiency.value_or(default_efficiency(hw.accel));
  const Efficiency ce = o.cpu_efficiency.value_or(default_efficiency(AccelKind::kNone));
  const double cpu_bw = cpu_bandwidth(hw, ce, false);
  const double link = hw.n_gpu > 1 && hw.gpu_link_bw > 0 ? hw.gpu_link_bw : std::max(hw.host_link_bw, 1e9);
  const double hand_over = kTransferLatencyS + 4.0 * static_cast<double>(m.shape.n_embd) / link;
  const auto step = [&](double depth) {
    return decode_seconds(ev.gpu, hw.gpu_bw, hw.gpu_flops, ge, depth) +
           decode_seconds(ev.cpu, cpu_bw, hw.cpu_flops, ce, depth) + ev.crossings * hand_over;
  };
  Speeds s;
  s.gen0 = 1.0 / step(0);
  s.gen_ctx = 1.0 / step(static_cast<double>(o.n_ctx));
  // Time per token grows linearly with depth, so the mean over a window of n_ctx tokens is the time at n_ctx/2.
  s.gen_mean = 1.0 / step(o.n_ctx / 2.0);
  const double gpu_read = ev.gpu.dense_bytes + ev.gpu.expert_bytes;
  const double cpu_read = ev.cpu.dense_bytes + ev.cpu.expert_bytes;
  s.bytes_per_token = gpu_read + cpu_read;
  const double limit = (ev.gpu.used() ? gpu_read / hw.gpu_bw : 0.0) + (ev.cpu.used() ? cpu_read / hw.ram_bw : 0.0);
  s.roofline = limit > 0 ? 1.0 / limit : 0.0;

  // Prompt: one ubatch of U tokens starting at depth 0 (mean depth U/2). Each device reads all its weights
  // once per ubatch and does U tokens' FLOPs. Weights in RAM can instead be streamed over PCIe to the GPU
  // (what llama.cpp does for large batches) when that is faster.
  const double u = static_cast<double>(std::min<int64_t>(o.n_ubatch, std::max<int64_t>(1, o.n_ctx)));
  const auto flops_of = [u](const DeviceLoad& d) { return u * (2.0 * d.active_params + d.attn_flops_per_pos * u / 2); };
  double t = 0;
  if (ev.gpu.used()) {
    t += std::max(flops_of(ev.gpu) / (hw.gpu_flops * ge.flops), ev.gpu.resident_bytes / (hw.gpu_bw * ge.decode_bw));
  }
  if (ev.cpu.used()) {
    double cpu_t = std::max(flops_of(ev.cpu) / (hw.cpu_flops * ce.flops), ev.cpu.resident_bytes / (cpu_bw * ce.decode_bw));
    if (hw.n_gpu > 0 && hw.host_link_bw > 0 && !hw.unified) {
      const double streamed = ev.cpu.resident_bytes / hw.host_link_bw + flops_of(ev.cpu) / (hw.gpu_flops * ge.flops);
      cpu_t = std::min(cpu_t, streamed);
    }
    t += cpu_t;
  }
  t += ev.crossings * hand_over;
  s.prompt = t > 0 ? u / t : 0.0;
  return s;
}

std::string describe(const Evaluated& ev, const ModelProfile& m, const Hardware& hw) {
  const Placement& p = ev.placement;
  const int n = m.shape.n_layer;
  const std::string gpus = hw.n_gpu > 1 ? fmt::format("{} GPUs", hw.n_gpu) : "GPU";
  switch (p.kind) {
    case PlacementKind::kAllGpu: return fmt::format("all {} layers and the KV cache on the {}", n, gpus);
    case PlacementKind::kUnified: return fmt::format("all {} layers on the GPU in unified memory", n);
    case PlacementKind::kExpertsInRam:
      return fmt::format("attention, shared experts and KV cache on the {}; routed experts of {} of {} layers "
                         "in RAM ({} on the GPU)",
                         gpus, n - p.gpu_expert_layers, n, p.gpu_expert_layers);
    case PlacementKind::kLayerSplit:
      return fmt::format("{} of {} layers on the {}, {} on the CPU{}", p.gpu_layers, n, gpus, n - p.gpu_layers,
                         p.output_on_gpu ? "" : " (output layer on the CPU)");
    case PlacementKind::kCpuOnly: return "everything in RAM, on the CPU";
    case PlacementKind::kNone: break;
  }
  return "does not fit";
}

}  // namespace

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kUsable: return "usable";
    case Verdict::kSlow: return "slow";
    case Verdict::kTechnicallyRuns: return "technically runs";
    case Verdict::kDoesNotFit: break;
  }
  return "does not fit";
}

Verdict verdict_for(bool fits, double generation_tps) {
  if (!fits) return Verdict::kDoesNotFit;
  if (generation_tps >= kUsableTps) return Verdict::kUsable;
  if (generation_tps >= kRunsTps) return Verdict::kSlow;
  return Verdict::kTechnicallyRuns;
}

std::string_view placement_name(PlacementKind k) {
  switch (k) {
    case PlacementKind::kAllGpu: return "gpu";
    case PlacementKind::kUnified: return "unified";
    case PlacementKind::kExpertsInRam: return "experts_in_ram";
    case PlacementKind::kLayerSplit: return "layer_split";
    case PlacementKind::kCpuOnly: return "cpu";
    case PlacementKind::kNone: break;
  }
  return "none";
}

std::string human_bytes(double bytes) {
  if (bytes >= 1024.0 * kGiB) return fmt::format("{:.2f} TiB", bytes / (1024.0 * kGiB));
  if (bytes >= kGiB) return fmt::format("{:.1f} GiB", bytes / kGiB);
  return fmt::format("{:.0f} MiB", bytes / (1024.0 * 1024.0));
}

std::map<GgmlType, double> repack_ratios_here() {
  const CpuKernels kernels = CpuKernels::select(detect_cpu_features());
  std::map<GgmlType, double> ratios;
  for (const TypeInfo& t : all_types()) {
    if (!t.quantized || !kernels.repack_pays(t.type)) continue;
    // Sixteen rows of one block: the copy's bytes over the file's.
    const WeightView group{.type = t.type, .rows = 16, .cols = t.block_size, .row_bytes = t.type_size};
    ratios[t.type] = static_cast<double>(kernels.packed_bytes(group)) / (16.0 * t.type_size);
  }
  return ratios;
}

PlanResult plan(const ModelProfile& m, const Hardware& hw, const PlanOptions& o) {
  if (o.n_ctx <= 0) throw Error(fmt::format("context length must be positive, got {}", o.n_ctx));
  if (o.n_ubatch <= 0) throw Error(fmt::format("ubatch must be positive, got {}", o.n_ubatch));
  if (hw.ram_bw <= 0 || (hw.n_gpu > 0 && hw.gpu_bw <= 0)) {
    throw Error(fmt::format("hardware '{}' has no memory-bandwidth figure to predict speed from (for this machine: "
                            "let r1 measure it, or give it)", hw.id));
  }
  const int n = m.shape.n_layer;

  // Candidates, best first; the first that fits wins, except that among the GPU/CPU splits the fastest is
  // taken (a layer split can beat experts-in-RAM when most experts fit on the GPU).
  std::vector<Candidate> candidates;
  if (hw.unified) {
    candidates.push_back({.kind = PlacementKind::kUnified});
  } else if (hw.n_gpu > 0) {
    candidates.push_back({.kind = PlacementKind::kAllGpu, .gpu_layers = n, .gpu_expert_layers = n, .output_on_gpu = true});
    if (m.is_moe()) {
      for (int e = n; e >= 0; --e) {  // as many layers' experts on the GPU as fit
        const Candidate c{.kind = PlacementKind::kExpertsInRam, .gpu_layers = n, .gpu_expert_layers = e,
                          .output_on_gpu = true};
        if (evaluate(m, hw, o, c).placement.gpu_bytes <= static_cast<uint64_t>(hw.n_gpu * hw.gpu_mem) || e == 0) {
          candidates.push_back(c);
          break;
        }
      }
    }
    for (bool output_gpu : {true, false}) {
      for (int k = n - 1; k >= 1; --k) {
        const Candidate c{.kind = PlacementKind::kLayerSplit, .gpu_layers = k, .output_on_gpu = output_gpu};
        if (evaluate(m, hw, o, c).placement.gpu_bytes <= static_cast<uint64_t>(hw.n_gpu * hw.gpu_mem)) {
          candidates.push_back(c);
          break;
        }
      }
    }
    candidates.push_back({.kind = PlacementKind::kCpuOnly});
  } else {
    candidates.push_back({.kind = PlacementKind::kCpuOnly});
  }

  PlanResult r;
  r.model = m.name;
  r.quant = m.quant;
  r.hardware = hw.id;
  r.n_ctx = o.n_ctx;
  r.cache_type = std::string(type_info(o.cache_type).name);
  r.n_params = m.n_params();
  r.active_params = m.active_params();

  std::optional<Evaluated> best;
  Speeds best_speed;
  for (const Candidate& c : candidates) {
    Evaluated ev = evaluate(m, hw, o, c);
    if (!ev.fits) continue;
    const Speeds s = predict(m, hw, o, ev);
    if (c.kind == PlacementKind::kAllGpu || c.kind == PlacementKind::kUnified) {
      best = ev;
      best_speed = s;
      break;
    }
    if (!best || s.gen_mean > best_speed.gen_mean) {
      best = ev;
      best_speed = s;
    }
  }

  r.memory.weights = m.weight_bytes();
  r.memory.kv_cache = m.kv_bytes_per_token(o.cache_type) * static_cast<uint64_t>(o.n_ctx);
  if (best) {
    r.fits = true;
    r.placement = best->placement;
    r.placement.description = describe(*best, m, hw);
    r.memory.compute = best->compute;
    r.memory.repack = r.placement.repack_bytes;
    if (r.placement.repack_bytes > 0) {
      r.notes.push_back(fmt::format("`--repack auto` copies {} of matrices for prompts at load (counted in RAM)",
                                    human_bytes(static_cast<double>(r.placement.repack_bytes))));
    } else if (r.placement.repack_left_out > 0) {
      r.notes.push_back(fmt::format("`--repack auto` leaves out its {} copy for prompts (no room): prompts pack "
                                    "weight rows per call",
                                    human_bytes(static_cast<double>(r.placement.repack_left_out))));
    }
    r.prompt_tps = best_speed.prompt;
    r.generation_tps = best_speed.gen0;
    r.generation_tps_at_ctx = best_speed.gen_ctx;
    r.generation_tps_mean = best_speed.gen_mean;
    r.roofline_tps = best_speed.roofline;
    r.bytes_per_token = best_speed.bytes_per_token;
    if (hw.unified && r.placement.gpu_bytes > kAppleDefaultGpuShare * hw.ram) {
      r.notes.push_back(fmt::format("needs more than macOS's default GPU working set (~{:.0f} % of RAM): raise it "
                                    "with `sudo sysctl iogpu.wired_limit_mb=...`",
                                    100 * kAppleDefaultGpuShare));
    }
  } else {
    r.placement.kind = PlacementKind::kNone;
    r.placement.gpu_capacity = static_cast<uint64_t>(hw.unified ? 0 : hw.n_gpu * hw.gpu_mem);
    r.placement.ram_capacity = hw.unified ? static_cast<uint64_t>(hw.ram - std::max(kUnifiedReserveMin, 0.1 * hw.ram))
                                          : ram_capacity(hw);
    r.placement.description = fmt::format(
        "does not fit: needs about {} for weights and KV cache, the machine has {} usable{}",
        human_bytes(static_cast<double>(r.memory.weights + r.memory.kv_cache)),
        human_bytes(static_cast<double>(r.placement.ram_capacity + r.placement.gpu_capacity)),
        hw.unified ? "" : " (GPU + RAM)");
    r.notes.push_back("streaming weights from disk through mmap would run, far below 1 token/s");
    // The physical limit still means something for claims: all weights read once per token at peak.
    const double bw = hw.n_gpu > 0 ? hw.gpu_bw : hw.ram_bw;
    double routed = 0;
    for (const LayerWeights& l : m.layers) routed += static_cast<double>(l.expert_bytes);
    const double bytes = static_cast<double>(m.weight_bytes() - m.embed_bytes - m.other_bytes) -
                         (1.0 - m.expert_fraction()) * routed;
    r.bytes_per_token = bytes;
    r.roofline_tps = bytes > 0 ? bw / bytes : 0;
  }
  r.verdict = verdict_for(r.fits, r.generation_tps_mean);
  if (m.shape.n_ctx_train > 0 && o.n_ctx > m.shape.n_ctx_train) {
    r.notes.push_back(fmt::format("context {} is beyond the {} tokens the model was trained for", o.n_ctx,
                                  m.shape.n_ctx_train));
  }
  if (o.cache_type != GgmlType::kF16 && o.cache_type != GgmlType::kF32 && o.cache_type != GgmlType::kQ8_0) {
    r.notes.push_back("r1's KV cache supports F32, F16 and Q8_0; other cache types are sized but not yet run");
  }
  if (hw.n_gpu > 1 && r.fits && !hw.unified) {
    r.notes.push_back("several GPUs are planned as a layer split (one GPU works at a time in decode)");
  }
  return r;
}

std::optional<std::string> check_claim(const PlanResult& r, double claimed_tps) {
  if (!r.fits) {
    return fmt::format("{} {} does not fit on {}: needs about {}, has {}", r.model, r.quant, r.hardware,
                       human_bytes(static_cast<double>(r.memory.weights + r.memory.kv_cache)),
                       human_bytes(static_cast<double>(r.placement.gpu_capacity + r.placement.ram_capacity)));
  }
  if (claimed_tps > r.roofline_tps) {
    return fmt::format("{:.1f} tok/s is above the memory-bandwidth limit of {:.1f} tok/s ({} read per token at "
                       "peak bandwidth on {})",
                       claimed_tps, r.roofline_tps, human_bytes(r.bytes_per_token), r.hardware);
  }
  return std::nullopt;
}

nlohmann::ordered_json plan_json(const PlanResult& r) {
  nlohmann::ordered_json j;
  j["model"] = r.model;
  j["quant"] = r.quant;
  j["hardware"] = r.hardware;
  j["n_ctx"] = r.n_ctx;
  j["cache_type"] = r.cache_type;
  j["n_params"] = r.n_params;
  j["active_params"] = static_cast<uint64_t>(r.active_params);
  j["memory"] = {{"weights", r.memory.weights},
                 {"kv_cache", r.memory.kv_cache},
                 {"compute", r.memory.compute},
                 {"repack", r.memory.repack},
                 {"total", r.memory.total()}};
  j["fits"] = r.fits;
  j["placement"] = {{"kind", placement_name(r.placement.kind)},
                    {"description", r.placement.description},
                    {"gpu_layers", r.placement.gpu_layers},
                    {"gpu_expert_layers", r.placement.gpu_expert_layers},
                    {"output_on_gpu", r.placement.output_on_gpu},
                    {"gpu_bytes", r.placement.gpu_bytes},
                    {"ram_bytes", r.placement.ram_bytes},
                    {"repack_bytes", r.placement.repack_bytes},
                    {"gpu_capacity", r.placement.gpu_capacity},
                    {"ram_capacity", r.placement.ram_capacity}};
  j["prompt_tps"] = r.prompt_tps;
  j["generation_tps"] = r.generation_tps;
  j["generation_tps_at_ctx"] = r.generation_tps_at_ctx;
  j["generation_tps_mean"] = r.generation_tps_mean;
  j["roofline_tps"] = r.roofline_tps;
  j["bytes_per_token"] = r.bytes_per_token;
  j["verdict"] = verdict_name(r.verdict);
  j["notes"] = r.notes;
  return j;
}

std::string plan_table(const std::vector<PlanResult>& results) {
  std::string out = fmt::format("{:<18} {:<10} {:>9} {:>9} {:<15} {:>9} {:>8} {:>9} {:>9}  {}\n", "model", "quant",
                                "weights", "kv", "placement", "prompt/s", "gen/s", "gen@ctx", "limit", "verdict");
  for (const PlanResult& r : results) {
    std::string model = r.model;
    if (model.size() > 18) model = "..." + model.substr(model.size() - 15);
    const auto rate = [&r](double v) { return r.fits ? fmt::format("{:.1f}", v) : std::string("-"); };
    out += fmt::format("{:<18} {:<10} {:>9} {:>9} {:<15} {:>9} {:>8} {:>9} {:>9}  {}\n", model, r.quant,
                       human_bytes(static_cast<double>(r.memory.weights)),
                       human_bytes(static_cast<double>(r.memory.kv_cache)), placement_name(r.placement.kind),
                       rate(r.prompt_tps), rate(r.generation_tps), rate(r.generation_tps_at_ctx),
                       fmt::format("{:.1f}", r.roofline_tps), verdict_name(r.verdict));
  }
  return out;
}

void rank_results(std::vector<PlanResult>& results) {
  std::stable_sort(results.begin(), results.end(), [](const PlanResult& a, const PlanResult& b) {
    if (a.verdict != b.verdict) return static_cast<int>(a.verdict) < static_cast<int>(b.verdict);
    if (a.n_params != b.n_params) return a.n_params > b.n_params;
    return a.memory.weights > b.memory.weights;
  });
}

}  // namespace r1::plan
