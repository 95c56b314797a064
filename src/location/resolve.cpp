#include <cstdlib>
#include <regex>

#include "io/file_kind.h"
#include "io/file_ops.h"
#include "io/json_strict.h"
#include "paramdelta/error.h"
#include "paramdelta/location.h"

namespace paramdelta {

namespace fs = std::filesystem;

namespace {

fs::path hub_cache_dir() {
  if (const char* c = std::getenv("HF_HUB_CACHE"); c && *c) return c;
  if (const char* h = std::getenv("HF_HOME"); h && *h) return fs::path(h) / "hub";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return fs::path(x) / "huggingface" / "hub";
  if (const char* home = std::getenv("HOME"); home && *home)
    return fs::path(home) / ".cache" / "huggingface" / "hub";
  return {};
}

bool looks_like_repo_id(const std::string& s) {
  static const std::regex id(
      R"(^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@[A-Za-z0-9._/-]+)?$)");
  return std::regex_match(s, id) && s.find("..") == std::string::npos;
}

}  // namespace

ResolvedLocation resolve_location(const std::string& given) {
  std::error_code ec;
  // A trailing slash changes nothing: "model.safetensors/" is the file.
  const std::string spec = without_trailing_separators(given).string();
  std::string id = spec;
  const bool explicit_hub = spec.rfind("hf://", 0) == 0;
  if (explicit_hub) id = spec.substr(5);
  if (!explicit_hub && fs::exists(spec, ec)) return {fs::path(spec), spec};
  if (!explicit_hub) refuse_url(spec, false);
  if (!looks_like_repo_id(id)) {
    throw Error(ErrorKind::kNotFound, "no such file or directory", ErrorContext{spec},
                explicit_hub ? "a Hub id looks like hf://org/name or hf://org/name@revision" : "");
  }
  std::string revision = "main";
  if (auto at = id.find('@'); at != std::string::npos) {
    revision = id.substr(at + 1);
    id = id.substr(0, at);
  }
  const fs::path cache = hub_cache_dir();
  std::string folder = "models--" + id.substr(0, id.find('/')) + "--" + id.substr(id.find('/') + 1);
  const fs::path repo = cache / folder;
  const std::string hint = "not in the local Hugging Face cache (" + cache.string() +
                           "); download it first, e.g. 'huggingface-cli download " + id + "'";
  if (!fs::is_directory(repo, ec)) {
    throw Error(ErrorKind::kNotFound, "no such local path, and Hub id '" + id + "' is not cached",
                ErrorContext{spec}, hint);
  }
  // A revision is a commit hash (a snapshot folder) or a ref name (refs/<name> holds the hash).
  std::string commit = revision;
  const fs::path ref = repo / "refs" / revision;
  if (fs::is_regular_file(ref, ec)) {
    commit = read_small_file(ref.string(), 4096);
    while (!commit.empty() && (commit.back() == '\n' || commit.back() == '\r' || commit.back() == ' '))
      commit.pop_back();
  }
  if (commit.empty() || commit.find('/') != std::string::npos || commit.find("..") != std::string::npos) {
    throw Error(ErrorKind::kInvalidInput, "cached ref does not name a snapshot", ErrorContext{ref.string()});
  }
  const fs::path snapshot = repo / "snapshots" / commit;
  if (!fs::is_directory(snapshot, ec)) {
    throw Error(ErrorKind::kNotFound, "revision '" + revision + "' of '" + id + "' is not cached",
                ErrorContext{spec}, hint);
  }
  return {snapshot, "hf://" + id + "@" + commit};
}

}  // namespace paramdelta
