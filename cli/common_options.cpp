#include "common_options.h"

#include <cstdio>
#include <iostream>

#include "option_flags.h"
#include "paramdelta/error.h"
#include "paramdelta/option_values.h"

namespace paramdelta::cli {

void SharedFlags::add_to(CLI::App& app, bool writes_output) {
  app.add_option("--threads", threads, "Worker threads (default: one per CPU)")->check(CLI::Range(0, 256));
  app.add_flag("-q,--quiet", quiet, "No progress bar, no summary line");
  app.add_flag("--json", json, "Print a machine-readable JSON summary on standard output");
  if (writes_output) {
    app.add_flag("-f,--force", force, "Replace the output if it already exists");
    app.add_option("--max-shard-size", max_shard_size,
                   "Largest weight file of a directory output, like the Hub: 5GB, 500MB, 2GiB (default 5GB)");
  }
}

RunOptions SharedFlags::run_options() {
  RunOptions run;
  run.threads = threads;
  run.force = force;
  run.max_shard_size = parse_byte_size(max_shard_size, "max_shard_size");
  if (!quiet && !json && ProgressBar::stderr_is_terminal()) {
    bar = std::make_unique<ProgressBar>();
    run.progress = bar.get();
  }
  return run;
}

void print_summary(const OperationSummary& s, const SharedFlags& flags) {
  if (flags.json) {
    std::cout << to_json(s) << "\n";
    return;
  }
  for (const auto& note : s.notes) {
    if (!flags.quiet) std::cerr << "note: " << with_flags(note) << "\n";
  }
  if (flags.quiet) return;
  const double moved = static_cast<double>(s.bytes_read + s.bytes_written);
  std::printf("%s: %llu tensors, %s read, %s written in %.2f s (%.2f GB/s, %d threads)", s.operation.c_str(),
              static_cast<unsigned long long>(s.tensors), human_bytes(s.bytes_read).c_str(),
              human_bytes(s.bytes_written).c_str(), s.seconds, s.seconds > 0 ? moved / s.seconds / 1e9 : 0.0,
              s.threads);
  if (s.operation == "compute") {
    std::printf("; %s delta, %.3fx the post model's size, %llu exception elements",
                s.lossless ? "lossless" : "lossy",
                s.post_bytes ? static_cast<double>(s.bytes_written) / s.post_bytes : 0.0,
                static_cast<unsigned long long>(s.exception_elements));
  }
  std::printf(" -> %s\n", s.output.c_str());
}

}  // namespace paramdelta::cli
