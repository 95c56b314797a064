// A test-only object store over a local directory: keys are relative paths.
// It counts ranged reads and can be told to fail them, so that the remote
// half of the storage seam is tested without a server (the real stores are
// tested against Azurite and SeaweedFS in tests/interop).
#pragma once

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "paramdelta/error.h"
#include "storage/object_store.h"

namespace paramdelta::testing {

class DirectoryStore final : public storage::ObjectStore {
 public:
  explicit DirectoryStore(std::filesystem::path root) : root_(std::move(root)) {}

  std::atomic<int> reads{0};
  std::atomic<std::uint64_t> bytes_read{0};
  std::atomic<bool> fail_reads{false};

  std::string describe(const std::string& key) const override { return "test://bucket/" + key; }
  std::optional<storage::ObjectInfo> stat(const std::string& key) override {
    std::error_code ec;
    const auto p = root_ / key;
    if (key.empty() || !std::filesystem::is_regular_file(p, ec)) return std::nullopt;
    return storage::ObjectInfo{key, std::filesystem::file_size(p)};
  }
  std::vector<storage::ObjectInfo> list(const std::string& prefix) override {
    std::vector<storage::ObjectInfo> out;
    for (const auto& e : std::filesystem::recursive_directory_iterator(root_)) {
      if (!e.is_regular_file()) continue;
      const std::string key = std::filesystem::relative(e.path(), root_).generic_string();
      if (key.compare(0, prefix.size(), prefix) == 0) out.push_back({key, e.file_size()});
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
    return out;
  }
  void read(const std::string& key, std::uint64_t offset, std::span<std::byte> out) override {
    ++reads;
    if (fail_reads) throw Error(ErrorKind::kIo, "injected read failure", ErrorContext{describe(key)});
    std::ifstream in(root_ / key, std::ios::binary);
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()));
    if (static_cast<std::size_t>(in.gcount()) != out.size())
      throw Error(ErrorKind::kIo, "short read", ErrorContext{describe(key)});
    bytes_read += out.size();
  }
  void put(const std::string& key, std::span<const std::byte> bytes) override {
    {
      std::lock_guard lock(order_mutex);
      put_order.push_back(key);
    }
    std::filesystem::create_directories((root_ / key).parent_path());
    std::ofstream(root_ / key, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  std::unique_ptr<storage::ObjectUpload> begin_upload(const std::string& key) override {
    return std::make_unique<Upload>(*this, key);
  }
  std::uint64_t min_part_size() const override { return min_part_; }
  void remove(const std::string& key) override { std::filesystem::remove(root_ / key); }

  std::uint64_t min_part_ = 1;
  std::mutex order_mutex;
  std::vector<std::string> put_order;  // keys in the order they became visible
  std::atomic<int> commits{0};
  std::atomic<int> aborts{0};

 private:
  class Upload final : public storage::ObjectUpload {
   public:
    Upload(DirectoryStore& store, std::string key) : store_(store), key_(std::move(key)) {}
    ~Upload() override {
      if (!done_) abort();
    }
    void upload_part(std::size_t number, std::span<const std::byte> bytes) override {
      std::lock_guard lock(mutex_);
      parts_[number].assign(bytes.begin(), bytes.end());
    }
    void commit(std::size_t part_count) override {
      std::vector<std::byte> all;
      {
        std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < part_count; ++i) {
          auto it = parts_.find(i);
          if (it == parts_.end()) throw Error(ErrorKind::kInternal, "missing part " + std::to_string(i));
          if (i + 1 < part_count && it->second.size() < store_.min_part_)
            throw Error(ErrorKind::kInternal, "part " + std::to_string(i) + " is below the least part size");
          all.insert(all.end(), it->second.begin(), it->second.end());
        }
      }
      store_.put(key_, all);
      done_ = true;
      ++store_.commits;
    }
    void abort() noexcept override {
      done_ = true;
      ++store_.aborts;
    }

   private:
    DirectoryStore& store_;
    std::string key_;
    std::mutex mutex_;
    std::map<std::size_t, std::vector<std::byte>> parts_;
    bool done_ = false;
  };

  std::filesystem::path root_;
};

}  // namespace paramdelta::testing
