// `r1 plan [--hardware ID] [--model NAME|FILE]... [--quant Q]... [--ctx N] [--json]`: what fits on this (or a
// named) machine, with which placement, and how fast. The planning itself is in src/tools/plan_estimate.h.
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include <fmt/format.h>

#include "bench_runner.h"
#include "commands.h"
#include "error.h"
#include "gguf_set.h"
#include "hardware_catalog.h"
#include "model_catalog.h"
#include "plan_calibrate.h"
#include "plan_estimate.h"
#include "synth_model.h"
#include "thread_pool.h"

namespace r1::cli {

namespace {

struct PlanArgs {
  std::string hardware = "this";
  std::vector<std::string> models;
  std::vector<std::string> quants;
  int64_t ctx = 8192;
  std::string cache_type = "f16";
  bool json = false;
  bool list = false;
  bool calibrate = false;
  bool no_measure = false;
  double claim = 0;
  double bandwidth_gbs = 0;
  std::string efficiency_file;
  std::string save;  // --calibrate: where the fitted factors go (default: default_efficiency_path())
  int threads = 0;   // --calibrate: benchmark threads (0: one per physical core)
};

plan::Hardware resolve_hardware(const PlanArgs& args, CliContext& ctx) {
  if (args.hardware == "this" || args.hardware.empty()) {
    const bool measure = !args.no_measure && args.bandwidth_gbs <= 0;
    ctx.log.info("detecting this machine{}", measure ? " (measuring read bandwidth)" : "");
    plan::Hardware h = plan::detect_this_machine(plan::DetectOptions{.measure_bandwidth = measure});
    if (args.bandwidth_gbs > 0) {
      h.ram_bw = args.bandwidth_gbs * plan::kGB;
      h.ram_bw_measured = true;
      h.basis += fmt::format("; read bandwidth {:.1f} GB/s given with --bandwidth", args.bandwidth_gbs);
    }
    return h;
  }
  if (const plan::Hardware* h = plan::find_hardware(args.hardware)) return *h;
  std::string ids;
  for (const plan::Hardware& h : plan::hardware_catalog()) ids += (ids.empty() ? "" : ", ") + h.id;
  throw Error(fmt::format("unknown hardware '{}' (known: this, {})", args.hardware, ids));
}

bool looks_like_file(const std::string& s) {
  return s.ends_with(".gguf") || s.find('/') != std::string::npos || std::filesystem::exists(s);
}

// The profiles to plan: catalog models at the requested (or all sensible) quantizations, or GGUF files.
std::vector<plan::ModelProfile> resolve_models(const PlanArgs& args, CliContext& ctx) {
  std::vector<plan::ModelProfile> out;
  const auto add_catalog = [&](const plan::CatalogModel& m) {
    if (args.quants.empty()) {
      for (const plan::QuantRecipe* r : plan::recipes_for(m)) out.push_back(plan::profile_from_catalog(m, *r));
      return;
    }
    for (const std::string& q : args.quants) {
      const plan::QuantRecipe* r = plan::find_recipe(q);
      if (r == nullptr) {
        std::string names;
        for (const plan::QuantRecipe& x : plan::quant_recipes()) names += (names.empty() ? "" : ", ") + std::string(x.name);
        throw Error(fmt::format("unknown quantization '{}' (known: {})", q, names));
      }
      if (r->moe_only && !m.is_moe()) {
        ctx.log.warn("{} is a recipe for mixture-of-experts models; skipped for {}", r->name, m.id);
        continue;
      }
      out.push_back(plan::profile_from_catalog(m, *r));
    }
  };
  if (args.models.empty()) {
    for (const plan::CatalogModel& m : plan::model_catalog()) add_catalog(m);
    return out;
  }
  for (const std::string& name : args.models) {
    if (const plan::CatalogModel* m = plan::find_model(name)) {
      add_catalog(*m);
    } else if (looks_like_file(name)) {
      if (!args.quants.empty()) ctx.log.warn("--quant is ignored for a file: {} is planned as it is", name);
      out.push_back(plan::profile_from_gguf(GgufSet::open(name)));
    } else {
      std::string ids;
      for (const plan::CatalogModel& x : plan::model_catalog()) ids += (ids.empty() ? "" : ", ") + std::string(x.id);
      throw Error(fmt::format("unknown model '{}': not a file and not in the catalog ({})", name, ids));
    }
  }
  return out;
}

// For `r1 plan` with no model: per model the quantization worth recommending — among those with the best
// verdict, the most precise when that verdict is "usable", the smallest when nothing fits, else the fastest —
// then the models ranked.
std::vector<plan::PlanResult> best_per_model(const std::vector<plan::PlanResult>& all) {
  std::map<std::string, const plan::PlanResult*> pick;
  std::vector<std::string> order;
  for (const plan::PlanResult& r : all) {
    auto [it, fresh] = pick.try_emplace(r.model, &r);
    if (fresh) {
      order.push_back(r.model);
      continue;
    }
    const plan::PlanResult& b = *it->second;
    bool better = false;
    if (r.verdict != b.verdict) better = static_cast<int>(r.verdict) < static_cast<int>(b.verdict);
    else if (r.verdict == plan::Verdict::kUsable) better = r.memory.weights > b.memory.weights;
    else if (r.verdict == plan::Verdict::kDoesNotFit) better = r.memory.weights < b.memory.weights;
    else better = r.generation_tps_mean > b.generation_tps_mean;
    if (better) it->second = &r;
  }
  std::vector<plan::PlanResult> best;
  for (const std::string& m : order) best.push_back(*pick[m]);
  plan::rank_results(best);
  return best;
}

std::string list_catalogs() {
  std::string out = "hardware:\n";
  for (const plan::Hardware& h : plan::hardware_catalog()) {
    out += fmt::format("  {:<14} {:<48} {}\n", h.id, h.name,
                       h.n_gpu > 0 ? fmt::format("{} x {:.0f} GiB @ {:.0f} GB/s, RAM {:.0f} GiB @ {:.0f} GB/s", h.n_gpu,
                                                 h.gpu_mem / plan::kGiB, h.gpu_bw / plan::kGB, h.ram / plan::kGiB,
                                                 h.ram_bw / plan::kGB)
                                   : fmt::format("RAM {:.0f} GiB @ {:.0f} GB/s", h.ram / plan::kGiB, h.ram_bw / plan::kGB));
  }
  out += "models:\n";
  for (const plan::CatalogModel& m : plan::model_catalog()) {
    out += fmt::format("  {:<18} {}\n", m.id, m.hf_repo);
  }
  out += "quantizations:\n";
  for (const plan::QuantRecipe& r : plan::quant_recipes()) {
    out += fmt::format("  {:<11} {}{}\n", r.name, r.description, r.moe_only ? " (MoE models)" : "");
  }
  return out;
}

// Removes a file when it goes out of scope (the synthetic calibration model).
struct RemoveOnExit {
  std::string path;
  ~RemoveOnExit() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove(path, ec);
  }
};

// `r1 plan --calibrate`: benchmark a model here (pp256, tg32, the read bandwidth), fit the CPU factors, save.
int run_calibration(const PlanArgs& args, CliContext& ctx) {
  if (args.models.size() > 1) throw Error("--calibrate benchmarks one model: give at most one -m FILE.gguf");
  const std::string save = args.save.empty() ? plan::default_efficiency_path() : args.save;
  if (save.empty()) throw Error("no config directory (HOME and XDG_CONFIG_HOME are unset): give --save FILE");
  RemoveOnExit synthetic;
  std::string model;
  if (args.models.size() == 1) {
    model = args.models.front();
    if (!std::filesystem::is_regular_file(model)) {
      throw Error("--calibrate needs a GGUF file to benchmark (not a catalog name)").file(model);
    }
  } else {
    const SynthPlan synth = plan_synth(SynthOptions{.like = "r1-distill-qwen-1.5b", .type = "Q4_K_M"});
    synthetic.path = (std::filesystem::temp_directory_path() / fmt::format("r1-calibrate-{}.gguf", ::getpid())).string();
    ctx.log.warn("writing a synthetic R1-Distill-Qwen-1.5B Q4_K_M ({}) to benchmark; it is removed afterwards",
                 plan::human_bytes(static_cast<double>(synth.quant.dst_bytes)));
    ThreadPool pool(args.threads);
    write_synth(synth, synthetic.path, SynthWriteOptions{.pool = &pool});
    model = synthetic.path;
  }
  constexpr int kPrompt = 256;
  const bench::BenchReport report = bench::run_bench(
      bench::BenchOptions{.model = model, .n_prompt = kPrompt, .n_gen = 32, .threads = args.threads, .repetitions = 2},
      ctx.log);
  if (!report.machine) throw Error("the benchmark did not measure the read bandwidth");
  double prompt_tps = 0, generation_tps = 0;
  for (const bench::BenchTest& t : report.tests) (t.n_prompt > 0 ? prompt_tps : generation_tps) = t.avg_ts();

  plan::Hardware hw = plan::detect_this_machine(plan::DetectOptions{.measure_bandwidth = false, .detect_gpus = false});
  hw.ram_bw = report.machine->bytes_per_second;
  hw.ram_bw_measured = true;
  const GgufSet set = GgufSet::open(model);
  plan::CalibrationResult fit = plan::fit_cpu_efficiency(plan::CalibrationInput{
      .model = plan::profile_from_gguf(set), .hw = hw, .n_prompt = kPrompt, .prompt_tps = prompt_tps,
      .generation_tps = generation_tps});
  fit.cpu.source = fmt::format("calibrated {} on {} ({} threads, {:.1f} GB/s read) with {}", report.test_time,
                               report.cpu_info, report.n_threads, hw.ram_bw / plan::kGB, report.model_type);
  plan::save_cpu_efficiency(save, fit.cpu);

  std::printf("measured: pp%d %.1f tok/s, tg32 %.1f tok/s, read bandwidth %.1f GB/s (%s, %d threads)\n", kPrompt,
              prompt_tps, generation_tps, hw.ram_bw / plan::kGB, report.model_type.c_str(), report.n_threads);
  std::printf("fitted CPU factors: decode_bw %.3f, decode_bw_moe %.3f, flops %.3f (defaults 0.6, 0.45, 0.6)\n",
              fit.cpu.decode_bw, fit.cpu.decode_bw_moe, fit.cpu.flops);
  std::printf("planner with them: pp%d %.1f tok/s, tg %.1f tok/s\n", kPrompt, fit.predicted_prompt_tps,
              fit.predicted_generation_tps);
  for (const std::string& n : fit.notes) std::printf("note: %s\n", n.c_str());
  std::printf("saved to %s (r1 plan uses it for this machine; --efficiency FILE overrides it)\n", save.c_str());
  return 0;
}

}  // namespace

void add_plan_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<PlanArgs>();
  CLI::App* cmd = app.add_subcommand("plan", "What fits on this (or a named) machine, with which placement, and how fast");
  cmd->add_option("--hardware", args->hardware, "Machine from the catalog (see --list), or 'this' (detected)");
  cmd->add_option("-m,--model", args->models, "Catalog model (deepseek-r1:7b, 671b, ...) or a GGUF file; repeatable");
  cmd->add_option("-q,--quant", args->quants, "Quantization (Q4_K_M, UD-IQ1_S, ...); repeatable; default: all");
  cmd->add_option("-c,--ctx", args->ctx, "Context length to plan for")->check(CLI::Range(int64_t{1}, int64_t{1} << 24));
  cmd->add_option("--cache-type", args->cache_type, "KV cache type (f16, q8_0, f32)");
  cmd->add_flag("--json", args->json, "Print the plan as JSON");
  cmd->add_flag("--list", args->list, "List the hardware, model and quantization catalogs");
  cmd->add_flag("--no-measure", args->no_measure, "Do not measure this machine's read bandwidth (speeds need --bandwidth)");
  cmd->add_option("--bandwidth", args->bandwidth_gbs, "This machine's RAM read bandwidth in GB/s, instead of measuring it")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--claim", args->claim, "Check a claimed generation speed (tok/s) against physical limits");
  cmd->add_option("--efficiency", args->efficiency_file,
                  "JSON with efficiency factors {\"accelerator\": {...}, \"cpu\": {...}} (what --calibrate will write)");
  cmd->add_flag("--calibrate", args->calibrate,
                "Benchmark this machine (the -m GGUF file, else a synthetic R1-Distill-Qwen-1.5B Q4_K_M) and save the "
                "fitted CPU efficiency factors, which later plans for this machine use");
  cmd->add_option("--save", args->save, "With --calibrate: where to write the factors (default: the config directory)");
  cmd->add_option("-t,--threads", args->threads, "With --calibrate: benchmark threads (default: one per physical core)")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([args, action] {
    *action = [args](CliContext& ctx) {
      if (args->list) {
        const std::string out = list_catalogs();
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
      }
      if (args->calibrate) return run_calibration(*args, ctx);
      const TypeInfo* cache = find_type_by_name(args->cache_type);
      if (cache == nullptr) throw Error(fmt::format("unknown cache type '{}'", args->cache_type));
      plan::PlanOptions options;
      options.n_ctx = args->ctx;
      options.cache_type = cache->type;
      if (!args->efficiency_file.empty()) {
        plan::load_efficiency_file(args->efficiency_file, options);
      } else if (args->hardware == "this" || args->hardware.empty()) {
        // A calibration of this machine (r1 plan --calibrate) applies when nothing else is given.
        const std::string calibrated = plan::load_saved_calibration(options);
        if (!calibrated.empty()) ctx.log.info("using the calibration in {}", calibrated);
      }
      const plan::Hardware hw = resolve_hardware(*args, ctx);
      // The prompt weight copy `--repack auto` makes is known for this machine's kernels only.
      if (args->hardware == "this" || args->hardware.empty()) options.cpu_repack_ratio = plan::repack_ratios_here();
      const std::vector<plan::ModelProfile> profiles = resolve_models(*args, ctx);
      std::vector<plan::PlanResult> results;
      for (const plan::ModelProfile& p : profiles) results.push_back(plan::plan(p, hw, options));
      const bool ranked = args->models.empty();
      if (ranked) results = best_per_model(results);

      std::string out;
      if (args->json) {
        nlohmann::ordered_json j;
        j["hardware"] = plan::hardware_json(hw);
        j["efficiency"] = {
            {"accelerator", options.accel_efficiency.value_or(plan::default_efficiency(hw.accel)).to_json()},
            {"cpu", options.cpu_efficiency.value_or(plan::default_efficiency(plan::AccelKind::kNone)).to_json()}};
        j["results"] = nlohmann::ordered_json::array();
        for (const plan::PlanResult& r : results) {
          nlohmann::ordered_json rj = plan::plan_json(r);
          if (args->claim > 0) {
            const auto broken = plan::check_claim(r, args->claim);
            rj["claim"] = {{"tps", args->claim}, {"plausible", !broken.has_value()}, {"reason", broken.value_or("")}};
          }
          j["results"].push_back(std::move(rj));
        }
        out = j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
      } else {
        out += fmt::format("{} — {}\n", hw.id, hw.name);
        out += fmt::format("  {}\n", hw.basis);
        out += fmt::format("context {} tokens, KV cache {}; gen/s with an empty context, gen@ctx with a full one, "
                           "limit = bandwidth bound; verdict on the mean over the window (usable >= {:.0f}, "
                           "technically runs < {:.0f} tok/s)\n\n",
                           args->ctx, cache->name, plan::kUsableTps, plan::kRunsTps);
        out += plan::plan_table(results);
        if (ranked) out += "\n(best quantization per model, best first; --model NAME shows every quantization)\n";
        if (results.size() <= 3) {
          for (const plan::PlanResult& r : results) {
            out += fmt::format("\n{} {}: {}\n", r.model, r.quant, r.placement.description);
            out += fmt::format("  memory: weights {}, KV cache {}, compute {}{}\n",
                               plan::human_bytes(static_cast<double>(r.memory.weights)),
                               plan::human_bytes(static_cast<double>(r.memory.kv_cache)),
                               plan::human_bytes(static_cast<double>(r.memory.compute)),
                               r.memory.repack > 0 ? ", prompt weight copy " +
                                                         plan::human_bytes(static_cast<double>(r.memory.repack))
                                                   : std::string());
            for (const std::string& n : r.notes) out += "  note: " + n + "\n";
          }
        }
        if (args->claim > 0) {
          for (const plan::PlanResult& r : results) {
            const auto broken = plan::check_claim(r, args->claim);
            out += fmt::format("claim {:.1f} tok/s for {} {}: {}\n", args->claim, r.model, r.quant,
                               broken ? "impossible: " + *broken : std::string("within physical limits"));
          }
        }
      }
      std::fwrite(out.data(), 1, out.size(), stdout);
      return 0;
    };
  });
}

}  // namespace r1::cli
