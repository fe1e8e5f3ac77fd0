// Builds the i-quant search indexes (quant_lattice.h) from the grid tables in quant_grids.cpp: the same
// neighbour sets ggml derives for its quantizers, so that searches over them choose the same points.
#include "quant_lattice.h"

#include <algorithm>
#include <array>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstring>

#include "check.h"
#include "quant_grids.h"
#include "quant_util.h"

namespace r1 {
namespace {

struct LatticeSpec {
  int dims, bits, grid_size, map_size;
  int n_distances;  // neighbours of an off-grid point: every grid point at the nearest n_distances distances
  int (*level)(int index, int coordinate);  // level of a coordinate of a grid entry
};

// Grid byte values to levels: IQ2 {8, 25, 43}, IQ1 {-1, 0, 1}, IQ3_XXS {4, 12, ..., 52, 62}, IQ3_S {1, 3, ..., 15}.
int iq2_level(uint8_t v) { return v == 8 ? 0 : v == 25 ? 1 : 2; }
int iq3_xxs_level(uint8_t v) { return v == 62 ? 7 : (v - 4) / 8; }

LatticeSpec spec_of(LatticeKind kind) {
  // map_size: every index of `bits`-wide levels up to the largest the packing of levels 0..2 (IQ1/IQ2: 43691)
  // or 0..7 (IQ3: 4095) can produce.
  switch (kind) {
    case LatticeKind::kIq2Xxs:
      return {8, 2, 256, 43692, 2, [](int i, int c) { return iq2_level(grid_byte(kIq2XxsGrid[i], c)); }};
    case LatticeKind::kIq2Xs:
      return {8, 2, 512, 43692, 2, [](int i, int c) { return iq2_level(grid_byte(kIq2XsGrid[i], c)); }};
    case LatticeKind::kIq2S:
      return {8, 2, 1024, 43692, 1, [](int i, int c) { return iq2_level(grid_byte(kIq2SGrid[i], c)); }};
    case LatticeKind::kIq1S:
      return {8, 2, 2048, 43692, 3, [](int i, int c) { return grid_sbyte(kIq1SGrid[i], c) + 1; }};
    case LatticeKind::kIq3Xxs:
      return {4, 3, 256, 4096, 2, [](int i, int c) { return iq3_xxs_level(grid_byte(kIq3XxsGrid[i], c)); }};
    case LatticeKind::kIq3S:
      return {4, 3, 512, 4096, 3, [](int i, int c) { return (grid_byte(kIq3SGrid[i], c) - 1) / 2; }};
  }
  R1_CHECK(false, "unknown lattice");
  return {};
}

LatticeIndex build(LatticeKind kind) {
  const LatticeSpec spec = spec_of(kind);
  LatticeIndex idx;
  idx.dims = spec.dims;
  idx.bits = spec.bits;
  idx.points.resize(static_cast<size_t>(spec.grid_size) * spec.dims);
  idx.map.assign(spec.map_size, -1);
  for (int i = 0; i < spec.grid_size; ++i) {
    int u = 0;
    for (int c = 0; c < spec.dims; ++c) {
      const int l = spec.level(i, c);
      idx.points[static_cast<size_t>(i) * spec.dims + c] = static_cast<int8_t>(2 * l + 1);
      u |= l << (spec.bits * c);
    }
    idx.map[u] = i;
  }
  const int level_mask = (1 << spec.bits) - 1;
  std::vector<int> dist(spec.grid_size);
  int8_t pos[8];
  for (int u = 0; u < spec.map_size; ++u) {
    if (idx.map[u] >= 0) continue;
    for (int c = 0; c < spec.dims; ++c) pos[c] = static_cast<int8_t>(2 * ((u >> (spec.bits * c)) & level_mask) + 1);
    for (int j = 0; j < spec.grid_size; ++j) {
      const int8_t* p = idx.point(j);
      int d2 = 0;
      for (int c = 0; c < spec.dims; ++c) d2 += (p[c] - pos[c]) * (p[c] - pos[c]);
      dist[j] = d2;
    }
    // The n_distances smallest distinct distances, then every point at each of them in index order.
    const size_t start = idx.neighbours.size();
    idx.neighbours.push_back(0);
    int previous = -1;
    for (int k = 0; k < spec.n_distances; ++k) {
      int next = INT_MAX;
      for (int d : dist) {
        if (d > previous && d < next) next = d;
      }
      if (next == INT_MAX) break;
      for (int j = 0; j < spec.grid_size; ++j) {
        if (dist[j] == next) idx.neighbours.push_back(static_cast<uint16_t>(j));
      }
      previous = next;
    }
    idx.neighbours[start] = static_cast<uint16_t>(idx.neighbours.size() - start - 1);
    idx.map[u] = -static_cast<int>(start) - 1;
  }
  return idx;
}

}  // namespace

const LatticeIndex& lattice_index(LatticeKind kind) {
  // Magic statics: built once, thread-safe, immutable afterwards.
  switch (kind) {
    case LatticeKind::kIq2Xxs: { static const LatticeIndex i = build(kind); return i; }
    case LatticeKind::kIq2Xs: { static const LatticeIndex i = build(kind); return i; }
    case LatticeKind::kIq2S: { static const LatticeIndex i = build(kind); return i; }
    case LatticeKind::kIq1S: { static const LatticeIndex i = build(kind); return i; }
    case LatticeKind::kIq3Xxs: { static const LatticeIndex i = build(kind); return i; }
    case LatticeKind::kIq3S: { static const LatticeIndex i = build(kind); return i; }
  }
  R1_CHECK(false, "unknown lattice");
  static const LatticeIndex empty;
  return empty;
}

}  // namespace r1

namespace r1 {
namespace {

// The grid point nearest (weighted) to scale * point ≈ xval among the neighbours; writes its levels to L.
int best_neighbour(const LatticeIndex& lattice, std::span<const uint16_t> candidates, const float* xval,
                   const float* waux, float scale, int8_t* L) {
  float best_d2 = FLT_MAX;
  int best = -1;
  for (uint16_t j : candidates) {
    const int8_t* p = lattice.point(j);
    float d2 = 0;
    for (int i = 0; i < lattice.dims; ++i) {
      const float diff = scale * p[i] - xval[i];
      d2 += waux[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      best = j;
    }
  }
  R1_CHECK(best >= 0);
  const int8_t* p = lattice.point(best);
  for (int i = 0; i < lattice.dims; ++i) L[i] = static_cast<int8_t>((p[i] - 1) / 2);
  return best;
}

// Rounds one group at inverse scale id to levels; returns true when the result is on the grid, otherwise
// replaces it by the best neighbour at scale.
bool round_group(const LatticeIndex& lattice, int kmax_q, float id, float scale, const float* xval, const float* waux,
                 int8_t* L) {
  for (int i = 0; i < lattice.dims; ++i) {
    L[i] = static_cast<int8_t>(std::clamp(nearest_int(0.5f * (id * xval[i] - 1)), 0, kmax_q - 1));
  }
  const int m = lattice.map[cube_index(lattice, L)];
  if (m >= 0) return true;
  best_neighbour(lattice, lattice.neighbours_of(m), xval, waux, scale, L);
  return false;
}

void fit(int n, const float* xval, const float* weight, const int8_t* L, float* sumqx, float* sumq2) {
  *sumqx = *sumq2 = 0;
  for (int i = 0; i < n; ++i) {
    const float q = 2 * L[i] + 1;
    *sumqx += weight[i] * xval[i] * q;
    *sumq2 += weight[i] * q * q;
  }
}

}  // namespace

std::optional<float> lattice_search(const LatticeIndex& lattice, const LatticeSearch& s, int n, const float* xval,
                     const float* weight, const float* waux, int8_t* L) {
  const int n_groups = n / lattice.dims;
  float max = xval[0];
  for (int i = 1; i < n; ++i) max = std::max(max, xval[i]);
  float reference = max;
  float scale = max / (2 * s.kmax_q - 1);
  if (s.scan_from_qp) {
    std::vector<uint8_t> Lq(n);
    scale = make_qp_quants(n, s.kmax_q + 1, xval, Lq.data(), weight);
    reference = scale * s.kmax_q;
    if (reference <= 0) return std::nullopt;
  }
  std::memset(L, 0, n);
  bool on_grid[8], on_grid_aux[8];
  for (int k = 0; k < n_groups; ++k) on_grid[k] = s.start_on_grid;
  int8_t L_aux[32];
  float best = 0;
  for (int is = -s.n_steps; is <= s.n_steps; ++is) {
    const float id = (2 * s.kmax_q - 1 + is * s.step) / reference;
    const float this_scale = 1 / id;
    for (int k = 0; k < n_groups; ++k) {
      const int o = k * lattice.dims;
      on_grid_aux[k] = round_group(lattice, s.kmax_q, id, this_scale, xval + o, waux + o, L_aux + o);
    }
    float sumqx, sumq2;
    fit(n, xval, weight, L_aux, &sumqx, &sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::memcpy(L, L_aux, n);
      std::copy(on_grid_aux, on_grid_aux + n_groups, on_grid);
    }
  }
  int n_off_grid = 0;
  for (int k = 0; k < n_groups; ++k) n_off_grid += on_grid[k] ? 0 : 1;
  const bool refine = s.refine == LatticeSearch::Refine::kAllGroups || n_off_grid > 0;
  if (refine && scale > 0) {
    // Re-round at the fitted scale (only the off-grid groups, or all of them) and refit.
    const float id = 1 / scale;
    for (int k = 0; k < n_groups; ++k) {
      if (s.refine == LatticeSearch::Refine::kOffGridGroups && on_grid[k]) continue;
      const int o = k * lattice.dims;
      round_group(lattice, s.kmax_q, id, scale, xval + o, waux + o, L + o);
    }
    float sumqx, sumq2;
    fit(n, xval, weight, L, &sumqx, &sumq2);
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  return scale;
}

int on_grid_index(const LatticeIndex& lattice, const int8_t* L) {
  const int m = lattice.map[cube_index(lattice, L)];
  R1_CHECK(m >= 0, "lattice search produced a point off the grid");
  return m;
}

void split_signs(const float* x, const float* weight, int n, bool even_parity, float* xval, uint8_t* signs) {
  for (int k = 0; k < n / 8; ++k) {
    const float* xb = x + 8 * k;
    float* xv = xval + 8 * k;
    const float* w = weight + 8 * k;
    int n_negative = 0;
    uint8_t s = 0;
    for (int i = 0; i < 8; ++i) {
      xv[i] = std::fabs(xb[i]);
      if (xb[i] < 0) {
        ++n_negative;
        s = static_cast<uint8_t>(s | (1 << i));
      }
    }
    if (even_parity && n_negative % 2) {
      int imin = 0;
      float min = w[0] * xb[0] * xb[0];
      for (int i = 1; i < 8; ++i) {
        const float ax = w[i] * xb[i] * xb[i];
        if (ax < min) {
          min = ax;
          imin = i;
        }
      }
      xv[imin] = -xv[imin];
      s = static_cast<uint8_t>(s ^ (1 << imin));
    }
    signs[k] = even_parity ? static_cast<uint8_t>(s & 127) : s;
  }
}

}  // namespace r1
