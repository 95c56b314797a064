// Flags shared by several commands, and the way results are printed.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "paramdelta/dtype.h"
#include "paramdelta/operations.h"
#include "progress_bar.h"

namespace paramdelta::cli {

struct SharedFlags {
  int threads = 0;
  bool quiet = false;
  bool json = false;
  bool force = false;
  std::string max_shard_size = "5GB";
  std::unique_ptr<ProgressBar> bar;

  // Adds --threads, --quiet, --json (and --force, --max-shard-size when writing).
  void add_to(CLI::App& app, bool writes_output);
  RunOptions run_options();
};

// Prints the summary: JSON on stdout with --json, else one human line (unless quiet) plus notes on stderr.
void print_summary(const OperationSummary& summary, const SharedFlags& flags);

}  // namespace paramdelta::cli
