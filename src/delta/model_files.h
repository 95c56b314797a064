// The non-weight files of a Hugging Face model directory and how each
// operation treats them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/model_directory.h"

namespace paramdelta {

// Names of the tokenizer files present in `dir`.
std::vector<std::string> present_tokenizer_files(const std::filesystem::path& dir);

// The largest JSON file an operation copies (tokenizer.json files reach tens of MB).
inline constexpr std::uint64_t kMaxCarriedJsonBytes = 512ull << 20;

// Parses each JSON file among `files` strictly (syntax, nesting depth,
// duplicate keys, an object at the top) and throws paramdelta::Error naming
// the first one that fails. Operations call it on every file they will copy
// into an output, before writing anything: a broken file is refused where it
// is found, not carried into a delta or model to fail a later command.
void check_carried_json_files(const std::vector<std::filesystem::path>& files);

// The embedding / output-head tensor pairs we know: when one model ties its
// head to its embedding (no head tensor), the embedding stands in for it.
struct TiedPair {
  const char* head;
  const char* embedding;
};
const std::vector<TiedPair>& tied_pairs();
// True for embedding and head tensors, whose first dimension is the vocabulary.
bool is_vocabulary_tensor(const std::string& name);

}  // namespace paramdelta
