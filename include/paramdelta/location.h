// Where models and deltas come from. Today: local paths, and Hugging Face Hub
// ids already in the standard local cache (no network access is made). The
// resolver is the seam where remote stores (the Hub, object storage) plug in.
#pragma once

#include <filesystem>
#include <string>

namespace paramdelta {

struct ResolvedLocation {
  std::filesystem::path path;  // a local directory or file to read
  std::string description;     // what the user named, for manifests and messages
};

// Accepts a local path; "hf://org/name[@revision]" or "org/name[@revision]"
// (when no such local path exists) found in the Hugging Face cache
// ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub).
// A trailing slash is ignored. Throws paramdelta::Error with a hint when
// nothing is found, and for URLs of remote storage (s3://, gs://, az://,
// https://...), which are not supported yet.
ResolvedLocation resolve_location(const std::string& spec);

}  // namespace paramdelta
