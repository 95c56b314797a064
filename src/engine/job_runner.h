// Runs a sequence of per-tensor jobs as one stream of fixed-size chunks over
// a thread pool. Chunks are handed out in order, so all threads work on the
// same few tensors at a time (bounded memory, sequential I/O); each job's
// finalize step runs exactly once, in job order, after its last chunk.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/thread_pool.h"
#include "paramdelta/operations.h"

namespace paramdelta::engine {

struct Job {
  std::uint64_t elements = 0;
  std::uint64_t bytes_per_element = 0;  // input + output bytes moved per element, for progress
  // Called once, before the first chunk, with the number of chunks.
  std::function<void(std::size_t chunks)> prepare;
  // Processes elements [begin, end) of the job; `chunk` = begin / chunk size.
  std::function<void(std::size_t chunk, std::uint64_t begin, std::uint64_t end, int worker)> run_chunk;
  // Called once, in job order, after every chunk of this job is done.
  std::function<void()> finalize;
  // Called with ranges [begin, end) of elements that every chunk has finished
  // with, in ascending order and coalesced (kReleaseElements or up to the
  // job's end), so that the job can drop the mapped input pages it no longer
  // reads. Calls are serialised and arrive in hand-out order across jobs.
  std::function<void(std::uint64_t begin, std::uint64_t end)> release;
};

// Elements per release call: small enough to keep the resident set in the
// megabytes, large enough that the system calls cost nothing measurable.
inline constexpr std::uint64_t kReleaseElements = std::uint64_t{1} << 18;

// How many chunks may be handed out from the oldest unfinished one on: a few
// per worker, so that a worker waiting on the disk holds the others (and the
// unreleased pages behind it) to a few chunks each, and memory does not
// depend on how long the wait is.
inline constexpr std::size_t max_chunks_ahead(int workers) {
  return 4 * static_cast<std::size_t>(workers < 1 ? 1 : workers);
}

// With `cancel`, no chunk is handed out once it reads true: the run ends with
// an Error of kind kCancelled, and no job is finalized after that.
void run_jobs(ThreadPool& pool, std::vector<Job>& jobs, ProgressSink* progress, std::uint64_t chunk_elements,
              const std::atomic<bool>* cancel = nullptr);

}  // namespace paramdelta::engine
