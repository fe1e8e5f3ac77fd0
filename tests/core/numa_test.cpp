// NUMA placement: CPU lists, the sysfs reader on a fake tree, the thread plans for distribute and isolate, and
// the pool's static schedule when its threads are pinned.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "error.h"
#include "numa.h"
#include "thread_pool.h"

namespace r1 {
namespace {

TEST(Numa, ParsesCpuLists) {
  EXPECT_EQ(parse_cpu_list("0-3,8,10-11\n"), (std::vector<int>{0, 1, 2, 3, 8, 10, 11}));
  EXPECT_EQ(parse_cpu_list("5"), (std::vector<int>{5}));
  EXPECT_EQ(parse_cpu_list("3,1-2,2"), (std::vector<int>{1, 2, 3}));
  EXPECT_TRUE(parse_cpu_list("").empty());  // a node with memory and no CPUs
  for (const char* bad : {"1-", "-1", "3-1", "a", "1,,2", "1,", "1-2-3", "99999999"}) {
    EXPECT_THROW(parse_cpu_list(bad), Error) << bad;
  }
}

TEST(Numa, ParsesModes) {
  EXPECT_EQ(parse_numa_mode("distribute"), NumaMode::kDistribute);
  EXPECT_EQ(parse_numa_mode("isolate"), NumaMode::kIsolate);
  EXPECT_EQ(parse_numa_mode("off"), NumaMode::kOff);
  EXPECT_FALSE(parse_numa_mode("numactl").has_value());
  EXPECT_STREQ(numa_mode_name(NumaMode::kIsolate), "isolate");
}

void write_file(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

// A fake /sys/devices/system/node built from the CPUs this process may use: two nodes splitting them, a node
// with memory only, a node whose CPUs this process may not use, and the files that are not nodes.
TEST(Numa, ReadsNodesFromSysfs) {
  const std::vector<int> allowed = allowed_cpus();
  ASSERT_FALSE(allowed.empty());
  const auto root = std::filesystem::temp_directory_path() / ("r1_numa_" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  const size_t half = (allowed.size() + 1) / 2;
  auto list = [](auto begin, auto end) {
    std::string s;
    for (auto it = begin; it != end; ++it) {
      if (!s.empty()) s += ',';
      s += std::to_string(*it);
    }
    return s;
  };
  write_file(root / "node0" / "cpulist", list(allowed.begin(), allowed.begin() + static_cast<long>(half)) + "\n");
  write_file(root / "node1" / "cpulist", list(allowed.begin() + static_cast<long>(half), allowed.end()) + "\n");
  write_file(root / "node2" / "cpulist", "\n");
  write_file(root / "node3" / "cpulist", std::to_string(allowed.back() + 1000) + "\n");
  write_file(root / "online", "0-3\n");
  write_file(root / "nodeX" / "cpulist", "0\n");
  const std::vector<NumaNode> nodes = read_numa_nodes(root.string());
  std::filesystem::remove_all(root);
  ASSERT_EQ(nodes.size(), allowed.size() > 1 ? 2u : 1u);
  EXPECT_EQ(nodes[0].id, 0);
  EXPECT_EQ(nodes[0].cpus, std::vector<int>(allowed.begin(), allowed.begin() + static_cast<long>(half)));

  // No such folder: one node with every allowed CPU.
  const std::vector<NumaNode> none = read_numa_nodes((root / "missing").string());
  ASSERT_EQ(none.size(), 1u);
  EXPECT_EQ(none[0].cpus, allowed);
}

TEST(Numa, DistributeSpreadsThreadsOverNodes) {
  const std::vector<NumaNode> nodes = {{0, {0, 1, 2, 3}}, {1, {4, 5, 6, 7}}};
  EXPECT_EQ(numa_thread_cpus(nodes, NumaMode::kDistribute, 6, 0), (std::vector<int>{0, 4, 1, 5, 2, 6}));
  // More threads than CPUs: each node's CPUs are reused in turn.
  EXPECT_EQ(numa_thread_cpus(nodes, NumaMode::kDistribute, 10, 0),
            (std::vector<int>{0, 4, 1, 5, 2, 6, 3, 7, 0, 4}));
  EXPECT_TRUE(numa_thread_cpus(nodes, NumaMode::kOff, 4, 0).empty());
}

TEST(Numa, IsolateKeepsThreadsOnTheStartingNode) {
  const std::vector<NumaNode> nodes = {{0, {0, 1, 2, 3}}, {1, {4, 5, 6}}};
  EXPECT_EQ(numa_thread_cpus(nodes, NumaMode::kIsolate, 4, 5), (std::vector<int>{4, 5, 6, 4}));
  EXPECT_EQ(numa_thread_cpus(nodes, NumaMode::kIsolate, 2, 2), (std::vector<int>{0, 1}));
  // A start CPU outside every node (it moved, or is not allowed): the first node.
  EXPECT_EQ(numa_thread_cpus(nodes, NumaMode::kIsolate, 2, 99), (std::vector<int>{0, 1}));
}

// Pinned threads always take the same tasks (task i on thread i % size), so a thread keeps reading the same
// weight rows and their pages stay on its node.
TEST(Numa, PinnedPoolSchedulesStatically) {
  const std::vector<int> cpus = allowed_cpus();
  ThreadPool pool(3, {cpus.front(), cpus.back(), cpus.front()});
  for (int round = 0; round < 3; ++round) {
    std::vector<int> thread_of(10, -1);
    pool.parallel_for(10, [&](size_t task, int thread) { thread_of[task] = thread; });
    for (size_t t = 0; t < thread_of.size(); ++t) EXPECT_EQ(thread_of[t], static_cast<int>(t % 3)) << t;
  }
}

}  // namespace
}  // namespace r1
