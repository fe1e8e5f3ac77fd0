// The architecture registry: general.architecture → the code that builds it. One row per architecture.
#include <array>
#include <string_view>

#include "archs/deepseek2.h"
#include "archs/llama_like.h"
#include "error.h"
#include "model.h"

namespace r1 {
namespace {

struct ArchitectureRow {
  std::string_view name;
  std::unique_ptr<Model> (*make)(const GgufSet&, const ModelOptions&, const Placement&);
};

constexpr std::array kArchitectures = {
    ArchitectureRow{"deepseek2", make_deepseek2},
    ArchitectureRow{"llama", make_llama_like},
    ArchitectureRow{"qwen2", make_llama_like},
};

}  // namespace

std::unique_ptr<Model> load_model(const GgufSet& file, const ModelOptions& options, const Placement& placement) {
  const std::string arch = file.metadata().get_string("general.architecture");
  for (const auto& row : kArchitectures) {
    if (row.name == arch) return row.make(file, options, placement);
  }
  std::string known;
  for (const auto& row : kArchitectures) known += (known.empty() ? "" : ", ") + std::string(row.name);
  throw Error(fmt::format("architecture '{}' is not supported (supported: {})", arch, known))
      .file(file.parts().front().path());
}

}  // namespace r1
