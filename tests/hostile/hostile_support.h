// Helpers for the bad-input suite: building malformed files from a valid
// starting point, small valid models and deltas to pair them with, and the
// one expectation every rejection must meet (exit code 1, exactly one line on
// stderr naming what is wrong, and nothing left behind).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace paramdelta::testing {

// A safetensors file as a JSON header plus data bytes, to be mutated by tests.
struct SafetensorsParts {
  nlohmann::ordered_json header;
  std::string data;
  std::string bytes() const;  // 8-byte length + header text + data
};

// Two tensors: "a" BF16 [2, 3] at [0, 12) and "b" F32 [2] at [12, 20), plus metadata.
SafetensorsParts valid_parts();

// Raw file image from header text (not necessarily JSON) and data.
std::string raw_image(std::uint64_t header_length, const std::string& header_text, const std::string& data);

// Reads a safetensors file back into parts (the file must be well formed).
SafetensorsParts read_parts(const std::filesystem::path& file);

// A small valid model directory (model.safetensors + config.json) with
// tensors "a" (BF16 [2, 3]) and "b" (F32 [2]); `variant` changes the values.
void write_small_model(const std::filesystem::path& dir, int variant);

// root/base and root/post (write_small_model variants 0 and 1) and
// root/delta, their delta made by the real `paramdelta compute`: the valid
// inputs the malformed cases start from. Returns compute's result.
CommandResult write_valid_pair_and_delta(const std::filesystem::path& root);

// Model directory whose weights file is `weights` (any bytes) and a valid config.json.
void write_model_with_weights(const std::filesystem::path& dir, const std::string& weights);

// The error line of a rejected run: exit code 1, exactly one line on stderr,
// starting "paramdelta: error:", never an internal error, and containing each
// of `mentions` (the file, the tensor or field, what is wrong).
void expect_rejected(const CommandResult& result, const std::vector<std::string>& mentions);

// Nothing at `output`, and no hidden temporary file or directory beside it.
void expect_no_output(const std::filesystem::path& output);
// Hidden staging leftovers (".<name>.paramdelta-*.tmp") in a directory.
std::vector<std::string> staging_leftovers(const std::filesystem::path& dir);

// A string of `depth` nested JSON arrays ("[[[...]]]").
std::string nested_arrays(int depth);

}  // namespace paramdelta::testing
