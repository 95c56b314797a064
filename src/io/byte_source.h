// The storage seam's reading half: the bytes of one weight file, wherever
// they live. A local file is memory-mapped (no copy, the page cache does the
// work). A remote object is read by ranged requests into blocks of a
// reserved address range that has the object's layout, so the engine reads
// both through the same pointers; a remote block is fetched when a reader
// pins it (and a few blocks ahead of it, by a pool of connections) and
// dropped when every reader has released it.
//
// Readers must pin a range before reading it through view(): remote blocks
// that are not pinned are not readable at all (an unpinned read faults
// instead of seeing zeros). Pinning a local range costs nothing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "paramdelta/safetensors.h"

namespace paramdelta {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // How messages name it: a path, or the URL without credentials.
  virtual const std::string& label() const = 0;
  virtual std::uint64_t size() const = 0;
  // Copies [offset, offset + out.size()) into `out` (headers, sniffing).
  virtual void read(std::uint64_t offset, std::span<std::byte> out) const = 0;
  // The whole object's address range; bytes are readable only while pinned.
  virtual std::span<const std::byte> view() const = 0;
  // Makes [begin, end) readable through view() until the result is destroyed;
  // blocks until the bytes are there. Throws paramdelta::Error when they
  // cannot be fetched.
  virtual PinnedRange pin(std::uint64_t begin, std::uint64_t end) const = 0;
  // Says that no reader needs [begin, end) any more (ascending calls), so
  // that memory does not grow with the model.
  virtual void release(std::uint64_t begin, std::uint64_t end) const = 0;
  // Says that [begin, end) will be read from front to back.
  virtual void advise_sequential(std::uint64_t begin, std::uint64_t end) const = 0;

 protected:
  friend class PinnedRange;
  virtual void unpin(std::uint64_t begin, std::uint64_t end) const = 0;
};

// A local file, memory-mapped whole.
std::shared_ptr<ByteSource> open_mapped_file(const std::string& path);

}  // namespace paramdelta
