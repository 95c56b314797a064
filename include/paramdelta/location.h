// Where models and deltas come from: local paths, object stores, and Hugging Face Hub
// ids, read from the standard local cache or downloaded into it. The resolver
// is the seam where remote stores (object storage) plug in.
#pragma once

#include <filesystem>
#include <string>

namespace paramdelta {

struct ResolvedLocation {
  std::filesystem::path path;  // a local directory or file to read
  std::string description;     // what the user named, for manifests and messages
};

// Accepts a local path; an object store URL (az://, s3://, an Azure blob
// endpoint: see storage/object_store.h), whose non-weight files are copied
// to a private temporary directory and whose weights are read remotely
// through that directory's paths; "hf://org/name[@revision]" or "org/name[@revision]"
// (when no such local path exists): the snapshot in the Hugging Face cache
// ($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub) when it
// holds the weights, else downloaded from $HF_ENDPOINT into that cache (never
// with $HF_HUB_OFFLINE set). The description of a Hub id names its commit.
// A trailing slash is ignored. Throws paramdelta::Error with a hint when
// nothing is found or the download fails, and for URLs of other remote
// storage (gs://, ...), which is not supported yet.
ResolvedLocation resolve_location(const std::string& spec);

}  // namespace paramdelta
