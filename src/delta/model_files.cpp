#include "delta/model_files.h"

#include "io/json_strict.h"

namespace paramdelta {

std::vector<std::string> present_tokenizer_files(const std::filesystem::path& dir) {
  std::vector<std::string> present;
  std::error_code ec;
  for (const auto& name : tokenizer_file_names()) {
    if (std::filesystem::is_regular_file(dir / name, ec)) present.push_back(name);
  }
  return present;
}

void check_carried_json_files(const std::vector<std::filesystem::path>& files) {
  for (const auto& file : files) {
    if (file.extension() != ".json") continue;
    const std::string label = file.string();
    check_json_object_strict(read_small_file(label, kMaxCarriedJsonBytes), label);
  }
}

const std::vector<TiedPair>& tied_pairs() {
  static const std::vector<TiedPair> pairs = {
      {"lm_head.weight", "model.embed_tokens.weight"},   // Llama, Mistral, Qwen2, Gemma...
      {"lm_head.weight", "transformer.wte.weight"},      // GPT-2 style
      {"embed_out.weight", "gpt_neox.embed_in.weight"},  // GPT-NeoX / Pythia
      {"lm_head.weight", "model.language_model.embed_tokens.weight"},
  };
  return pairs;
}

bool is_vocabulary_tensor(const std::string& name) {
  for (const auto& p : tied_pairs()) {
    if (name == p.head || name == p.embedding) return true;
  }
  return false;
}

}  // namespace paramdelta
