// The weights of a loaded model, widened to float32 and arranged for the
// forward pass: each layer's q/k/v projections are stacked into one matrix
// (one matrix product instead of three), and so are the MLP's gate and up.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "paramdelta/model.h"

namespace paramdelta::eval {

struct LayerWeights {
  std::vector<float> input_norm;    // [hidden]
  std::vector<float> qkv;           // [q_dim + 2*kv_dim][hidden]: q rows, then k, then v
  std::vector<float> qkv_bias;      // [q_dim + 2*kv_dim], empty without biases
  std::vector<float> output;        // [hidden][q_dim]
  std::vector<float> output_bias;   // [hidden] or empty
  std::vector<float> post_norm;     // [hidden]
  std::vector<float> gate_up;       // [2*intermediate][hidden]: gate rows, then up
  std::vector<float> gate_up_bias;  // [2*intermediate] or empty
  std::vector<float> down;          // [hidden][intermediate]
  std::vector<float> down_bias;     // [hidden] or empty
};

struct ModelWeights {
  std::vector<float> embedding;   // [vocab][hidden]
  std::vector<float> lm_head;     // [vocab][hidden]; empty when tied to the embedding
  std::vector<float> final_norm;  // [hidden]
  std::vector<LayerWeights> layers;
  const std::vector<float>& output_matrix() const { return lm_head.empty() ? embedding : lm_head; }
};

// Opens the checkpoint at `path`, parses its config.json into `config`, checks
// every tensor's presence, dtype and shape against it, then reads them.
// `notes` receives remarks worth telling the user (e.g. tied embeddings inferred).
ModelWeights load_model_weights(const std::filesystem::path& path, ModelConfig& config,
                                std::vector<std::string>& notes);

}  // namespace paramdelta::eval
