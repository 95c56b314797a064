// Small tokenizer.json documents for the tokenizer tests, built in code so
// that each test shows the vocabulary and merges it depends on.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "paramdelta/tokenizer.h"
#include "support/test_support.h"

namespace paramdelta::testing {

using nlohmann::json;

// A BPE model over `tokens` (ids in order) with merges "a b" in rank order.
inline json bpe_model(const std::vector<std::string>& tokens, const std::vector<std::string>& merges) {
  json vocab = json::object();
  for (std::size_t i = 0; i < tokens.size(); ++i) vocab[tokens[i]] = i;
  return json{{"type", "BPE"},          {"dropout", nullptr},     {"unk_token", nullptr}, {"fuse_unk", false},
              {"byte_fallback", false}, {"ignore_merges", false}, {"vocab", vocab},       {"merges", merges}};
}

inline json tokenizer_doc(json model) {
  return json{{"version", "1.0"},          {"truncation", nullptr},
              {"padding", nullptr},        {"added_tokens", json::array()},
              {"normalizer", nullptr},     {"pre_tokenizer", nullptr},
              {"post_processor", nullptr}, {"decoder", nullptr},
              {"model", std::move(model)}};
}

inline json added_token(int id, const std::string& content, bool special, bool lstrip = false,
                        bool rstrip = false, bool single_word = false, bool normalized = false) {
  return json{{"id", id},          {"content", content}, {"single_word", single_word},
              {"lstrip", lstrip},  {"rstrip", rstrip},   {"normalized", normalized},
              {"special", special}};
}

inline std::filesystem::path write_tokenizer(const ScratchDir& dir, const json& doc,
                                             const std::string& name = "tokenizer.json") {
  const auto path = dir / name;
  write_file(path, doc.dump());
  return path;
}

inline Tokenizer load_tokenizer(const ScratchDir& dir, const json& doc) {
  return Tokenizer::from_files(write_tokenizer(dir, doc));
}

}  // namespace paramdelta::testing
