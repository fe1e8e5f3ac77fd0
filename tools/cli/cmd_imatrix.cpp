// `r1 imatrix -m MODEL -f TEXT [-o FILE] [-c 512] [--chunks N] [--output-format gguf|dat] [--process-output]`:
// the importance matrix of a model over a text, for `r1 quantize --imatrix` (or llama-quantize). The work is in
// src/tools/imatrix.h; the file formats in imatrix_file.h.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "commands.h"
#include "error.h"
#include "imatrix.h"

namespace r1::cli {
namespace {

struct ImatrixArgs {
  std::string model;
  std::string text_file;
  std::string out = "imatrix.gguf";
  std::string format;
  int n_ctx = 512;
  int chunks = -1;
  int threads = 0;
  bool process_output = false;
};

int run_imatrix(const ImatrixArgs& a, CliContext& ctx) {
  std::optional<ImatrixFormat> asked;
  if (a.format == "gguf") asked = ImatrixFormat::kGguf;
  else if (a.format == "dat") asked = ImatrixFormat::kDat;
  else if (!a.format.empty()) throw Error(fmt::format("--output-format '{}': use gguf or dat", a.format));
  std::string warning;
  const ImatrixFormat format = choose_imatrix_format(a.out, asked, &warning);
  if (!warning.empty()) ctx.log.warn("{}", warning);

  const ImatrixRunOptions options{.model = a.model, .text_file = a.text_file, .n_ctx = a.n_ctx,
                                  .max_chunks = a.chunks, .threads = a.threads, .kernels = "auto",
                                  .process_output = a.process_output, .log = &ctx.log};
  const Imatrix m = compute_imatrix(options, [&a](const ImatrixProgress& p) {
    if (p.chunk == 1) {
      std::printf("imatrix: %d chunks of %d tokens, %zu tokens in the text\n", p.n_chunks, a.n_ctx, p.n_tokens);
    }
    std::printf("[%d/%d] %.1f s, chunk PPL %.4f, running PPL %.4f\n", p.chunk, p.n_chunks, p.seconds, p.chunk_ppl,
                p.running_ppl);
    std::fflush(stdout);
  });
  write_imatrix(m, a.out, format);
  std::printf("wrote %zu entries over %u chunks of %u tokens to %s (%s)\n", m.entries.size(), m.chunk_count,
              m.chunk_size, a.out.c_str(), format == ImatrixFormat::kDat ? "legacy dat" : "GGUF");
  return 0;
}

}  // namespace

void add_imatrix_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<ImatrixArgs>();
  CLI::App* cmd = app.add_subcommand(
      "imatrix", "Importance matrix of a model over a text (sums of squared activations per weight column), "
                 "for quantize --imatrix");
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("-f,--file", args->text_file, "Text file (calibration data)")->required();
  cmd->add_option("-o,--output", args->out, "Output file (default imatrix.gguf)");
  cmd->add_option("-c,--ctx-size", args->n_ctx, "Tokens per chunk (default 512)");
  cmd->add_option("--chunks", args->chunks, "Use at most this many chunks");
  cmd->add_option("--output-format", args->format, "gguf (default) or dat (llama.cpp's legacy format)");
  cmd->add_option("-t,--threads", args->threads, "CPU threads");
  cmd->add_flag("--process-output", args->process_output, "Collect output.weight too (left out by default)");
  cmd->callback([args, action] { *action = [args](CliContext& ctx) { return run_imatrix(*args, ctx); }; });
}

}  // namespace r1::cli
