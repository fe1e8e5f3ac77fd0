// `r1 inspect FILE [--json] [--tensors] [--meta KEY]`: look inside a GGUF file or split set.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "error.h"
#include "gguf_inspect.h"
#include "gguf_set.h"
#include "utf8.h"

namespace r1::cli {

namespace {
struct InspectArgs {
  std::string file;
  bool json = false;
  bool tensors = false;
  std::string meta_key;
};
}  // namespace

void add_inspect_command(CLI::App& app, Action* action) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand("inspect", "Show what a GGUF file (or split set) holds: metadata, tensors, sizes");
  cmd->add_option("file", args->file, "GGUF file, or any part of a split set")->required();
  cmd->add_flag("--json", args->json, "Print everything as JSON (tensors included)");
  cmd->add_flag("--tensors", args->tensors, "List every tensor: name, type, shape, bytes, offset");
  cmd->add_option("--meta", args->meta_key, "Print the value of one metadata key");
  cmd->callback([args, action] {
    *action = [args](CliContext& ctx) {
      const GgufSet set = GgufSet::open(args->file);
      ctx.log.info("opened {} ({} parts, {} tensors)", args->file, set.parts().size(), set.tensors().size());
      std::string out;
      if (!args->meta_key.empty()) {
        const GgufValue* v = set.metadata().find(args->meta_key);
        if (v == nullptr) throw Error("no such metadata key").file(args->file).key(args->meta_key);
        if (args->json) out = gguf_value_json(*v).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
        else if (v->type() == GgufType::kString) out = sanitize_utf8(v->as_string());
        else out = gguf_value_json(*v).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
        out += "\n";
      } else if (args->json) {
        out = inspect_json(set).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
      } else {
        out = inspect_text(set, InspectOptions{.tensors = args->tensors});
      }
      std::fwrite(out.data(), 1, out.size(), stdout);
      return 0;
    };
  });
}

}  // namespace r1::cli
