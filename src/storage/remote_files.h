// Remote locations as the engine sees them. A remote model or delta
// directory becomes a small local directory that holds copies of its
// non-weight files (config, tokenizer, index, manifest: kilobytes to a few
// megabytes, read many times) while each weight file in it is a remote
// object read through a RemoteObjectSource: the bytes of the weights never
// touch the local disk. Paths inside such a directory are shown in messages
// as the URL they stand for.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/byte_source.h"
#include "storage/object_store.h"

namespace paramdelta::storage {

struct MirroredInput {
  std::filesystem::path path;  // the local directory, or the weight file's path inside one
  std::string description;     // the URL, without credentials
};

// Lists the location: objects under "prefix/" make a directory; else the
// object "prefix" itself must be a .safetensors file. Throws kNotFound
// naming the URL when there is neither.
MirroredInput mirror_remote_input(const RemoteLocation& location);

// The remote weight file a mirrored directory holds at `path`, or nullptr.
std::shared_ptr<ByteSource> find_remote_file(const std::filesystem::path& path);
// The remote weight files of the mirrored directory `dir` (its direct entries).
std::vector<std::filesystem::path> remote_files_in(const std::filesystem::path& dir);
// A local file or directory, or a remote weight file of a mirrored directory.
bool input_exists(const std::filesystem::path& path);

}  // namespace paramdelta::storage
