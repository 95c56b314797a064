// A remote object as a ByteSource: blocks of a reserved, initially
// inaccessible address range with the object's layout are fetched by ranged
// reads when pinned, a few blocks ahead of the last pin are prefetched by a
// shared pool of connections, and blocks that nobody pins are dropped once
// released or when the source holds more than its budget. Memory stays
// bounded by the budget plus what readers pin at once, whatever the size
// of the object.
#pragma once

#include <memory>
#include <string>

#include "io/byte_source.h"
#include "storage/object_store.h"

namespace paramdelta::storage {

struct RemoteSourceOptions {
  std::uint64_t block_bytes = std::uint64_t{4} << 20;  // one ranged read
  std::size_t read_ahead_blocks = 6;                   // fetched ahead of the last pinned block
  std::size_t budget_blocks = 12;                      // blocks kept when nobody pins them
};

std::shared_ptr<ByteSource> open_remote_object(std::shared_ptr<ObjectStore> store, std::string key,
                                               std::uint64_t size, RemoteSourceOptions options = {});

}  // namespace paramdelta::storage
