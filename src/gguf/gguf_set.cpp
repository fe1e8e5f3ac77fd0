// GgufSet: resolves split-set part names, opens and cross-checks every part, merges the tensor lists.
#include "gguf_set.h"

#include <filesystem>
#include <regex>

#include "error.h"

namespace r1 {

std::optional<GgufSet::SplitName> GgufSet::parse_split_name(const std::string& path) {
  // llama.cpp's split naming: PREFIX-%05d-of-%05d.gguf, numbers starting at 1.
  static const std::regex pattern(R"(^(.*)-([0-9]{5})-of-([0-9]{5})\.gguf$)");
  std::smatch m;
  if (!std::regex_match(path, m, pattern)) return std::nullopt;
  return SplitName{m[1].str(), static_cast<uint32_t>(std::stoul(m[2].str())),
                   static_cast<uint32_t>(std::stoul(m[3].str()))};
}

std::string GgufSet::split_path(const std::string& prefix, uint32_t number, uint32_t count) {
  return fmt::format("{}-{:05d}-of-{:05d}.gguf", prefix, number, count);
}

namespace {

GgufFile open_part(const std::string& path, std::string_view residency) {
  std::error_code ec;
  const uint64_t bytes = std::filesystem::file_size(path, ec);  // on error MappedFile reports the cause
  const Residency r = choose_residency(residency, ec ? 0 : bytes);  // an unknown mode throws before any read
  return GgufFile::open(path, ec ? Residency::kMapped : r);
}

}  // namespace

std::string GgufSet::residency() const {
  const Residency first = parts_.front().residency();
  for (const GgufFile& part : parts_) {
    if (part.residency() != first) return "mixed";
  }
  return residency_name(first);
}

GgufSet GgufSet::open(const std::string& path, std::string_view residency) {
  GgufSet set;
  GgufFile first = open_part(path, residency);
  const auto count = first.metadata().find_uint("split.count");
  if (!count || *count <= 1) {
    set.parts_.push_back(std::move(first));
  } else {
    const auto name = parse_split_name(path);
    if (!name) {
      throw Error(fmt::format("file is part of a {}-part split set but its name does not follow "
                              "NAME-00001-of-{:05d}.gguf, so the other parts cannot be found",
                              *count, *count))
          .file(path);
    }
    if (name->count != *count) {
      throw Error(fmt::format("split.count is {} but the file name says {} parts", *count, name->count)).file(path);
    }
    if (*count > 99999) throw Error(fmt::format("split.count {} is implausible", *count)).file(path);
    for (uint32_t i = 1; i <= *count; ++i) {
      const std::string part_path = split_path(name->prefix, i, name->count);
      if (i == name->number) {
        set.parts_.push_back(std::move(first));
        continue;
      }
      if (!std::filesystem::exists(part_path)) {
        throw Error(fmt::format("part {} of {} of the split set is missing", i, *count)).file(part_path);
      }
      set.parts_.push_back(open_part(part_path, residency));
    }
    for (uint32_t i = 0; i < set.parts_.size(); ++i) {
      const GgufFile& part = set.parts_[i];
      const auto no = part.metadata().find_uint("split.no");
      const auto part_count = part.metadata().find_uint("split.count");
      if (!no || *no != i) {
        throw Error(fmt::format("split.no is {}, expected {}", no ? std::to_string(*no) : "missing", i))
            .file(part.path());
      }
      if (!part_count || *part_count != *count) {
        throw Error(fmt::format("split.count differs from the first part's {}", *count)).file(part.path());
      }
    }
  }

  for (uint32_t p = 0; p < set.parts_.size(); ++p) {
    for (const auto& t : set.parts_[p].tensors()) {
      if (!set.index_.emplace(t.name, set.tensors_.size()).second) {
        throw Error("tensor appears in more than one part of the split set")
            .file(set.parts_[p].path()).tensor(t.name);
      }
      set.tensors_.push_back(Tensor{&t, p});
    }
  }
  if (set.parts_.size() > 1) {
    if (const auto declared = set.parts_.front().metadata().find_uint("split.tensors.count")) {
      if (*declared != set.tensors_.size()) {
        throw Error(fmt::format("split.tensors.count says {} tensors but the parts hold {}", *declared,
                                set.tensors_.size()))
            .file(set.parts_.front().path());
      }
    }
  }
  return set;
}

void GgufSet::apply_override(const std::string& spec) {
  const size_t eq = spec.find('=');
  const size_t colon = eq == std::string::npos ? std::string::npos : spec.find(':', eq);
  if (eq == 0 || eq == std::string::npos || colon == std::string::npos) {
    throw Error(fmt::format("override '{}' is not KEY=TYPE:VALUE (TYPE: int, float, bool, str)", spec));
  }
  const std::string key = spec.substr(0, eq);
  const std::string type = spec.substr(eq + 1, colon - eq - 1);
  const std::string value = spec.substr(colon + 1);
  GgufValue v;
  try {
    size_t used = 0;
    if (type == "int") {
      v = GgufValue::i64(std::stoll(value, &used));
    } else if (type == "float") {
      v = GgufValue::f64(std::stod(value, &used));
    } else if (type == "bool") {
      if (value != "true" && value != "false") throw std::invalid_argument(value);
      v = GgufValue::boolean(value == "true");
      used = value.size();
    } else if (type == "str") {
      v = GgufValue::string(value);
      used = value.size();
    } else {
      throw Error(fmt::format("override '{}': unknown type '{}' (int, float, bool, str)", spec, type));
    }
    if (used != value.size()) throw std::invalid_argument(value);
  } catch (const std::logic_error&) {
    throw Error(fmt::format("override '{}': '{}' is not a valid {}", spec, value, type));
  }
  parts_.front().mutable_metadata().set(key, std::move(v));
}

const GgufSet::Tensor* GgufSet::find_tensor(std::string_view name) const {
  const auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const uint8_t> GgufSet::tensor_data(const Tensor& tensor) const {
  return parts_[tensor.part].tensor_data(*tensor.info);
}

uint64_t GgufSet::total_file_bytes() const {
  uint64_t total = 0;
  for (const auto& p : parts_) total += p.file_size();
  return total;
}

uint64_t GgufSet::mapped_file_bytes() const {
  uint64_t total = 0;
  for (const auto& p : parts_) total += p.residency() == Residency::kMapped ? p.file_size() : 0;
  return total;
}

}  // namespace r1
