// `r1 plan` decisions: placement on a few machines, verdict thresholds, physical-limit checks, JSON fields,
// and detection of this machine.
#include <gtest/gtest.h>

#include <algorithm>

#include "cpu_features.h"
#include "cpu_kernels.h"
#include "error.h"
#include "hardware_catalog.h"
#include "model_catalog.h"
#include "plan_estimate.h"

namespace r1::plan {
namespace {

PlanResult plan_for(std::string_view model, std::string_view quant, std::string_view hardware, int64_t ctx = 8192) {
  const CatalogModel* m = find_model(model);
  const QuantRecipe* r = find_recipe(quant);
  const Hardware* h = find_hardware(hardware);
  EXPECT_TRUE(m && r && h) << model << " " << quant << " " << hardware;
  PlanOptions o;
  o.n_ctx = ctx;
  return plan(profile_from_catalog(*m, *r), *h, o);
}

TEST(PlanPlacement, SevenBillionQ4FitsAnRtx4090) {
  const PlanResult r = plan_for("deepseek-r1:7b", "Q4_K_M", "rtx4090");
  EXPECT_TRUE(r.fits);
  EXPECT_EQ(r.placement.kind, PlacementKind::kAllGpu);
  EXPECT_EQ(r.placement.gpu_layers, 28);
  EXPECT_LE(r.placement.gpu_bytes, r.placement.gpu_capacity);
  EXPECT_EQ(r.verdict, Verdict::kUsable);
  EXPECT_GT(r.generation_tps, 60.0);
  EXPECT_LT(r.generation_tps, r.roofline_tps);  // never above the bandwidth limit
}

TEST(PlanPlacement, R1At158BitsDoesNotFitA4090ButRunsWithExpertsInRamOnAnEpyc) {
  const PlanResult desktop = plan_for("671b", "UD-IQ1_S", "rtx4090");
  EXPECT_FALSE(desktop.fits);  // ~128 GiB of weights against 24 GiB VRAM + 64 GiB RAM
  EXPECT_EQ(desktop.verdict, Verdict::kDoesNotFit);
  EXPECT_EQ(desktop.placement.kind, PlacementKind::kNone);

  const PlanResult server = plan_for("671b", "UD-IQ1_S", "epyc-rtx4090");
  EXPECT_TRUE(server.fits);
  EXPECT_EQ(server.placement.kind, PlacementKind::kExpertsInRam);
  EXPECT_EQ(server.placement.gpu_layers, 61);
  EXPECT_LT(server.placement.gpu_expert_layers, 61);
  EXPECT_LE(server.placement.gpu_bytes, server.placement.gpu_capacity);
  EXPECT_GT(server.placement.ram_bytes, 100 * kGiB);
  EXPECT_NE(server.verdict, Verdict::kDoesNotFit);

  const PlanResult cpu = plan_for("671b", "UD-IQ1_S", "epyc-1s");
  EXPECT_TRUE(cpu.fits);
  EXPECT_EQ(cpu.placement.kind, PlacementKind::kCpuOnly);
  // Attention and the shared expert on the GPU beat the CPU alone.
  EXPECT_GT(server.generation_tps, cpu.generation_tps);
}

TEST(PlanPlacement, LargeDenseModelsSplitLayers) {
  const PlanResult r = plan_for("70b", "Q4_K_M", "rtx4090");
  EXPECT_TRUE(r.fits);
  EXPECT_EQ(r.placement.kind, PlacementKind::kLayerSplit);
  EXPECT_GT(r.placement.gpu_layers, 20);
  EXPECT_LT(r.placement.gpu_layers, 80);
  EXPECT_NE(r.verdict, Verdict::kUsable);
  // 32B Q4_K_M fits a 24 GB card at 4k context.
  const PlanResult q32 = plan_for("32b", "Q4_K_M", "rtx4090", 4096);
  EXPECT_EQ(q32.placement.kind, PlacementKind::kAllGpu);
  // Two H100s hold the 1.58-bit 671B model whole; one does not.
  EXPECT_EQ(plan_for("671b", "UD-IQ1_S", "2xh100").placement.kind, PlacementKind::kAllGpu);
  EXPECT_NE(plan_for("671b", "UD-IQ1_S", "h100").placement.kind, PlacementKind::kAllGpu);
}

TEST(PlanPlacement, UnifiedMemory) {
  const PlanResult big = plan_for("671b", "Q4_K_M", "m3ultra-512");
  EXPECT_TRUE(big.fits);
  EXPECT_EQ(big.placement.kind, PlacementKind::kUnified);
  const PlanResult small = plan_for("671b", "Q4_K_M", "m2ultra-192");
  EXPECT_FALSE(small.fits);
  EXPECT_EQ(plan_for("70b", "Q4_K_M", "m4max-128").placement.kind, PlacementKind::kUnified);
}

TEST(PlanPlacement, VerdictThresholds) {
  EXPECT_EQ(verdict_for(true, kUsableTps), Verdict::kUsable);
  EXPECT_EQ(verdict_for(true, 29.99), Verdict::kSlow);
  EXPECT_EQ(verdict_for(true, kRunsTps), Verdict::kSlow);
  EXPECT_EQ(verdict_for(true, 4.99), Verdict::kTechnicallyRuns);
  EXPECT_EQ(verdict_for(false, 1000), Verdict::kDoesNotFit);
  EXPECT_EQ(verdict_name(Verdict::kTechnicallyRuns), "technically runs");
  EXPECT_EQ(verdict_name(Verdict::kDoesNotFit), "does not fit");
}

TEST(PlanPlacement, LongContextsCostMemoryAndSpeed) {
  const PlanResult short_ctx = plan_for("7b", "Q4_K_M", "rtx4090", 4096);
  const PlanResult long_ctx = plan_for("7b", "Q4_K_M", "rtx4090", 32768);
  EXPECT_EQ(long_ctx.memory.kv_cache, 8 * short_ctx.memory.kv_cache);
  EXPECT_EQ(long_ctx.memory.kv_cache, 32768ull * 2 * 28 * 4 * 128 * 2);
  EXPECT_DOUBLE_EQ(long_ctx.generation_tps, short_ctx.generation_tps);  // empty context: same
  EXPECT_LT(long_ctx.generation_tps_at_ctx, short_ctx.generation_tps_at_ctx);
  EXPECT_LT(long_ctx.generation_tps_mean, long_ctx.generation_tps);
  EXPECT_GT(long_ctx.generation_tps_mean, long_ctx.generation_tps_at_ctx);
  // The latent cache keeps 671B's KV small: 64k tokens in ~4.3 GiB at F16.
  EXPECT_EQ(plan_for("671b", "UD-IQ1_S", "2xh100", 65536).memory.kv_cache, 65536ull * 61 * 576 * 2);
}

TEST(PlanPlacement, ClaimsBeyondPhysicsAreFlagged) {
  // A 70B 4-bit model at 100 tok/s on a 546 GB/s laptop: ~40 GB per token allows ~13 tok/s.
  const PlanResult laptop = plan_for("70b", "Q4_K_M", "m4max-128");
  EXPECT_LT(laptop.roofline_tps, 15.0);
  const auto broken = check_claim(laptop, 100);
  ASSERT_TRUE(broken.has_value());
  EXPECT_NE(broken->find("bandwidth"), std::string::npos) << *broken;
  EXPECT_FALSE(check_claim(laptop, 8).has_value());
  // A 4-bit 671B (~400 GB) in 192 GB.
  const auto no_fit = check_claim(plan_for("671b", "Q4_K_M", "m2ultra-192"), 1);
  ASSERT_TRUE(no_fit.has_value());
  EXPECT_NE(no_fit->find("does not fit"), std::string::npos) << *no_fit;
}

TEST(PlanPlacement, JsonHasTheDocumentedFields) {
  const nlohmann::ordered_json j = plan_json(plan_for("14b", "Q4_K_M", "rtx3090"));
  for (const char* key : {"model", "quant", "hardware", "memory", "fits", "placement", "prompt_tps", "generation_tps",
                          "verdict", "roofline_tps", "generation_tps_at_ctx", "n_ctx", "cache_type"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  for (const char* key : {"weights", "kv_cache", "compute", "repack", "total"}) {
    EXPECT_TRUE(j["memory"][key].is_number()) << key;
  }
  EXPECT_EQ(j["model"], "deepseek-r1:14b");
  EXPECT_EQ(j["quant"], "Q4_K_M");
  EXPECT_EQ(j["hardware"], "rtx3090");
  EXPECT_EQ(j["fits"], true);
  EXPECT_EQ(j["placement"]["kind"], "gpu");
  EXPECT_TRUE(j["verdict"].is_string());
  EXPECT_EQ(j["memory"]["total"].get<uint64_t>(), j["memory"]["weights"].get<uint64_t>() +
                                                      j["memory"]["kv_cache"].get<uint64_t>() +
                                                      j["memory"]["compute"].get<uint64_t>());
}

TEST(PlanPlacement, EfficiencyOverridesScaleThePrediction) {
  const CatalogModel& m = *find_model("14b");
  const ModelProfile p = profile_from_catalog(m, *find_recipe("Q4_K_M"));
  PlanOptions o;
  const PlanResult base = plan(p, *find_hardware("rtx4090"), o);
  Efficiency e = default_efficiency(AccelKind::kCuda);
  e.update_from_json(nlohmann::json{{"decode_bw", 0.9}, {"layer_overhead_s", 0.0}, {"source", "test"}});
  o.accel_efficiency = e;
  const PlanResult fast = plan(p, *find_hardware("rtx4090"), o);
  EXPECT_GT(fast.generation_tps, base.generation_tps);
  EXPECT_LE(fast.generation_tps, fast.roofline_tps);
  EXPECT_THROW(e.update_from_json(nlohmann::json{{"decode_bw", 1.5}}), Error);
  EXPECT_THROW(e.update_from_json(nlohmann::json{{"flops", "fast"}}), Error);
}

TEST(PlanPlacement, CatalogRowsAreComplete) {
  EXPECT_GE(hardware_catalog().size(), 20u);
  for (const Hardware& h : hardware_catalog()) {
    EXPECT_GT(h.ram, 0) << h.id;
    EXPECT_GT(h.ram_bw, 0) << h.id;
    EXPECT_GT(h.cpu_flops, 0) << h.id;
    EXPECT_FALSE(h.basis.empty()) << h.id;
    if (h.n_gpu > 0) {
      EXPECT_GT(h.gpu_mem, 0) << h.id;
      EXPECT_GT(h.gpu_bw, 0) << h.id;
      EXPECT_GT(h.gpu_flops, 0) << h.id;
      EXPECT_TRUE(h.unified || h.host_link_bw > 0) << h.id;
    }
    EXPECT_EQ(find_hardware(h.id), &h);
  }
  EXPECT_EQ(find_hardware("RTX4090"), find_hardware("rtx4090"));
  EXPECT_EQ(find_hardware("nope"), nullptr);
  EXPECT_EQ(find_model("DeepSeek-R1-Distill-Qwen-7B"), find_model("deepseek-r1:7b"));
}

// `--repack auto`'s copy of the CPU's matrices for prompts: counted in RAM where it fits beside the rest, left out
// with a note where it does not, and not made for what runs on a GPU.
TEST(PlanPlacement, TheCpusPromptWeightCopyIsCountedWhereItFits) {
  const ModelProfile p = profile_from_catalog(*find_model("7b"), *find_recipe("Q8_0"));
  const double ratio = 576.0 / 544.0;  // AVX-512's sixteen-row Q8_0 layout
  const auto q8_0_of = [](const BytesByType& types) {
    const auto it = types.find(GgmlType::kQ8_0);
    return it == types.end() ? uint64_t{0} : it->second;
  };
  uint64_t q8_0 = q8_0_of(p.output_types);
  for (const LayerWeights& l : p.layers) q8_0 += q8_0_of(l.dense_types);
  ASSERT_GT(q8_0, p.weight_bytes() / 2);  // a Q8_0 file is mostly Q8_0 matrices
  // By type, the bytes add up to the roles' totals; with tied embeddings (no output.weight) the output side holds
  // the embedding's type.
  const auto total = [](const BytesByType& types) {
    uint64_t n = 0;
    for (const auto& [type, bytes] : types) n += bytes;
    return n;
  };
  const ModelProfile tied = profile_from_tensors(
      "tied", "mixed", catalog_shape(*find_model("1.5b")),
      {{"token_embd.weight", 1000, 1064, GgmlType::kQ8_0}, {"output_norm.weight", 10, 40, GgmlType::kF32},
       {"blk.0.attn_q.weight", 100, 200, GgmlType::kF16}, {"blk.0.ffn_up.weight", 320, 340, GgmlType::kQ8_0}});
  EXPECT_EQ(tied.output_types.at(GgmlType::kQ8_0), 1064u);
  EXPECT_EQ(tied.layers[0].dense_types.at(GgmlType::kQ8_0), 340u);
  for (const ModelProfile& m : {p, tied}) {
    EXPECT_EQ(total(m.output_types), m.output_bytes) << m.name;
    for (const LayerWeights& l : m.layers) {
      EXPECT_EQ(total(l.dense_types), l.attn_bytes + l.ffn_bytes) << m.name;
      EXPECT_EQ(total(l.expert_types), l.expert_bytes) << m.name;
    }
  }
  PlanOptions o;
  o.n_ctx = 4096;
  const PlanResult without = plan(p, *find_hardware("epyc-1s"), o);
  o.cpu_repack_ratio = {{GgmlType::kQ8_0, ratio}};
  const PlanResult with = plan(p, *find_hardware("epyc-1s"), o);
  ASSERT_TRUE(with.fits);
  EXPECT_EQ(without.memory.repack, 0u);
  EXPECT_NEAR(static_cast<double>(with.memory.repack), ratio * static_cast<double>(q8_0), 1.0);
  EXPECT_EQ(with.placement.ram_bytes, without.placement.ram_bytes + with.memory.repack);
  EXPECT_EQ(with.memory.total(), without.memory.total() + with.memory.repack);
  EXPECT_EQ(plan_json(with)["memory"]["repack"].get<uint64_t>(), with.memory.repack);
  const auto mentions = [](const PlanResult& r, std::string_view what) {
    return std::any_of(r.notes.begin(), r.notes.end(), [&](const std::string& n) { return n.find(what) != n.npos; });
  };
  EXPECT_TRUE(mentions(with, "copies"));
  EXPECT_FALSE(mentions(without, "--repack"));

  // RAM for the weights and cache but not for the copy too: the model still fits, without the copy.
  Hardware tight = *find_hardware("epyc-1s");
  tight.ram = static_cast<double>(without.placement.ram_bytes + with.memory.repack / 2) + kRamReserveMin;
  ASSERT_LT(kRamReserveShare * tight.ram, kRamReserveMin);  // so the usable RAM is tight.ram - kRamReserveMin
  const PlanResult squeezed = plan(p, tight, o);
  EXPECT_TRUE(squeezed.fits);
  EXPECT_EQ(squeezed.memory.repack, 0u);
  EXPECT_GT(squeezed.placement.repack_left_out, 0u);
  EXPECT_TRUE(mentions(squeezed, "leaves out"));

  // On a GPU the CPU multiplies nothing, so there is nothing to copy.
  const PlanResult gpu = plan(p, *find_hardware("rtx4090"), o);
  EXPECT_EQ(gpu.placement.kind, PlacementKind::kAllGpu);
  EXPECT_EQ(gpu.memory.repack, 0u);
  EXPECT_EQ(gpu.placement.repack_left_out, 0u);
}

// This machine's ratios come from its kernels: the copy of each type auto copies, per byte of the file.
TEST(PlanPlacement, RepackRatiosFollowThisMachinesKernels) {
  const CpuKernels kernels = CpuKernels::select(detect_cpu_features());
  const std::map<GgmlType, double> ratios = repack_ratios_here();
  for (const TypeInfo& t : all_types()) {
    EXPECT_EQ(ratios.count(t.type) == 1, t.quantized && kernels.repack_pays(t.type)) << t.name;
  }
  if (kernels.repack_pays(GgmlType::kQ8_0)) {
    EXPECT_DOUBLE_EQ(ratios.at(GgmlType::kQ8_0), 576.0 / 544.0);
  }
  for (const auto& [type, ratio] : ratios) EXPECT_GE(ratio, 1.0) << type_info(type).name;
}

TEST(PlanPlacement, ThisMachineIsDetected) {
  const Hardware h = detect_this_machine(DetectOptions{.buffer_bytes = 64ull << 20});
  EXPECT_EQ(h.id, "this");
  EXPECT_GT(h.cpu_cores, 0);
  EXPECT_GT(h.ram, 256.0 * 1024 * 1024);
  EXPECT_TRUE(h.ram_bw_measured);
  EXPECT_GT(h.ram_bw, 0.5 * kGB);
  EXPECT_FALSE(h.isa.empty());
  EXPECT_NE(h.basis.find("RAM"), std::string::npos);
  // The smallest model at 2-bit fits any machine that runs these tests.
  PlanOptions o;
  o.n_ctx = 2048;
  const PlanResult r = plan(profile_from_catalog(*find_model("1.5b"), *find_recipe("Q2_K")), h, o);
  EXPECT_TRUE(r.fits);
  EXPECT_GT(r.generation_tps, 0);
}

}  // namespace
}  // namespace r1::plan
