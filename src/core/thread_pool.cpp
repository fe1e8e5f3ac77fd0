// ThreadPool: generation-counted start signal, atomic task counter, atomic count of busy workers. Between
// loops a worker spins on the generation for a short while before it sleeps on a condition variable, and the
// caller spins on the busy count before it sleeps: a decode step is hundreds of short loops (a few per layer),
// and a sleep/wake round trip through the kernel costs about 12 µs on the 2-core VMs we measure on, against
// well under 1 µs spinning (docs/PERFORMANCE.md, "A polling thread pool").
#include "thread_pool.h"

#include <algorithm>
#include <chrono>

#include "numa.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace r1 {
namespace {

// How long an idle thread keeps polling before it blocks. Long enough to cover the serial work between two
// loops of a decode step (norms, rope, cache writes: tens of µs), short enough that an idle server does not
// hold the cores.
constexpr auto kSpin = std::chrono::microseconds(200);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Polls done() until it holds or the spin time is up; true when it holds.
template <typename Done>
bool spin_until(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (unsigned i = 1;; ++i) {
    if (done()) return true;
    cpu_relax();
    if (i % 64 == 0) {
      // Lets a thread waiting for this core run (other processes, or more threads than cores): returns at
      // once when there is none.
      std::this_thread::yield();
      if (std::chrono::steady_clock::now() > deadline) return done();
    }
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads, std::vector<int> cpus) : cpus_(std::move(cpus)) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  n_threads_ = n_threads;
  if (!cpus_.empty()) cpus_.resize(static_cast<size_t>(n_threads), cpus_.back());
  // More threads than cores: a spinning thread would hold a core another one needs, so every wait sleeps.
  spin_ = n_threads <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  workers_.reserve(static_cast<size_t>(n_threads - 1));
  for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_.store(true, std::memory_order_release);
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
  const auto started = [&] {
    return stopping_.load(std::memory_order_acquire) || generation_.load(std::memory_order_acquire) != seen;
  };
  for (;;) {
    if (!spin_ || !spin_until(started)) {
      // The generation only changes under the mutex, so this check and the wait cannot miss a start.
      std::unique_lock lock(mutex_);
      start_cv_.wait(lock, started);
    }
    if (stopping_.load(std::memory_order_acquire)) return;
    seen = generation_.load(std::memory_order_acquire);
    run_tasks(thread_index);
    if (busy_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      // The caller may be asleep: take the mutex so the notification cannot fall between its check and wait.
      std::lock_guard lock(mutex_);
      done_cv_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(size_t n_tasks, const std::function<void(size_t task, int thread)>& fn) {
  if (n_tasks == 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (size_t t = 0; t < n_tasks; ++t) fn(t, 0);
    return;
  }
  job_ = &fn;
  n_tasks_ = n_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  first_error_ = nullptr;
  busy_workers_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    generation_.fetch_add(1, std::memory_order_release);  // publishes the job fields above
  }
  start_cv_.notify_all();
  run_tasks(0);
  const auto done = [&] { return busy_workers_.load(std::memory_order_acquire) == 0; };
  if (!spin_ || !spin_until(done)) {
    std::unique_lock lock(mutex_);
    done_cv_.wait(lock, done);
  }
  job_ = nullptr;
  std::exception_ptr error = first_error_;
  first_error_ = nullptr;
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
