// paramdelta logits: runs a model on given token ids and prints its
// next-token logits at every position, plus the sliding-window perplexity of
// the sequence. A tool for checking the forward pass against other
// implementations (no tokenizer involved).
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "command.h"
#include "paramdelta/error.h"
#include "paramdelta/evaluate.h"
#include "paramdelta/model.h"

namespace paramdelta::cli {

namespace {

struct LogitsOptions {
  std::string model;
  std::string ids;
  bool json = false;
  int threads = 0;
  std::size_t context = 2048;
  std::size_t stride = 0;
  std::size_t top = 5;
};

std::vector<std::int32_t> parse_ids(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(pos, comma - pos);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    std::int32_t id = 0;
    auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || ec != std::errc() || end != item.data() + item.size() || id < 0) {
      throw Error(ErrorKind::kUsage, "'" + item + "' is not a token id", ErrorContext{{}, {}, "--ids"},
                  "give non-negative integers separated by commas, e.g. --ids 1,15043,3186");
    }
    ids.push_back(id);
    pos = comma + 1;
  }
  return ids;
}

int run_logits(const LogitsOptions& options) {
  set_compute_threads(options.threads);
  const std::vector<std::int32_t> ids = parse_ids(options.ids);
  Model model = Model::load(options.model);
  const auto vocab = static_cast<std::size_t>(model.config().vocab_size);
  KvCache cache = model.new_cache(ids.size());
  const std::vector<float> logits = model.forward(cache, ids, ids.size());

  std::optional<PerplexityResult> perplexity;
  if (ids.size() >= 2) {
    PerplexityOptions ppl;
    ppl.context = options.context;
    ppl.stride = options.stride;
    perplexity = perplexity_of_ids(model, ids, ppl);
  }

  if (options.json) {
    nlohmann::json out;
    out["model"] = options.model;
    out["ids"] = ids;
    out["vocab_size"] = vocab;
    nlohmann::json rows = nlohmann::json::array();
    for (std::size_t r = 0; r < ids.size(); ++r) {
      nlohmann::json row = nlohmann::json::array();
      for (std::size_t v = 0; v < vocab; ++v) row.push_back(static_cast<double>(logits[r * vocab + v]));
      rows.push_back(std::move(row));
    }
    out["logits"] = std::move(rows);
    if (perplexity) {
      out["perplexity"] = perplexity->perplexity;
      out["total_nll"] = perplexity->total_nll;
      out["tokens_scored"] = perplexity->tokens_scored;
      out["window"] = perplexity->window;
      out["stride"] = perplexity->stride;
      out["windows"] = perplexity->windows;
    } else {
      out["perplexity"] = nullptr;
    }
    std::cout << out.dump() << "\n";
    return 0;
  }

  for (const std::string& note : model.notes()) std::cerr << "paramdelta: note: " << with_flags(note) << "\n";
  std::printf("position  token  top %zu next tokens (id:logit)\n", options.top);
  for (std::size_t r = 0; r < ids.size(); ++r) {
    std::vector<std::size_t> order(vocab);
    for (std::size_t v = 0; v < vocab; ++v) order[v] = v;
    const float* row = logits.data() + r * vocab;
    const std::size_t k = std::min(options.top, vocab);
    std::partial_sort(
        order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
        [&](std::size_t a, std::size_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
    std::printf("%8zu  %5d ", r, ids[r]);
    for (std::size_t i = 0; i < k; ++i)
      std::printf(" %zu:%.4f", order[i], static_cast<double>(row[order[i]]));
    std::printf("\n");
  }
  if (perplexity) {
    std::printf("perplexity %.6f over %zu scored tokens (window %zu, stride %zu)\n", perplexity->perplexity,
                perplexity->tokens_scored, perplexity->window, perplexity->stride);
  }
  return 0;
}

std::function<int()> setup(CLI::App& app) {
  auto options = std::make_shared<LogitsOptions>();
  app.add_option("--model", options->model, "model directory (config.json + safetensors)")->required();
  app.add_option("--ids", options->ids, "token ids, comma-separated (e.g. 1,15043,3186)")->required();
  app.add_flag("--json", options->json, "print JSON: every position's full logits and the perplexity");
  app.add_option("--context", options->context, "perplexity window, capped at max_position_embeddings")
      ->capture_default_str()
      ->check(CLI::Range(std::size_t{2}, std::size_t{1} << 40));
  app.add_option("--stride", options->stride, "perplexity stride (default: half the window)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 40));
  app.add_option("--top", options->top, "top next tokens shown per position (text output)")
      ->capture_default_str();
  app.add_option("--threads", options->threads, "compute threads (default: the BLAS's own setting)")
      ->check(CLI::Range(1, 4096));
  return [options] { return run_logits(*options); };
}

static CommandRegistrar registrar{
    {"logits",
     "print a model's next-token logits for given token ids, and their perplexity "
     "(checks the forward pass; no tokenizer needed)",
     setup,
     {}}};

}  // namespace

}  // namespace paramdelta::cli
