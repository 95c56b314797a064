// Hugging Face Hub repositories as local snapshot directories: the standard
// cache first (the one huggingface_hub and the Python tools share), else a
// download of only the files a model or delta needs into that same layout:
//
//   models--org--name/blobs/<etag>                 file contents, by ETag
//   models--org--name/snapshots/<commit>/<file>    -> ../../blobs/<etag>
//   models--org--name/refs/<revision>              the commit a branch or tag names
//
// A blob appears under its final name only once complete and checked; a ref
// only once its snapshot holds every file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "location/http_client.h"

namespace paramdelta::hub {

struct Settings {
  std::filesystem::path cache;  // the hub cache directory
  std::string endpoint;         // e.g. "https://huggingface.co", no trailing '/'
  std::string token;            // empty: anonymous
  bool offline = false;         // never touch the network
  int parallel_downloads = 4;
  http::RetryPolicy retry;

  // HF_HUB_CACHE, else HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub,
  // else ~/.cache/huggingface/hub; HF_ENDPOINT (default the public Hub);
  // HF_TOKEN, else the token file (HF_TOKEN_PATH, else HF_HOME/token, else
  // ~/.cache/huggingface/token); HF_HUB_OFFLINE (1, true, yes, on).
  static Settings from_environment();
};

struct RepoRef {
  std::string id;                 // "org/name"
  std::string revision = "main";  // a branch, tag or commit hash
};

struct Snapshot {
  std::filesystem::path path;  // snapshots/<commit>
  std::string commit;
};

// The snapshot of `repo`: from the cache when it holds the weights and the
// index names nothing missing (no network request), else downloaded.
// `spec` is what the user typed, for messages. Throws paramdelta::Error.
Snapshot resolve_snapshot(const RepoRef& repo, const std::string& spec, const Settings& settings);

// The pure pieces, exposed for tests.

// "models--org--name".
std::string repo_folder_name(const std::string& repo_id);
// An ETag header as a blob name: W/ and quotes removed.
std::string normalize_etag(std::string_view etag);
// A name that can safely sit in blobs/ or snapshots/ (no separators, no leading dot).
bool is_safe_cache_name(std::string_view name);
// A branch, tag or commit: plain names joined by '/' ("refs/pr/1"), so that refs/<revision> stays in refs/.
bool is_safe_revision(std::string_view revision);

struct RevisionListing {
  std::string sha;                 // the commit the revision names
  std::vector<std::string> files;  // siblings[].rfilename
};
// GET /api/models/{repo}/revision/{revision}. Throws kInvalidInput naming `label`.
RevisionListing parse_revision_listing(std::string_view json, const std::string& label);

// Which files of a revision a model or delta directory needs apart from its
// weights: config, generation config, tokenizer and chat files, indexes, a
// delta's manifest and post config. Top-level files only.
std::vector<std::string> support_files(const std::vector<std::string>& listing);
// The weights a directory needs: the shards its indexes name, else the single
// "model.safetensors" (or, for a delta, every top-level .safetensors file).
// `indexes` are the parsed index files (name, contents). Throws kInvalidInput
// when an index names a file the revision lacks, or there are no weights.
std::vector<std::string> weight_files(const std::vector<std::string>& listing,
                                      const std::vector<std::pair<std::string, std::string>>& indexes,
                                      const std::string& label);

}  // namespace paramdelta::hub
