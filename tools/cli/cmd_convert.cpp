// `r1 convert HF_DIR OUT.gguf [--outtype TYPE] [--name N] [--description D] [--pre NAME] [--mla-legacy]
// [--no-mtp] [--threads N]`: parse flags, call convert_hf_to_gguf, print one summary line.
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "convert_hf.h"
#include "error.h"
#include "thread_pool.h"

namespace r1::cli {

namespace {

struct ConvertArgs {
  std::string hf_dir;
  std::string out;
  std::string outtype = "f16";
  std::string name;
  std::string description;
  std::string pre;
  bool mla_legacy = false;
  bool no_mtp = false;
  int threads = 0;
};

int run_convert(const ConvertArgs& a, CliContext& ctx) {
  ThreadPool pool(a.threads);
  const auto start = std::chrono::steady_clock::now();
  const ConvertReport report = convert_hf_to_gguf(
      ConvertOptions{.hf_dir = a.hf_dir, .out_path = a.out, .outtype = parse_convert_outtype(a.outtype), .name = a.name,
                     .description = a.description, .pre = a.pre, .mla_legacy = a.mla_legacy, .keep_mtp = !a.no_mtp,
                     .pool = &pool},
      ctx.log);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const std::string& f : report.fallbacks) ctx.log.warn("type fallback: {}", f);
  std::printf("%s: %s, %zu tensors, %.1f MiB of tensor data, %.1f s\n", a.out.c_str(), report.architecture.c_str(),
              report.n_tensors, static_cast<double>(report.n_bytes) / (1024.0 * 1024.0), seconds);
  return 0;
}

}  // namespace

void add_convert_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<ConvertArgs>();
  CLI::App* cmd = app.add_subcommand("convert", "Convert a Hugging Face checkpoint folder (safetensors) to GGUF");
  cmd->add_option("hf_dir", args->hf_dir, "Folder with config.json, *.safetensors, tokenizer.json")->required();
  cmd->add_option("out", args->out, "Output .gguf file")->required();
  cmd->add_option("--outtype", args->outtype, "Type of the weight matrices: f32, f16 (default), bf16, q8_0, q6_k, q5_k, q4_k, q3_k, q2_k, ...");
  cmd->add_option("--name", args->name, "general.name (default: the folder's name)");
  cmd->add_option("--description", args->description, "general.description");
  cmd->add_option("--pre", args->pre, "tokenizer.ggml.pre (default: recognised from tokenizer.json)");
  cmd->add_flag("--mla-legacy", args->mla_legacy, "deepseek2: write one attn_kv_b per layer (old layout) instead of attn_k_b/attn_v_b");
  cmd->add_flag("--no-mtp", args->no_mtp, "deepseek2: drop the multi-token-prediction layers");
  cmd->add_option("-t,--threads", args->threads, "Threads for quantized output types (default: all hardware threads)");
  cmd->callback([args, action] {
    *action = [args](CliContext& ctx) { return run_convert(*args, ctx); };
  });
}

}  // namespace r1::cli
