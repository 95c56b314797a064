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

// "5GB", "500MB", "2GiB", "1000000" -> bytes (decimal units like the Hub; *iB binary).
std::uint64_t parse_size(const std::string& text, const std::string& flag);
// "bf16" / "BF16" / "f16" / "f32" ...; "auto" -> nullopt.
std::optional<DType> parse_dtype_flag(const std::string& text, const std::string& flag);
VocabMismatch parse_vocab_flag(const std::string& text);

// Prints the summary: JSON on stdout with --json, else one human line (unless quiet) plus notes on stderr.
void print_summary(const OperationSummary& summary, const SharedFlags& flags);

}  // namespace paramdelta::cli
