// `r1 inspect` report: summary fields, per-type byte shares, metadata rendering, tensor table.
#include "gguf_inspect.h"

#include <algorithm>
#include <cstring>
#include <map>

#include <fmt/format.h>

#include "file_types.h"
#include "utf8.h"

namespace r1 {
namespace {

template <typename T>
T packed_at(const GgufArray& a, size_t i) {
  T v;
  std::memcpy(&v, a.packed.data() + i * sizeof(T), sizeof(T));
  return v;
}

nlohmann::ordered_json packed_element_json(const GgufArray& a, size_t i) {
  switch (a.element_type) {
    case GgufType::kU8: return packed_at<uint8_t>(a, i);
    case GgufType::kI8: return packed_at<int8_t>(a, i);
    case GgufType::kU16: return packed_at<uint16_t>(a, i);
    case GgufType::kI16: return packed_at<int16_t>(a, i);
    case GgufType::kU32: return packed_at<uint32_t>(a, i);
    case GgufType::kI32: return packed_at<int32_t>(a, i);
    case GgufType::kU64: return packed_at<uint64_t>(a, i);
    case GgufType::kI64: return packed_at<int64_t>(a, i);
    case GgufType::kF32: return packed_at<float>(a, i);
    case GgufType::kF64: return packed_at<double>(a, i);
    case GgufType::kBool: return packed_at<uint8_t>(a, i) != 0;
    default: return nullptr;
  }
}

nlohmann::ordered_json array_item_json(const GgufArray& a, size_t i) {
  if (a.element_type == GgufType::kString) return sanitize_utf8(a.strings[i]);
  if (a.element_type == GgufType::kArray) return gguf_value_json(a.arrays[i]);
  return packed_element_json(a, i);
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string human_count(uint64_t n) {
  if (n >= 1'000'000'000) return fmt::format("{:.2f} B", n / 1e9);
  if (n >= 1'000'000) return fmt::format("{:.2f} M", n / 1e6);
  if (n >= 1'000) return fmt::format("{:.2f} K", n / 1e3);
  return std::to_string(n);
}

// Strings shown in text output: invalid UTF-8 replaced, control characters escaped, long ones cut.
std::string display_string(const std::string& s, size_t max_chars) {
  std::string clean = sanitize_utf8(s);
  std::string out;
  for (char ch : clean) {
    if (ch == '\n') out += "\\n";
    else if (ch == '\t') out += "\\t";
    else if (ch == '\r') out += "\\r";
    else if (static_cast<unsigned char>(ch) < 0x20) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(ch));
    else out += ch;
  }
  if (out.size() > max_chars) {
    size_t cut = max_chars;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;  // keep whole characters
    out = out.substr(0, cut) + fmt::format("... ({} bytes)", s.size());
  }
  return "\"" + out + "\"";
}

struct Summary {
  std::string architecture;
  uint64_t n_params = 0;
  uint64_t tensor_bytes = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> by_type;  // type -> (tensor count, bytes)
};

Summary summarize(const GgufSet& set) {
  Summary s;
  s.architecture = set.metadata().find_string("general.architecture").value_or("");
  for (const auto& t : set.tensors()) {
    s.n_params += t.info->n_elements;
    s.tensor_bytes += t.info->n_bytes;
    auto& entry = s.by_type[std::string(t.info->type->name)];
    entry.first += 1;
    entry.second += t.info->n_bytes;
  }
  return s;
}

// Architecture hyperparameters worth a line in the summary: (label, key suffix).
constexpr std::pair<const char*, const char*> kArchKeys[] = {
    {"context_length", "context_length"},
    {"block_count", "block_count"},
    {"embedding_length", "embedding_length"},
    {"feed_forward_length", "feed_forward_length"},
    {"head_count", "attention.head_count"},
    {"head_count_kv", "attention.head_count_kv"},
    {"expert_count", "expert_count"},
    {"expert_used_count", "expert_used_count"},
    {"expert_shared_count", "expert_shared_count"},
    {"leading_dense_block_count", "leading_dense_block_count"},
    {"kv_lora_rank", "attention.kv_lora_rank"},
    {"q_lora_rank", "attention.q_lora_rank"},
    {"rope_freq_base", "rope.freq_base"},
};

nlohmann::ordered_json summary_json(const GgufSet& set, const Summary& s) {
  const GgufMetadata& m = set.metadata();
  nlohmann::ordered_json j;
  j["architecture"] = s.architecture;
  j["name"] = sanitize_utf8(m.find_string("general.name").value_or(""));
  j["parameters"] = s.n_params;
  j["tensor_bytes"] = s.tensor_bytes;
  j["file_bytes"] = set.total_file_bytes();
  if (const GgufValue* ft = m.find("general.file_type"); ft != nullptr && ft->is_integer()) {
    int64_t n = 0;
    ft->to_int64(&n);
    j["file_type"] = {{"id", n}, {"name", std::string(file_type_name(n))}};
  }
  for (const auto& [label, suffix] : kArchKeys) {
    const GgufValue* v = m.find(s.architecture + "." + suffix);
    if (v == nullptr) continue;
    j["hparams"][label] = gguf_value_json(*v);
  }
  nlohmann::ordered_json types = nlohmann::ordered_json::array();
  for (const auto& [name, entry] : s.by_type) {
    types.push_back({{"type", name},
                     {"tensors", entry.first},
                     {"bytes", entry.second},
                     {"share", s.tensor_bytes ? static_cast<double>(entry.second) / s.tensor_bytes : 0.0}});
  }
  j["types"] = types;
  nlohmann::ordered_json tok;
  tok["model"] = m.find_string("tokenizer.ggml.model").value_or("");
  tok["pre"] = m.find_string("tokenizer.ggml.pre").value_or("");
  if (const GgufValue* tokens = m.find("tokenizer.ggml.tokens"); tokens && tokens->type() == GgufType::kArray) {
    tok["vocab_size"] = tokens->as_array().size();
  }
  tok["chat_template"] = m.contains("tokenizer.chat_template");
  j["tokenizer"] = tok;
  return j;
}

}  // namespace

nlohmann::ordered_json gguf_value_json(const GgufValue& v) {
  switch (v.type()) {
    case GgufType::kU8:
    case GgufType::kU16:
    case GgufType::kU32:
    case GgufType::kU64: return v.as_unsigned();
    case GgufType::kI8:
    case GgufType::kI16:
    case GgufType::kI32:
    case GgufType::kI64: return v.as_signed();
    case GgufType::kF32:
    case GgufType::kF64: return v.as_double();
    case GgufType::kBool: return v.as_bool();
    case GgufType::kString: return sanitize_utf8(v.as_string());
    case GgufType::kArray: {
      const GgufArray& a = v.as_array();
      nlohmann::ordered_json out = nlohmann::ordered_json::array();
      for (size_t i = 0; i < a.size(); ++i) out.push_back(array_item_json(a, i));
      return out;
    }
  }
  return nullptr;
}

std::string gguf_value_text(const GgufValue& v, size_t max_items) {
  switch (v.type()) {
    case GgufType::kString: return display_string(v.as_string(), 200);
    case GgufType::kArray: {
      const GgufArray& a = v.as_array();
      std::string out = fmt::format("[{} x {}", gguf_type_name(a.element_type), a.size());
      const size_t shown = std::min(a.size(), max_items);
      for (size_t i = 0; i < shown; ++i) {
        out += i == 0 ? ": " : ", ";
        if (a.element_type == GgufType::kString) out += display_string(a.strings[i], 40);
        else if (a.element_type == GgufType::kArray) out += gguf_value_text(a.arrays[i], 4);
        else if (a.element_type == GgufType::kF32) out += fmt::format("{}", packed_at<float>(a, i));
        else out += array_item_json(a, i).dump();
      }
      if (shown < a.size()) out += ", ...";
      return out + "]";
    }
    case GgufType::kF32: return fmt::format("{}", static_cast<float>(v.as_double()));  // shortest f32 form
    default: return gguf_value_json(v).dump();
  }
}

nlohmann::ordered_json inspect_json(const GgufSet& set) {
  const Summary s = summarize(set);
  nlohmann::ordered_json j;
  j["file"] = set.parts().front().path();
  j["version"] = set.parts().front().version();
  j["alignment"] = set.parts().front().alignment();
  nlohmann::ordered_json parts = nlohmann::ordered_json::array();
  for (const auto& p : set.parts()) {
    parts.push_back({{"path", p.path()}, {"bytes", p.file_size()}, {"data_offset", p.data_offset()},
                     {"tensors", p.tensors().size()}});
  }
  j["parts"] = parts;
  j["summary"] = summary_json(set, s);
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [key, value] : set.metadata().entries()) meta[sanitize_utf8(key)] = gguf_value_json(value);
  j["metadata"] = meta;
  nlohmann::ordered_json tensors = nlohmann::ordered_json::array();
  for (const auto& t : set.tensors()) {
    nlohmann::ordered_json row = {{"name", t.info->name},
                          {"type", std::string(t.info->type->name)},
                          {"shape", t.info->shape()},
                          {"offset", t.info->offset},
                          {"bytes", t.info->n_bytes}};
    if (set.parts().size() > 1) row["part"] = t.part;
    tensors.push_back(std::move(row));
  }
  j["tensors"] = tensors;
  return j;
}

std::string inspect_text(const GgufSet& set, const InspectOptions& options) {
  const Summary s = summarize(set);
  const GgufMetadata& m = set.metadata();
  const GgufFile& first = set.parts().front();
  std::string out;
  auto line = [&out](std::string_view label, const std::string& value) {
    out += fmt::format("{:<14}{}\n", std::string(label) + ":", value);
  };
  line("file", fmt::format("{} ({}{})", first.path(), human_bytes(set.total_file_bytes()),
                           set.parts().size() > 1 ? fmt::format(", {} parts", set.parts().size()) : ""));
  line("gguf", fmt::format("version {}, alignment {}, {} tensors, {} metadata keys", first.version(),
                           first.alignment(), set.tensors().size(), m.size()));
  line("architecture", s.architecture.empty() ? "(not set)" : s.architecture);
  if (auto name = m.find_string("general.name")) line("name", display_string(*name, 120));
  line("parameters", fmt::format("{} ({})", human_count(s.n_params), s.n_params));
  if (const GgufValue* ft = m.find("general.file_type"); ft != nullptr && ft->is_integer()) {
    int64_t n = 0;
    ft->to_int64(&n);
    const std::string_view name = file_type_name(n);
    line("file type", fmt::format("{} ({})", name.empty() ? "unknown" : name, n));
  }
  std::string hparams;
  for (const auto& [label, suffix] : kArchKeys) {
    if (const GgufValue* v = m.find(s.architecture + "." + suffix)) {
      hparams += fmt::format("{}{}={}", hparams.empty() ? "" : " ", label, gguf_value_text(*v, 8));
    }
  }
  if (!hparams.empty()) line("hparams", hparams);
  if (auto model = m.find_string("tokenizer.ggml.model")) {
    std::string tok = *model;
    if (auto pre = m.find_string("tokenizer.ggml.pre")) tok += " (pre " + *pre + ")";
    if (const GgufValue* tokens = m.find("tokenizer.ggml.tokens"); tokens && tokens->type() == GgufType::kArray) {
      tok += fmt::format(", {} tokens", tokens->as_array().size());
    }
    tok += m.contains("tokenizer.chat_template") ? ", chat template" : ", no chat template";
    line("tokenizer", tok);
  }
  bool first_type = true;
  for (const auto& [name, entry] : s.by_type) {
    const double share = s.tensor_bytes ? 100.0 * entry.second / s.tensor_bytes : 0.0;
    out += fmt::format("{:<14}{:<8}{:>6} tensors {:>12} {:>6.2f} %\n", first_type ? "tensor types:" : "", name,
                       entry.first, human_bytes(entry.second), share);
    first_type = false;
  }
  out += "metadata:\n";
  for (const auto& [key, value] : m.entries()) {
    out += fmt::format("  {:<40} {}\n", display_string(key, 60).substr(1, display_string(key, 60).size() - 2),
                       gguf_value_text(value, 6));
  }
  if (options.tensors) {
    out += "tensors:\n";
    for (const auto& t : set.tensors()) {
      std::string shape;
      for (uint64_t d : t.info->shape()) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
      out += fmt::format("  {:<40} {:<8} [{}] {} bytes at {}{}\n", t.info->name, t.info->type->name, shape,
                         t.info->n_bytes, t.info->offset,
                         set.parts().size() > 1 ? fmt::format(" (part {})", t.part + 1) : "");
    }
  }
  return out;
}

}  // namespace r1
