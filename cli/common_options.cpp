#include "common_options.h"

#include <cctype>
#include <cstdio>
#include <iostream>

#include "delta/operation_support.h"
#include "paramdelta/error.h"

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
  run.max_shard_size = parse_size(max_shard_size, "--max-shard-size");
  if (!quiet && !json && ProgressBar::stderr_is_terminal()) {
    bar = std::make_unique<ProgressBar>();
    run.progress = bar.get();
  }
  return run;
}

std::uint64_t parse_size(const std::string& text, const std::string& flag) {
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  std::string number = text.substr(0, i), unit = text.substr(i);
  for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  double value = 0;
  try {
    value = number.empty() ? -1 : std::stod(number);
  } catch (...) {
    value = -1;
  }
  double scale = 0;
  if (unit.empty() || unit == "B")
    scale = 1;
  else if (unit == "KB")
    scale = 1e3;
  else if (unit == "MB")
    scale = 1e6;
  else if (unit == "GB")
    scale = 1e9;
  else if (unit == "TB")
    scale = 1e12;
  else if (unit == "KIB")
    scale = 1024.0;
  else if (unit == "MIB")
    scale = 1024.0 * 1024;
  else if (unit == "GIB")
    scale = 1024.0 * 1024 * 1024;
  if (value <= 0 || scale == 0) {
    throw Error(ErrorKind::kUsage, flag + " '" + text + "' is not a size", ErrorContext{},
                "use a positive number with a unit such as 5GB, 500MB or 2GiB");
  }
  return static_cast<std::uint64_t>(value * scale);
}

std::optional<DType> parse_dtype_flag(const std::string& text, const std::string& flag) {
  std::string up;
  for (char c : text) up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up == "AUTO") return std::nullopt;
  if (up == "BF16" || up == "BFLOAT16") return DType::kBF16;
  if (up == "F16" || up == "FP16" || up == "FLOAT16") return DType::kF16;
  if (up == "F32" || up == "FP32" || up == "FLOAT32") return DType::kF32;
  throw Error(ErrorKind::kUsage, flag + " '" + text + "' is not supported", ErrorContext{},
              "use bf16, f16 or f32");
}

VocabMismatch parse_vocab_flag(const std::string& text) {
  if (text == "error") return VocabMismatch::kError;
  if (text == "overlap") return VocabMismatch::kOverlap;
  throw Error(ErrorKind::kUsage, "--vocab-mismatch '" + text + "' is not a policy", ErrorContext{},
              "use 'error' or 'overlap'");
}

void print_summary(const OperationSummary& s, const SharedFlags& flags) {
  if (flags.json) {
    std::cout << to_json(s) << "\n";
    return;
  }
  for (const auto& note : s.notes) {
    if (!flags.quiet) std::cerr << "note: " << note << "\n";
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
