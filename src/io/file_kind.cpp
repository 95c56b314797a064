#include "io/file_kind.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "paramdelta/error.h"

namespace paramdelta {

namespace fs = std::filesystem;

namespace {

constexpr const char* kConvertHint =
    "convert to safetensors, e.g. load the model with transformers and save it with "
    "save_pretrained(DIR, safe_serialization=True); paramdelta does not read PyTorch checkpoints yet";
constexpr const char* kGgufHint =
    "paramdelta reads Hugging Face safetensors weights; use the model's "
    "safetensors release instead";

bool starts_with(std::span<const std::byte> head, std::string_view prefix, bool ignore_case = false) {
  if (head.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = static_cast<char>(head[i]);
    if (ignore_case) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c != prefix[i]) return false;
  }
  return true;
}

// Text files may open with a byte order mark and white space.
std::span<const std::byte> skip_text_lead(std::span<const std::byte> head) {
  if (starts_with(head, "\xEF\xBB\xBF")) head = head.subspan(3);
  while (!head.empty() && std::isspace(static_cast<unsigned char>(head.front()))) head = head.subspan(1);
  return head;
}

std::string remote_hint(std::string_view scheme, bool output) {
  if (output) return "write to a local path, az://CONTAINER/PATH or s3://BUCKET/PATH, and copy it from there";
  std::string example;
  if (scheme == "s3") example = ", e.g. with 'aws s3 sync'";
  if (scheme == "gs") example = ", e.g. with 'gcloud storage cp -r'";
  if (scheme == "az" || scheme == "abfs" || scheme == "abfss")
    example = ", e.g. with 'azcopy copy --recursive'";
  if (scheme == "http" || scheme == "https")
    example = ", e.g. with 'huggingface-cli download' for a Hub model or 'curl -LO'";
  if (scheme == "hf") example = ", e.g. with 'huggingface-cli download'";
  return "download it to a local directory first" + example + ", and give that path";
}

}  // namespace

std::string_view url_scheme(std::string_view spec) {
  const std::size_t colon = spec.find("://");
  if (colon == std::string_view::npos || colon == 0) return {};
  const std::string_view scheme = spec.substr(0, colon);
  if (!std::isalpha(static_cast<unsigned char>(scheme.front()))) return {};
  for (char c : scheme) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.') return {};
  }
  return scheme;
}

void refuse_url(std::string_view spec, bool output) {
  const std::string_view scheme = url_scheme(spec);
  if (scheme.empty()) return;
  if (scheme == "az" || scheme == "s3") {
    // Object store URLs are taken where models and deltas are read and
    // written (storage/object_store.h); one that reaches here is malformed,
    // or names a place that takes local files only (a tokenizer directory).
    throw Error(
        ErrorKind::kUsage, "is not a location this takes", ErrorContext{std::string(spec)},
        "models and deltas may be az://CONTAINER/PATH or s3://BUCKET/PATH; other inputs are local paths");
  }
  throw Error(ErrorKind::kNotFound, std::string(scheme) + ":// locations are not supported yet",
              ErrorContext{std::string(spec)}, remote_hint(scheme, output));
}

void refuse_foreign_weights(std::span<const std::byte> head, std::uint64_t size, const std::string& label) {
  auto refuse = [&](const std::string& what, const std::string& hint) {
    throw Error(ErrorKind::kInvalidInput, what, ErrorContext{label}, hint);
  };
  if (size == 0) {
    refuse("is an empty file: 0 bytes, not even the 8-byte header length of safetensors",
           "the download or copy did not finish; fetch it again");
  }
  if (starts_with(head, "PK\x03\x04")) {
    refuse("is a ZIP archive, as PyTorch's torch.save writes, not safetensors", kConvertHint);
  }
  // Pickle protocols 2 to 5 open with the PROTO opcode; torch.save wrote raw pickles before PyTorch 1.6.
  if (head.size() >= 2 && head[0] == std::byte{0x80} && head[1] >= std::byte{2} && head[1] <= std::byte{5}) {
    refuse("is a Python pickle, as older PyTorch checkpoints are, not safetensors", kConvertHint);
  }
  if (starts_with(head, "GGUF")) refuse("is a GGUF file, llama.cpp's format, not safetensors", kGgufHint);
  const auto text = skip_text_lead(head);
  if (starts_with(text, "version https://git-lfs")) {
    refuse("is a Git LFS pointer, not the file it stands for",
           "fetch the weights with 'git lfs pull' in the clone, or download the file again");
  }
  if (starts_with(text, "<!doctype html", true) || starts_with(text, "<html", true)) {
    refuse("is an HTML page, not safetensors",
           "a login or error page was saved in place of the file; download it again");
  }
  if (starts_with(text, "<?xml")) {
    refuse("is an XML document, not safetensors",
           "a storage service's error response was saved in place of the file; download it again");
  }
}

void refuse_foreign_weight_directory(const fs::path& dir) {
  std::set<std::string> names;  // sorted: the message names the same file every time
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) names.insert(entry.path().filename().string());
  }
  auto ends_with = [](const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (const auto& name : names) {
    // training_args.bin and the like are pickles too, but not weights.
    const bool pytorch = (ends_with(name, ".bin") && name.find("model") != std::string::npos) ||
                         ends_with(name, ".pt") || ends_with(name, ".pth");
    if (pytorch) {
      throw Error(ErrorKind::kInvalidInput, "holds PyTorch weights ('" + name + "'), not safetensors",
                  ErrorContext{dir.string()}, kConvertHint);
    }
    if (ends_with(name, ".gguf")) {
      throw Error(ErrorKind::kInvalidInput, "holds GGUF weights ('" + name + "'), not safetensors",
                  ErrorContext{dir.string()}, kGgufHint);
    }
  }
}

}  // namespace paramdelta
