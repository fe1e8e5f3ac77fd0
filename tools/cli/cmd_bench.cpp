// `r1 bench -m MODEL [-m MODEL...] [-p 512] [-n 128] [-t THREADS] [-r 5] [--depth D] [--json|--md]` and
// `r1 bench --bandwidth`:
// prompt and generation tok/s (llama-bench's tests and JSON fields), load time, kernel ISA, and generation's
// achieved read bandwidth next to the machine's. The work is in src/tools/bench_runner.h.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench_bandwidth.h"
#include "bench_runner.h"
#include "commands.h"
#include "error.h"

namespace r1::cli {

namespace {
struct BenchArgs {
  bench::BenchOptions options;
  std::vector<std::string> models;
  bool json = false;
  bool md = false;
  bool bandwidth = false;
  bool no_bandwidth = false;
};

void print(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }
}  // namespace

void add_bench_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Prompt and generation tok/s, load time, and generation's read bandwidth against the machine's");
  bench::BenchOptions& o = args->options;
  cmd->add_option("-m,--model", args->models, "GGUF model file (any part of a split set); repeatable, as in llama-bench");
  cmd->add_option("-p,--n-prompt", o.n_prompt, "Prompt tokens per pp test (0: no pp test)")->capture_default_str();
  cmd->add_option("-n,--n-gen", o.n_gen, "Generated tokens per tg test (0: no tg test)")->capture_default_str();
  cmd->add_option("-t,--threads", o.threads, "CPU threads (default: one per physical core)");
  cmd->add_option("-r,--repetitions", o.repetitions, "Timed runs per test, after one warm-up")->capture_default_str();
  cmd->add_option("-d,--depth,--n-depth", o.depth, "Tokens already in the KV cache when each run starts")
      ->capture_default_str();
  cmd->add_option("--kernels", o.kernels, "CPU kernels: auto, avx512, avx2, scalar, or reference")->capture_default_str();
  cmd->add_option("--repack", o.repack,
                  "Prompt weight rows packed once at load: auto (types measured to gain, when the copy fits), on, off")
      ->capture_default_str();
  auto* map = cmd->add_flag_callback("--mmap", [&o] { o.weights = "map"; },
                                     "Map the weights from the page cache (default: copied into RAM when they fit)");
  cmd->add_flag_callback("--no-mmap", [&o] { o.weights = "copy"; }, "Copy the weights into RAM even when memory is tight")
      ->excludes(map);
  cmd->add_option("--mla", o.mla,
                  "DeepSeek attention form: auto (the cheaper per micro-batch), absorbed, or expanded (legacy files)")
      ->capture_default_str();
  cmd->add_option("--cache-type-k", o.cache_type_k, "KV cache type for K: f32, f16, q8_0 (llama-bench's -ctk)")
      ->check(CLI::IsMember({"f32", "f16", "q8_0"}))
      ->capture_default_str();
  cmd->add_option("--cache-type-v", o.cache_type_v, "KV cache type for V: f32, f16, q8_0 (llama-bench's -ctv)")
      ->check(CLI::IsMember({"f32", "f16", "q8_0"}))
      ->capture_default_str();
  auto* json = cmd->add_flag("--json", args->json, "One JSON object per test, with llama-bench's field names");
  auto* md = cmd->add_flag("--md", args->md, "A markdown table (the default)");
  json->excludes(md);
  cmd->add_flag("--bandwidth", args->bandwidth,
                "Measure the machine's read bandwidth (all threads, 2 GiB buffer, best of 5); alone, only that");
  cmd->add_flag("--no-bandwidth", args->no_bandwidth, "With -m: skip the machine bandwidth measurement");
  cmd->callback([args, action] {
    *action = [args](CliContext& ctx) {
      if (args->models.empty()) {
        if (!args->bandwidth) throw Error("give -m MODEL to benchmark, or --bandwidth to measure the machine");
        const bench::MachineBandwidth bw = bench::measure_machine_bandwidth();
        print(args->json ? bench::bandwidth_json(bw).dump(2) + "\n" : "machine read bandwidth: " + bench::bandwidth_text(bw) + "\n");
        return 0;
      }
      if (args->bandwidth && args->no_bandwidth) throw Error("--bandwidth and --no-bandwidth contradict each other");
      args->options.measure_bandwidth = !args->no_bandwidth;
      // Several models: one after the other, each with its own report; --json gives one array of all tests.
      nlohmann::ordered_json all = nlohmann::ordered_json::array();
      std::string text;
      for (const std::string& model : args->models) {
        bench::BenchOptions o = args->options;
        o.model = model;
        const bench::BenchReport report = bench::run_bench(o, ctx.log);
        if (args->json) {
          for (auto& test : bench::bench_json(report)) all.push_back(std::move(test));
        } else {
          text += (text.empty() ? "" : "\n") + bench::bench_markdown(report);
        }
      }
      print(args->json ? all.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n" : text);
      return 0;
    };
  });
}

}  // namespace r1::cli
