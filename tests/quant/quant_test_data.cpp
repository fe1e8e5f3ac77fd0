// Finds and reads the all-types format fixture (see quant_test_data.h).
#include "quant_test_data.h"

#include <cstring>
#include <fstream>

#include "fixtures.h"

namespace r1::testing {
namespace {

std::vector<float> as_floats(const std::vector<uint8_t>& bytes) {
  std::vector<float> out(bytes.size() / 4);
  std::memcpy(out.data(), bytes.data(), out.size() * 4);
  return out;
}

}  // namespace

std::optional<AllTypesFixture> load_all_types_fixture() {
  namespace fs = std::filesystem;
  AllTypesFixture f;
  const fs::path local = testlib::test_data_dir() / "formats";
  fs::path dir;
  fs::path dequant_path;
  if (fs::exists(local / "all-types.gguf") && fs::exists(local / "all-types.dequant.f32.gz")) {
    dir = local;
    dequant_path = testlib::gunzip_to_temp(local / "all-types.dequant.f32.gz");
  } else if (auto shared = testlib::fixtures_dir(); shared && fs::exists(*shared / "formats" / "all-types.gguf")) {
    dir = *shared / "formats";
    dequant_path = dir / "all-types.dequant.f32";
  } else {
    return std::nullopt;
  }
  f.gguf_path = dir / "all-types.gguf";
  f.dequant = as_floats(testlib::read_file_bytes(dequant_path));
  f.importance = as_floats(testlib::read_file_bytes(dir / "all-types.imatrix.f32"));
  std::ifstream in(dir / "all-types.json");
  f.json = nlohmann::json::parse(in);
  f.rows = f.json.at("rows").get<int>();
  f.cols = f.json.at("cols").get<int>();
  return f;
}

}  // namespace r1::testing
