// ThreadPool: a fixed set of persistent workers that run one parallel loop at a time. The calling thread
// takes part, so a pool of N threads has N-1 workers. Idle threads poll for about 200 µs before they sleep, so
// back-to-back loops (a decode step's) start and end without a kernel round trip. A task that throws has its
// first exception rethrown on the caller after the loop has drained; the other tasks still run (no partial,
// half-joined state).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace r1 {

class ThreadPool {
 public:
  // n_threads <= 0 means one per hardware thread. cpus: empty, or one CPU per thread (index 0 is the calling
  // thread, which the pool leaves alone); each worker pins itself to its CPU and the loops switch to a static
  // schedule (task i always on thread i % size()), so a thread keeps reading the same weight rows (numa.h).
  explicit ThreadPool(int n_threads = 0, std::vector<int> cpus = {});
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }
  // Whether the workers are pinned to CPUs (--numa): then a thread's first touch decides where its pages live.
  bool pinned() const { return !cpus_.empty(); }

  // Runs fn(task, thread) for task in [0, n_tasks) spread over all threads; returns when every task is done.
  // thread is in [0, size()) and identifies the executing thread (for per-thread scratch buffers).
  void parallel_for(size_t n_tasks, const std::function<void(size_t task, int thread)>& fn);

  // Splits [0, n) into contiguous chunks whose sizes are multiples of min_chunk (the last one excepted):
  // fn(begin, end, thread). Kernels that work on groups of rows keep whole groups that way.
  void parallel_range(size_t n, size_t min_chunk, const std::function<void(size_t begin, size_t end, int thread)>& fn);

 private:
  void worker_loop(int thread_index);
  void run_tasks(int thread_index);

  int n_threads_;
  std::vector<int> cpus_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::atomic<uint64_t> generation_{0};  // changed under mutex_ only (see worker_loop)
  std::atomic<bool> stopping_{false};
  std::atomic<int> busy_workers_{0};
  bool spin_ = true;  // idle threads poll a while before sleeping (not when threads outnumber cores)

  // The current loop (valid while a parallel_for is in flight).
  const std::function<void(size_t, int)>* job_ = nullptr;
  size_t n_tasks_ = 0;
  std::atomic<size_t> next_task_{0};
  std::exception_ptr first_error_;
  std::mutex error_mutex_;
};

}  // namespace r1
