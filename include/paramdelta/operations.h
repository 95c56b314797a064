// The ParamΔ operations: compute a delta, apply it (scaled) to a base, combine
// deltas, verify exactness, analyze a delta, inspect checkpoints. Each is one
// call taking an options struct and returning a summary; the command line is
// a thin layer over these.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "paramdelta/dtype.h"
#include "paramdelta/progress.h"

namespace paramdelta {

// What to do when the base and the post model disagree on a tensor's first
// dimension for embedding/head tensors (a vocabulary extended with chat tokens).
enum class VocabMismatch { kError, kOverlap };

struct RunOptions {
  int threads = 0;  // 0: one per hardware thread
  ProgressSink* progress = nullptr;
  bool force = false;                            // replace an existing output
  std::uint64_t max_shard_size = 5'000'000'000;  // bytes, for directory outputs
  // When set and it becomes true (from any thread), the operation stops
  // between chunks with an Error of kind kCancelled and leaves no output.
  const std::atomic<bool>* cancel = nullptr;
};

struct ComputeOptions {
  std::string base;  // model directory or .safetensors file (or a location the resolver knows)
  std::string post;
  std::filesystem::path output;  // a directory, or a single file if it ends with .safetensors
  // nullopt: lossless (delta in the post model's dtype plus a sparse list of
  // the elements that dtype cannot carry exactly). A dtype: compact and lossy.
  std::optional<DType> delta_dtype;
  VocabMismatch vocab_mismatch = VocabMismatch::kError;
  bool allow_non_finite = false;
  // Base and post whose config.json names different architectures (model_type
  // or architectures) are an error unless this is set; the manifest records it.
  bool allow_architecture_mismatch = false;
  RunOptions run;
};

struct ApplyOptions {
  std::string base;              // the new base model
  std::string delta;             // a delta directory or single file
  std::filesystem::path output;  // a directory, or a single file if it ends with .safetensors
  double scale = 1.0;
  std::optional<DType> dtype;  // nullopt: each tensor keeps the new base's dtype
  VocabMismatch vocab_mismatch = VocabMismatch::kError;
  bool allow_non_finite = false;
  // A new base of another architecture than the delta's base is an error unless this is set.
  bool allow_architecture_mismatch = false;
  RunOptions run;
};

// How combine merges the deltas' values of one element.
enum class CombineMethod {
  kSum,       // Σ wᵢ·Δᵢ: fusion, or (all weights 1) a chain of updates
  kTies,      // TIES: keep each delta's top `density` by magnitude, elect a sign, weighted mean of agreeing
  kDare,      // DARE: drop elements with probability 1 − density, rescale by 1/density, then Σ wᵢ·Δᵢ
  kDareTies,  // DARE's drop and rescale, then TIES's sign election and mean
};
std::string combine_method_name(CombineMethod method);  // "sum", "ties", "dare", "dare-ties"
std::optional<CombineMethod> parse_combine_method(const std::string& name);  // nullopt if unknown

struct CombineOptions {
  std::vector<std::string> deltas;
  std::vector<double> weights;  // empty: all 1 (a sum, i.e. chaining); else one per delta
  CombineMethod method = CombineMethod::kSum;
  double density = 1.0;    // ties/dare: fraction of each delta's elements kept, in (0, 1]
  std::uint64_t seed = 0;  // dare: the random drop is a function of (seed, delta, tensor, element)
  std::filesystem::path output;
  std::optional<DType> delta_dtype;  // nullopt: the first delta's dtype per tensor
  RunOptions run;
};

struct VerifyOptions {
  std::string base;
  std::string delta;
  std::string expect;
  double scale = 1.0;
  RunOptions run;
};

struct TensorCount {
  std::string name;
  std::string detail;
};

// What an operation did, for the final summary line and --json.
struct OperationSummary {
  std::string operation;
  std::string output;
  std::uint64_t tensors = 0;
  std::uint64_t elements = 0;
  std::uint64_t bytes_read = 0;
  std::uint64_t bytes_written = 0;
  double seconds = 0;
  int threads = 1;
  // compute: elements the delta dtype could not carry exactly (stored as exceptions)
  std::uint64_t exception_elements = 0;
  std::string encoding;  // compute/combine: the delta encoding written
  bool lossless = false;
  std::uint64_t post_bytes = 0;    // compute: size of the post model's tensors, to compare the delta with
  std::vector<std::string> notes;  // policy decisions and warnings, one line each
};

struct TensorVerification {
  std::string name;
  std::uint64_t elements = 0;
  std::uint64_t differing = 0;
  double max_abs_difference = 0;
  std::string note;  // e.g. "missing in output"
};

struct VerifyReport {
  OperationSummary summary;
  std::vector<TensorVerification> tensors;
  std::uint64_t total_elements = 0;
  std::uint64_t total_differing = 0;
  // The base's checksums equal those recorded at compute time; nullopt when
  // the delta recorded none to compare (a delta without a manifest).
  std::optional<bool> base_matches_manifest;
  bool exact() const { return total_differing == 0; }
};

// analyze: how large a delta is, and how it lines up with the base it came
// from, with a new base's drift from that base (new base − base), and with a
// second delta. The numbers to look at before trusting a transfer.
struct AnalyzeOptions {
  std::string delta;
  std::string base;            // optional: the model the delta was computed from
  std::string new_base;        // optional, needs `base`: compares Δ with new_base − base
  std::string other_delta;     // optional: compares Δ with a second delta
  std::filesystem::path html;  // optional: also writes the report as an HTML page (report.h) here,
                               // or as analysis.html in it when it is a directory or ends in '/'
  RunOptions run;
};

// Δ against another vector V over the same elements (those where both are finite).
struct VectorComparison {
  std::uint64_t elements = 0;
  double delta_norm = 0;      // ‖Δ‖ over these elements
  double norm = 0;            // ‖V‖
  double ratio = 0;           // ‖V‖ / ‖Δ‖ (infinite when Δ is zero and V is not; 0 when both are)
  double cosine = 0;          // ⟨Δ, V⟩ / (‖Δ‖·‖V‖); 0 when either is zero
  double opposite_signs = 0;  // of the elements where both are non-zero, the share with opposite signs
  std::uint64_t skipped = 0;  // elements left out: NaN or infinite in Δ or V
};

struct TensorAnalysis {
  std::string name;
  std::uint64_t elements = 0;  // elements analysed (a vocabulary-overlap delta: its delta rows)
  double delta_norm = 0;       // ‖Δ‖ over its finite elements
  double max_abs_delta = 0;
  std::uint64_t zero_elements = 0;
  std::uint64_t non_finite_elements = 0;
  std::optional<VectorComparison> base;   // V = the base
  std::optional<VectorComparison> drift;  // V = new base − base
  std::optional<VectorComparison> other;  // V = the other delta
  std::vector<std::string> notes;         // what was left out, and why

  // ‖Δ‖ / ‖base‖ over the elements compared with the base: NaN without a
  // base; infinite for a zero base under a non-zero Δ, 0 when both are zero.
  double relative_change() const;
};

struct AnalyzeReport {
  OperationSummary summary;
  std::vector<TensorAnalysis> tensors;  // the delta's order
  // The repeated blocks ("model.layers.0", …: the tensors named up to an
  // all-digit component), in block order.
  std::vector<TensorAnalysis> blocks;
  TensorAnalysis total;  // every analysed element of every tensor
  // With a base: its tensors hash to the checksums the delta recorded.
  std::optional<bool> base_matches_manifest;
};

struct InspectTensor {
  std::string name;
  std::string dtype;
  std::vector<std::uint64_t> shape;
  std::uint64_t bytes = 0;
  std::string file;        // the shard holding it
  std::string delta_kind;  // deltas: "delta", "full" or "carry"
  std::uint64_t exceptions = 0;
};

struct InspectReport {
  std::string path;
  std::string kind;  // "model" or "delta"
  std::vector<InspectTensor> tensors;
  std::uint64_t total_bytes = 0;
  std::uint64_t parameters = 0;  // elements of floating-point tensors
  std::size_t shards = 0;
  std::vector<std::pair<std::string, std::string>> metadata;  // first shard's __metadata__ (manifest omitted)
  std::vector<std::string> files;                             // non-weight files present
  std::string manifest_json;                                  // deltas: the manifest (empty without one)
  std::vector<std::string> notes;                             // what the reader should know about it
  std::string quantization;  // models: the quantization method when the model is quantized, else empty
  std::vector<std::string> warnings;
};

OperationSummary compute_delta(const ComputeOptions& options);
OperationSummary apply_delta(const ApplyOptions& options);
OperationSummary combine_deltas(const CombineOptions& options);
VerifyReport verify_delta(const VerifyOptions& options);
AnalyzeReport analyze_delta(const AnalyzeOptions& options);

InspectReport inspect(const std::string& path);

// Copies a model or delta between locations (local paths, object stores,
// Hub ids as sources) with the same atomicity as every output: the source is
// checked whole (headers, index, manifest) before any weight byte moves, its
// weight files are copied byte for byte and the other files paramdelta
// reads (config, tokenizer, index, manifest) with them; other files are
// left behind and named in the notes.
struct CopyOptions {
  std::string source;
  std::filesystem::path destination;
  RunOptions run;
};
OperationSummary copy(const CopyOptions& options);

// A byte count for people: "512 B", "1.5 kB", "12.3 MB", "4.20 GB" (decimal units).
std::string human_bytes(std::uint64_t bytes);

// JSON renderings shared by the CLI and future bindings.
std::string to_json(const OperationSummary& summary);
std::string to_json(const VerifyReport& report);
std::string to_json(const AnalyzeReport& report);
std::string to_json(const InspectReport& report);

}  // namespace paramdelta
