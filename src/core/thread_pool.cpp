// ThreadPool: generation-counted start signal, atomic task counter, condition variable for completion.
#include "thread_pool.h"

#include <algorithm>

#include "numa.h"

namespace r1 {

ThreadPool::ThreadPool(int n_threads, std::vector<int> cpus) : cpus_(std::move(cpus)) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  if (!cpus_.empty()) cpus_.resize(static_cast<size_t>(n_threads), cpus_.back());
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  start_cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_tasks(int thread_index) {
  const bool static_schedule = !cpus_.empty();
  for (size_t step = 0;; ++step) {
    const size_t task = static_schedule ? static_cast<size_t>(thread_index) + step * static_cast<size_t>(n_threads_)
                                        : next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks_) break;
    try {
      (*job_)(task, thread_index);
    } catch (...) {
      std::lock_guard lock(error_mutex_);
      if (!first_error_) first_error_ = std::current_exception();
    }
  }
}

void ThreadPool::worker_loop(int thread_index) {
  if (!cpus_.empty()) pin_current_thread({cpus_[static_cast<size_t>(thread_index)]});
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      start_cv_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
    }
    run_tasks(thread_index);
    {
      std::lock_guard lock(mutex_);
      if (--busy_workers_ == 0) done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(size_t n_tasks, const std::function<void(size_t task, int thread)>& fn) {
  if (n_tasks == 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (size_t t = 0; t < n_tasks; ++t) fn(t, 0);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    job_ = &fn;
    n_tasks_ = n_tasks;
    next_task_.store(0, std::memory_order_relaxed);
    first_error_ = nullptr;
    busy_workers_ = static_cast<int>(workers_.size());
    ++generation_;
  }
  start_cv_.notify_all();
  run_tasks(0);
  std::exception_ptr error;
  {
    std::unique_lock lock(mutex_);
    done_cv_.wait(lock, [&] { return busy_workers_ == 0; });
    job_ = nullptr;
    error = first_error_;
    first_error_ = nullptr;
  }
  if (error) std::rethrow_exception(error);
}

void ThreadPool::parallel_range(size_t n, size_t min_chunk,
                                const std::function<void(size_t begin, size_t end, int thread)>& fn) {
  if (n == 0) return;
  min_chunk = std::max<size_t>(1, min_chunk);
  // A few chunks per thread balance uneven work without paying much per chunk.
  const size_t target_chunks = static_cast<size_t>(n_threads_) * 4;
  const size_t even = (n + target_chunks - 1) / target_chunks;
  const size_t chunk = std::max<size_t>(1, (even + min_chunk - 1) / min_chunk) * min_chunk;
  const size_t n_chunks = (n + chunk - 1) / chunk;
  parallel_for(n_chunks, [&](size_t c, int thread) {
    const size_t begin = c * chunk;
    fn(begin, std::min(n, begin + chunk), thread);
  });
}

}  // namespace r1
