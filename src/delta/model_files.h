// The non-weight files of a Hugging Face model directory and how each
// operation treats them.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "io/model_directory.h"

namespace paramdelta {

// Names of the tokenizer files present in `dir`.
std::vector<std::string> present_tokenizer_files(const std::filesystem::path& dir);

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
