// `r1 run MODEL [PROMPT]`: one streamed answer, or an interactive chat (libedit line editing and history,
// /bye, /clear, """ for multi-line input, Ctrl-C stops the current answer). Reasoning streams apart from the
// answer: dimmed on a terminal; --think show|hide|raw|off.
#include <editline/readline.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "error.h"
#include "process_memory.h"
#include "r1/r1.h"
#include "model_fit.h"
#include "run_flags.h"

namespace r1::cli {
namespace {

// Set by SIGINT while an answer streams; the stream callback turns it into Session::cancel(). The only
// process-wide state in the CLI: a signal handler cannot reach anything else.
std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted.store(true); }

struct RunArgs {
  std::string model;
  std::string prompt;
  std::string think = "show";
  ModelFlags flags;
};

class Printer {
 public:
  Printer(std::string think, bool tty) : think_(std::move(think)), tty_(tty) {}

  void operator()(const TextEvent& e) {
    if (e.kind == TextKind::kReasoning) {
      if (think_ == "hide" || think_ == "off") return;
      if (!in_reasoning_) {
        in_reasoning_ = true;
        if (think_ == "raw") write("<think>\n");
        else if (tty_) write("\x1b[2m");
        else write("Thinking...\n");
      }
      write(e.text);
    } else {
      close_reasoning();
      write(e.text);
    }
  }
  void finish() {
    close_reasoning();
    write("\n");
  }

 private:
  void close_reasoning() {
    if (!in_reasoning_) return;
    in_reasoning_ = false;
    if (think_ == "raw") write("\n</think>\n\n");
    else if (tty_) write("\x1b[0m\n\n");
    else write("\n...done thinking.\n\n");
  }
  void write(std::string_view s) {
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fflush(stdout);
  }
  std::string think_;
  bool tty_;
  bool in_reasoning_ = false;
};

void answer(Session& session, const std::string& text, const RunArgs& args, const CliContext& ctx, Engine& engine) {
  Printer printer(args.think, isatty(STDOUT_FILENO) != 0);
  g_interrupted.store(false);
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  struct sigaction old {};
  sigaction(SIGINT, &sa, &old);
  const Reply reply = session.chat(text, args.flags.generate_options(args.think != "off"), [&](const TextEvent& e) {
    if (g_interrupted.load()) session.cancel();
    printer(e);
  });
  sigaction(SIGINT, &old, nullptr);
  printer.finish();
  const GenerationStats& s = reply.stats;
  if (s.stop_reason == "context") {
    std::fprintf(stderr, "r1: the context of %d tokens is full; /clear starts over (or raise --ctx-size)\n",
                 engine.model().context);
  } else if (s.context_shifts > 0) {
    std::fprintf(stderr, "r1: the context of %d tokens filled up; its older half was dropped %d time(s)\n",
                 engine.model().context, s.context_shifts);
  } else if (s.stop_reason == "cancelled") {
    std::fprintf(stderr, "r1: stopped\n");
  }
  if (ctx.verbosity > 0) {
    std::fprintf(stderr, "r1: prompt %d tokens (%d cached) %.1f tok/s, generation %d tokens %.1f tok/s, RSS %.1f MiB\n",
                 s.prompt_tokens, s.cached_tokens, s.prompt_seconds > 0 ? s.prompt_tokens / s.prompt_seconds : 0.0,
                 s.generated_tokens, s.generation_seconds > 0 ? s.generated_tokens / s.generation_seconds : 0.0,
                 resident_bytes() / 1048576.0);
  }
}

// Reads one user message; """ on a line of its own starts and ends multi-line input. False at end of input.
bool read_message(std::string* out, bool tty) {
  out->clear();
  const auto read_line = [&](const char* prompt, std::string* line) {
    if (tty) {
      char* raw = readline(prompt);
      if (raw == nullptr) return false;
      *line = raw;
      std::free(raw);
      return true;
    }
    char buffer[4096];
    line->clear();
    while (std::fgets(buffer, sizeof buffer, stdin) != nullptr) {
      *line += buffer;
      if (!line->empty() && line->back() == '\n') {
        line->pop_back();
        return true;
      }
    }
    return !line->empty();
  };
  std::string line;
  if (!read_line(">>> ", &line)) return false;
  if (line != "\"\"\"") {
    *out = line;
    if (tty && !line.empty()) add_history(line.c_str());
    return true;
  }
  while (read_line("... ", &line) && line != "\"\"\"") *out += (out->empty() ? "" : "\n") + line;
  if (tty && !out->empty()) add_history(out->c_str());
  return true;
}

}  // namespace

void add_run_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Chat with a model in the terminal (one answer when PROMPT is given)");
  cmd->add_option("model", args->model, "GGUF model file (any part of a split set)")->required();
  cmd->add_option("prompt", args->prompt, "Answer this one message and exit");
  cmd->add_option("--think", args->think, "Reasoning display: show (dimmed), hide, raw (with tags), off")
      ->check(CLI::IsMember({"show", "hide", "raw", "off"}));
  args->flags.add_to(cmd);
  cmd->callback([args, action] {
    *action = [args](CliContext& ctx) {
      report_fit(args->flags, args->model, ctx);
      std::unique_ptr<Engine> engine = Engine::load(args->flags.engine_options(args->model, ctx.verbosity));
      if (ctx.verbosity > 0) {
        const ModelDescription& d = engine->model();
        std::fprintf(stderr, "r1: %s (%s), context %d, %d threads, kernels: %s\n", d.path.c_str(),
                     d.architecture.c_str(), d.context, d.threads, d.kernel_isa.c_str());
        std::fprintf(stderr, "r1: KV cache %llu bytes per token (%s), %.1f MiB at the full context\n",
                     static_cast<unsigned long long>(d.kv_bytes_per_token), d.kv_cache_layout.c_str(),
                     static_cast<double>(d.kv_bytes_per_token) * d.context / 1048576.0);
      }
      std::unique_ptr<Session> session = engine->new_session();
      if (!args->flags.system_prompt.empty()) session->set_system_prompt(args->flags.system_prompt);
      if (!args->prompt.empty()) {
        answer(*session, args->prompt, *args, ctx, *engine);
        return 0;
      }
      const bool tty = isatty(STDIN_FILENO) != 0;
      if (tty) std::fprintf(stderr, "r1: type a message; /clear forgets the conversation, /bye exits, \"\"\" for multi-line input\n");
      std::string message;
      while (read_message(&message, tty)) {
        if (message == "/bye" || message == "/exit") break;
        if (message == "/clear") {
          session->clear();
          std::fprintf(stderr, "r1: conversation cleared\n");
          continue;
        }
        if (message.empty()) continue;
        try {
          answer(*session, message, *args, ctx, *engine);
        } catch (const Error& e) {
          std::fprintf(stderr, "r1: error: %s\n", e.what());  // the chat goes on
        }
      }
      return 0;
    };
  });
}

}  // namespace r1::cli
