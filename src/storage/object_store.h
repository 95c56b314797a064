// The storage seam's remote half: a flat namespace of named objects (Azure
// Blob containers, S3 buckets) that can be listed, read by byte range and
// written in parts that become visible only when committed. Local files do
// not go through this interface: they keep their memory mappings.
//
// Every method is thread-safe (each thread gets its own HTTP connection), may
// block on the network, retries what a server may answer differently later
// (429, 500, 503 with Retry-After, dropped connections), and throws
// paramdelta::Error with one line naming the object (as `describe` shows it)
// and what to do: kNotFound for a missing container, bucket or object,
// kUsage for credentials that are missing, wrong or lack a permission, kIo for
// everything else. Messages never contain keys, tokens or SAS query strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace paramdelta::storage {

struct ObjectInfo {
  std::string key;  // the object's full key inside the container or bucket
  std::uint64_t size = 0;
};

// One object being written. Parts are numbered from 0 in the order they form
// the object; they may be uploaded in any order and concurrently. Nothing is
// visible to readers until commit(); destroying an uncommitted upload aborts
// it (best effort, never throws).
class ObjectUpload {
 public:
  virtual ~ObjectUpload() = default;
  // Uploads part `number`. Every part but the last must hold at least
  // min_part_size() bytes. The bytes may be released when this returns.
  virtual void upload_part(std::size_t number, std::span<const std::byte> bytes) = 0;
  // Makes the object parts 0..part_count-1, replacing any object of that key.
  virtual void commit(std::size_t part_count) = 0;
  // Discards the parts uploaded so far; the object keeps its old content.
  virtual void abort() noexcept = 0;
};

class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // The URL the user would write for `key` ("az://container/key",
  // "s3://bucket/key"): for messages and manifests, never with credentials.
  virtual std::string describe(const std::string& key) const = 0;

  // The object's size; nothing when no object has this key (a missing
  // container or bucket is an error, not nothing).
  virtual std::optional<ObjectInfo> stat(const std::string& key) = 0;
  // Every object whose key starts with `prefix`, in key order (all pages).
  virtual std::vector<ObjectInfo> list(const std::string& prefix) = 0;
  // Reads exactly out.size() bytes from `offset` (a ranged GET, streamed into
  // `out`); an object shorter than that is an error.
  virtual void read(const std::string& key, std::uint64_t offset, std::span<std::byte> out) = 0;
  // Writes a small object in one request (config files, indexes, manifests).
  virtual void put(const std::string& key, std::span<const std::byte> bytes) = 0;
  // Starts writing a large object in parts.
  virtual std::unique_ptr<ObjectUpload> begin_upload(const std::string& key) = 0;
  // The least size of every part but the last (S3: 5 MiB; Azure: 1 byte).
  virtual std::uint64_t min_part_size() const = 0;
  // Deletes the object; deleting one that does not exist is not an error.
  virtual void remove(const std::string& key) = 0;
};

}  // namespace paramdelta::storage

namespace paramdelta::storage {

// A place in an object store: the store and the key prefix under it (no
// leading or trailing '/'; empty for the whole container or bucket).
struct RemoteLocation {
  std::shared_ptr<ObjectStore> store;
  std::string prefix;
  std::string describe() const { return store->describe(prefix); }
};

// "az://container/prefix", "https://ACCOUNT.blob.core.windows.net/container/prefix"
// (and an emulator's blob endpoint from AZURE_STORAGE_CONNECTION_STRING),
// "s3://bucket/prefix": the store, with credentials from the environment
// or a .env file in the working directory. Nothing for anything else (local
// paths, Hub ids). Throws paramdelta::Error for a remote URL that cannot be
// used (no credentials, a malformed container or bucket name).
std::optional<RemoteLocation> open_remote_location(const std::string& url);

// The same for each kind of store; each returns nothing for URLs of other kinds.
std::optional<RemoteLocation> open_azure_location(const std::string& url);
std::optional<RemoteLocation> open_s3_location(const std::string& url);

}  // namespace paramdelta::storage
