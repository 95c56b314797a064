// paramdelta tokenize: encodes text with a model's tokenizer.json (as
// Hugging Face's tokenizers would) and prints the ids, or decodes ids back to
// text. For checking a tokenizer and for scripting.
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "command.h"
#include "io/file_kind.h"
#include "io/json_strict.h"
#include "paramdelta/error.h"
#include "paramdelta/tokenizer.h"

namespace paramdelta::cli {

namespace {

namespace fs = std::filesystem;

constexpr std::uint64_t kMaxTextFileBytes = 4ull << 30;

struct TokenizeOptions {
  std::string tokenizer;
  std::string config;
  std::optional<std::string> text;
  std::string file;
  std::string jsonl;
  std::string decode;
  bool no_special = false;
  bool skip_special = false;
  bool json = false;
};

Tokenizer load(const TokenizeOptions& o) {
  std::error_code ec;
  if (fs::is_directory(o.tokenizer, ec)) {
    if (!o.config.empty()) {
      throw Error(ErrorKind::kUsage,
                  "--config is only for a tokenizer.json file; a model directory brings its own",
                  ErrorContext{{}, {}, "--config"});
    }
    return Tokenizer::from_model_dir(o.tokenizer);
  }
  if (!fs::exists(o.tokenizer, ec)) {
    refuse_url(o.tokenizer, false);
    throw Error(ErrorKind::kUsage, "no such file or directory", ErrorContext{o.tokenizer, {}, "--tokenizer"});
  }
  std::optional<fs::path> config;
  if (!o.config.empty()) config = o.config;
  return Tokenizer::from_files(o.tokenizer, config);
}

std::vector<std::int32_t> parse_ids(const std::string& text) {
  std::vector<std::int32_t> ids;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t end = text.find_first_of(", \t\n", pos);
    const std::size_t stop = end == std::string::npos ? text.size() : end;
    if (stop > pos) {
      std::int32_t id = 0;
      auto [ptr, ec] = std::from_chars(text.data() + pos, text.data() + stop, id);
      if (ec != std::errc() || ptr != text.data() + stop || id < 0) {
        throw Error(ErrorKind::kUsage, "'" + text.substr(pos, stop - pos) + "' is not a token id",
                    ErrorContext{{}, {}, "--decode"}, "give non-negative integers separated by commas");
      }
      ids.push_back(id);
    }
    pos = stop + 1;
  }
  return ids;
}

nlohmann::json encoding_json(const Tokenizer& t, const std::string& text, const TokenizeOptions& o) {
  const std::vector<std::int32_t> ids = t.encode(text, !o.no_special);
  nlohmann::json tokens = nlohmann::json::array();
  for (std::int32_t id : ids) {
    auto token = t.id_to_token(id);
    tokens.push_back(token ? nlohmann::json(*token) : nlohmann::json(nullptr));
  }
  nlohmann::json out;
  out["ids"] = ids;
  out["tokens"] = std::move(tokens);
  out["decoded"] = t.decode(ids, o.skip_special);
  return out;
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

int run(const TokenizeOptions& o) {
  const int inputs =
      (o.text ? 1 : 0) + (!o.file.empty() ? 1 : 0) + (!o.jsonl.empty() ? 1 : 0) + (!o.decode.empty() ? 1 : 0);
  if (inputs != 1) {
    throw Error(ErrorKind::kUsage, "give exactly one of --text, --file, --jsonl or --decode");
  }
  const Tokenizer t = load(o);

  if (!o.decode.empty()) {
    const std::string text = t.decode(parse_ids(o.decode), o.skip_special);
    if (o.json) {
      std::cout << dump(nlohmann::json{{"text", text}}) << "\n";
    } else {
      std::cout << text << "\n";
    }
    return 0;
  }

  if (!o.jsonl.empty()) {
    // One JSON string per line in, one JSON result per line out.
    const std::string all = read_small_file(o.jsonl, kMaxTextFileBytes);
    std::istringstream lines(all);
    std::string line;
    std::size_t number = 0;
    while (std::getline(lines, line)) {
      ++number;
      if (line.empty()) continue;
      const nlohmann::json value = parse_json_strict(line, o.jsonl + ":" + std::to_string(number));
      if (!value.is_string()) {
        throw Error(ErrorKind::kInvalidInput, "expected a JSON string on each line",
                    ErrorContext{o.jsonl + ":" + std::to_string(number), {}, {}});
      }
      std::cout << dump(encoding_json(t, value.get<std::string>(), o)) << "\n";
    }
    return 0;
  }

  const std::string text = o.text ? *o.text : read_small_file(o.file, kMaxTextFileBytes);
  if (o.json) {
    std::cout << dump(encoding_json(t, text, o)) << "\n";
    return 0;
  }
  const std::vector<std::int32_t> ids = t.encode(text, !o.no_special);
  std::string line;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i) line.push_back(' ');
    line += std::to_string(ids[i]);
  }
  std::cout << line << "\n";
  return 0;
}

std::function<int()> setup(CLI::App& app) {
  auto o = std::make_shared<TokenizeOptions>();
  app.add_option("--tokenizer", o->tokenizer, "a model directory, or a tokenizer.json file")->required();
  app.add_option("--config", o->config, "tokenizer_config.json to use with a tokenizer.json file");
  app.add_option("--text", o->text, "text to encode");
  app.add_option("--file", o->file, "file whose whole content (UTF-8) is encoded");
  app.add_option("--jsonl", o->jsonl, "file with one JSON string per line; prints one JSON result per line");
  app.add_option("--decode", o->decode, "token ids to decode, comma-separated");
  app.add_flag("--no-special", o->no_special,
               "do not add BOS/EOS (special tokens in the text are still recognised)");
  app.add_flag("--skip-special", o->skip_special, "leave special tokens out of decoded text");
  app.add_flag("--json", o->json, "print {\"ids\", \"tokens\", \"decoded\"} as JSON");
  return [o] { return run(*o); };
}

const CommandRegistrar registrar{
    {"tokenize", "Encode text to token ids (or decode ids) with a model's tokenizer.json", setup, {}}};

}  // namespace

}  // namespace paramdelta::cli
