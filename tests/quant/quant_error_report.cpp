// quant_error_report DIR: the large round-trip comparison behind docs/FORMATS.md. Writes three data sets
// (Gaussian, Student-t with 3 degrees of freedom, rows with 12× outliers; 512 × 2048 values each) and a synthetic
// importance vector into DIR, quantizes them with r1 to every writable type (without and with importance), and
// prints r1's RMSE and importance-weighted MSE; the encoded rows go to DIR for an external comparison with llama.cpp (docs/FORMATS.md).
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "quant_row.h"
#include "thread_pool.h"

namespace {

constexpr int kRows = 512, kCols = 2048;

void write_file(const std::string& path, const void* data, size_t bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(data, 1, bytes, f) != bytes) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
  std::fclose(f);
}

std::vector<float> make_data(int kind, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::student_t_distribution<float> student(3.f);
  std::uniform_real_distribution<float> uniform(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(kRows) * kCols);
  for (int r = 0; r < kRows; ++r) {
    const float row_scale = 0.02f + 0.01f * (r % 8);
    for (int c = 0; c < kCols; ++c) {
      float v = kind == 1 ? student(rng) : normal(rng);
      if (kind == 2 && uniform(rng) < 0.005f) v *= 12.f;  // a few values twelve times larger than the rest
      x[static_cast<size_t>(r) * kCols + c] = v * row_scale;
    }
  }
  return x;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace r1;
  if (argc != 2) {
    std::fprintf(stderr, "usage: quant_error_report DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  const char* kNames[3] = {"gauss", "student3", "outliers"};
  std::vector<std::vector<float>> data;
  for (int k = 0; k < 3; ++k) {
    data.push_back(make_data(k, 1234 + k));
    write_file(dir + "/" + kNames[k] + ".f32", data.back().data(), data.back().size() * 4);
  }
  std::vector<float> importance(kCols);
  std::mt19937 rng(99);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (auto& w : importance) w = std::exp(normal(rng));  // log-normal, like activation energies
  write_file(dir + "/importance.f32", importance.data(), importance.size() * 4);

  ThreadPool pool(0);
  std::printf("type,data,importance,rmse,wmse\n");
  for (const TypeInfo& info : all_types()) {
    if (!info.quantized || !can_quantize(info.type)) continue;
    for (int with_importance = 0; with_importance < 2; ++with_importance) {
      if (!with_importance && quantize_wants_importance(info.type)) continue;
      for (int k = 0; k < 3; ++k) {
        const auto& x = data[k];
        const size_t row_size = *row_bytes(info, kCols);
        std::vector<uint8_t> q(row_size * kRows);
        quantize_rows(info.type, x.data(), q.data(),
                      {.n_rows = kRows, .n_per_row = kCols, .importance = with_importance ? importance.data() : nullptr, .pool = &pool});
        write_file(dir + "/" + std::string(info.name) + "." + kNames[k] + (with_importance ? ".imat" : ".plain") + ".r1",
                   q.data(), q.size());
        std::vector<float> y(kCols);
        double se = 0, wse = 0;
        for (int r = 0; r < kRows; ++r) {
          dequantize_row(info.type, q.data() + r * row_size, y.data(), kCols);
          for (int c = 0; c < kCols; ++c) {
            const double d = double(y[c]) - x[static_cast<size_t>(r) * kCols + c];
            se += d * d;
            wse += importance[c] * d * d;
          }
        }
        const double n = double(kRows) * kCols;
        std::printf("%s,%s,%d,%.6e,%.6e\n", std::string(info.name).c_str(), kNames[k], with_importance, std::sqrt(se / n), wse / n);
      }
    }
  }
  return 0;
}
