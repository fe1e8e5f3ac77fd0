// NUMA topology from sysfs and the thread placement plans (see numa.h).
#include "numa.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "error.h"

namespace r1 {

std::optional<NumaMode> parse_numa_mode(std::string_view text) {
  if (text == "distribute") return NumaMode::kDistribute;
  if (text == "isolate") return NumaMode::kIsolate;
  if (text == "off") return NumaMode::kOff;
  return std::nullopt;
}

const char* numa_mode_name(NumaMode mode) {
  switch (mode) {
    case NumaMode::kDistribute: return "distribute";
    case NumaMode::kIsolate: return "isolate";
    case NumaMode::kOff: break;
  }
  return "off";
}

namespace {

int parse_cpu_number(std::string_view s, std::string_view whole) {
  int v = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < 0 || v >= (1 << 20)) {
    throw Error(fmt::format("malformed CPU list '{}'", whole));
  }
  return v;
}

std::string read_first_line(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace

std::vector<int> parse_cpu_list(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  std::vector<int> cpus;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t comma = text.find(',', pos);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(pos, comma - pos);
    const size_t dash = item.find('-');
    if (dash == std::string_view::npos) {
      cpus.push_back(parse_cpu_number(item, text));
    } else {
      const int lo = parse_cpu_number(item.substr(0, dash), text);
      const int hi = parse_cpu_number(item.substr(dash + 1), text);
      if (hi < lo) throw Error(fmt::format("malformed CPU list '{}'", text));
      for (int c = lo; c <= hi; ++c) cpus.push_back(c);
    }
    pos = comma + 1;
    if (comma + 1 == text.size()) throw Error(fmt::format("malformed CPU list '{}'", text));
  }
  std::sort(cpus.begin(), cpus.end());
  cpus.erase(std::unique(cpus.begin(), cpus.end()), cpus.end());
  return cpus;
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
    }
  }
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

int current_cpu() {
  const int c = sched_getcpu();
  return c < 0 ? 0 : c;
}

std::vector<NumaNode> read_numa_nodes(const std::string& root) {
  const std::vector<int> allowed = allowed_cpus();
  std::vector<NumaNode> nodes;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= 4 || name.compare(0, 4, "node") != 0) continue;
    int id = -1;
    const auto [end, err] = std::from_chars(name.data() + 4, name.data() + name.size(), id);
    if (err != std::errc() || end != name.data() + name.size()) continue;
    NumaNode node{id, {}};
    for (int c : parse_cpu_list(read_first_line(entry.path() / "cpulist"))) {
      if (std::binary_search(allowed.begin(), allowed.end(), c)) node.cpus.push_back(c);
    }
    if (!node.cpus.empty()) nodes.push_back(std::move(node));
  }
  if (nodes.empty()) nodes.push_back(NumaNode{0, allowed});
  std::sort(nodes.begin(), nodes.end(), [](const NumaNode& a, const NumaNode& b) { return a.id < b.id; });
  return nodes;
}

std::vector<int> numa_thread_cpus(const std::vector<NumaNode>& nodes, NumaMode mode, int n_threads, int start_cpu) {
  if (mode == NumaMode::kOff || nodes.empty() || n_threads <= 0) return {};
  std::vector<int> cpus;
  cpus.reserve(static_cast<size_t>(n_threads));
  if (mode == NumaMode::kIsolate) {
    const NumaNode* home = &nodes.front();
    for (const NumaNode& n : nodes) {
      if (std::binary_search(n.cpus.begin(), n.cpus.end(), start_cpu)) home = &n;
    }
    for (int i = 0; i < n_threads; ++i) cpus.push_back(home->cpus[static_cast<size_t>(i) % home->cpus.size()]);
    return cpus;
  }
  std::vector<size_t> taken(nodes.size(), 0);  // CPUs handed out per node so far
  for (int i = 0; i < n_threads; ++i) {
    const size_t n = static_cast<size_t>(i) % nodes.size();
    cpus.push_back(nodes[n].cpus[taken[n]++ % nodes[n].cpus.size()]);
  }
  return cpus;
}

bool numa_balancing_enabled() {
  const std::string v = read_first_line("/proc/sys/kernel/numa_balancing");
  return !v.empty() && v != "0";
}

bool pin_current_thread(const std::vector<int>& cpus) {
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int c : cpus) {
    if (c >= 0 && c < CPU_SETSIZE) CPU_SET(c, &set);
  }
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

}  // namespace r1
