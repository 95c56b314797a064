// Builds small Hugging Face style model directories for tests, through the
// library's own writer, with values chosen by the test.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "paramdelta/dtype.h"

namespace paramdelta::testing {

struct TestTensor {
  DType dtype = DType::kBF16;
  std::vector<std::uint64_t> shape;
  std::vector<double> values;  // converted to dtype (round to nearest even); or use raw
  std::vector<std::byte> raw;  // exact element bytes, used when non-empty
};

using TensorMap = std::map<std::string, TestTensor>;

// Writes model.safetensors (or shards when max_shard_size is given) and config.json.
void write_model(const std::filesystem::path& dir, const TensorMap& tensors,
                 const std::string& config_json = "{}", std::uint64_t max_shard_size = 0);

// A small Llama-shaped model: embeddings, `layers` blocks, norm, head (unless tied).
// Values are deterministic pseudo-random from `seed`; `noise_from`/`noise` make
// a perturbed copy of another seed's model (post = base + noise).
TensorMap llama_tensors(DType dtype, int layers, int hidden, int vocab, std::uint64_t seed, bool tied = false,
                        double noise = 0.0, std::uint64_t noise_seed = 0);
std::string llama_config(int layers, int hidden, int vocab, bool tied);

// Reads every tensor of a checkpoint as exact element bytes.
std::map<std::string, std::vector<std::byte>> read_all_bytes(const std::filesystem::path& path,
                                                             const std::string& prefix = "model");

// Stored bytes of `value` in `dtype` (round to nearest even).
std::vector<std::byte> encode_values(DType dtype, const std::vector<double>& values);

// Spacing of `dtype`'s values at `value` (BF16, F16, F32; subnormals included):
// a correctly rounded result is within half of it.
long double ulp_in(DType dtype, long double value);

// Exact stored values of `bytes` (any dtype) as doubles.
std::vector<double> decode_values(DType dtype, const std::vector<std::byte>& bytes);

// One tensor of a checkpoint (model or delta) as doubles, with its dtype and shape.
struct ReadTensor {
  DType dtype = DType::kF32;
  std::vector<std::uint64_t> shape;
  std::vector<double> values;
  std::vector<std::byte> raw;
};
ReadTensor read_tensor(const std::filesystem::path& path, const std::string& name,
                       const std::string& prefix = "model");

// (base, post) value pairs that stress exactness in `dtype`: signed zeros,
// subnormals, magnitudes 2^20 and 2^40 apart (2^14 for F16, whose range is
// smaller), the largest finite values, sign flips. Appended to the vectors.
void append_adversarial_pairs(DType dtype, std::vector<double>& base, std::vector<double>& post);

}  // namespace paramdelta::testing
