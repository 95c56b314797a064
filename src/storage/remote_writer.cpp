#include "storage/remote_writer.h"

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "paramdelta/error.h"

namespace paramdelta::storage {

namespace fs = std::filesystem;

namespace {

// The connections that upload parts for every remote output of the process,
// and the bound on parts waiting for one: a writer that completes a part
// while kMaxQueuedParts wait blocks until one has gone up.
class UploadPool {
 public:
  static constexpr std::size_t kThreads = 4;
  // Parts waiting besides the kThreads in flight: more only added to peak memory.
  static constexpr std::size_t kMaxQueuedParts = 3;

  static UploadPool& instance() {
    static UploadPool pool;
    return pool;
  }
  void submit(std::function<void()> task) {
    std::unique_lock lock(mutex_);
    space_.wait(lock, [&] { return queued_ < kMaxQueuedParts + kThreads; });
    ++queued_;
    tasks_.push_back(std::move(task));
    work_.notify_one();
  }
  ~UploadPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    work_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  UploadPool() {
    for (std::size_t i = 0; i < kThreads; ++i) threads_.emplace_back([this] { loop(); });
  }
  void loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        work_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (stop_ && tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
      {
        std::lock_guard lock(mutex_);
        --queued_;
      }
      space_.notify_all();
    }
  }
  std::mutex mutex_;
  std::condition_variable work_, space_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  std::size_t queued_ = 0;
  bool stop_ = false;
};

struct Buffer {
  std::unique_ptr<std::byte[]> bytes{new std::byte[kPartBytes]};
  std::uint64_t written = 0;
};

}  // namespace

struct RemoteFileWriter::Impl {
  std::shared_ptr<RemoteOutput> output;
  std::string key;
  std::unique_ptr<ObjectUpload> upload;
  std::mutex mutex;
  std::condition_variable idle;
  std::map<std::size_t, Buffer> parts;  // parts being written
  std::set<std::size_t> sent;           // parts uploaded or on their way
  std::size_t in_flight = 0;
  std::exception_ptr failure;
  bool finished = false;
  bool cancelled = false;

  ~Impl() {
    if (!finished && upload) upload->abort();
  }
};

RemoteFileWriter::RemoteFileWriter(std::shared_ptr<RemoteOutput> output, std::string key)
    : impl_(std::make_shared<Impl>()) {
  impl_->output = std::move(output);
  impl_->key = std::move(key);
  impl_->upload = impl_->output->location().store->begin_upload(impl_->key);
}

RemoteFileWriter::~RemoteFileWriter() {
  if (!impl_) return;
  std::lock_guard lock(impl_->mutex);
  impl_->cancelled = true;  // parts still queued are not sent; the upload aborts when the last goes
}

void RemoteFileWriter::write_at(std::uint64_t data_offset, std::span<const std::byte> bytes) {
  Impl& s = *impl_;
  while (!bytes.empty()) {
    const std::size_t part = static_cast<std::size_t>(data_offset / kPartBytes);
    const std::uint64_t within = data_offset % kPartBytes;
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size(), kPartBytes - within));
    std::byte* target;
    {
      std::lock_guard lock(s.mutex);
      if (s.failure) std::rethrow_exception(s.failure);
      if (s.sent.count(part) != 0) {
        throw Error(ErrorKind::kInternal, "a part was written after it was uploaded",
                    ErrorContext{s.output->location().store->describe(s.key)});
      }
      target = s.parts[part].bytes.get();
    }
    std::memcpy(target + within, bytes.data(), n);
    bool complete = false;
    Buffer done;
    {
      std::lock_guard lock(s.mutex);
      Buffer& b = s.parts[part];
      b.written += n;
      // Part 0 waits for the header; the others go up when full.
      if (part != 0 && b.written == kPartBytes) {
        complete = true;
        done = std::move(b);
        s.parts.erase(part);
        s.sent.insert(part);
        ++s.in_flight;
      }
    }
    if (complete) {
      auto impl = impl_;
      auto buffer = std::make_shared<Buffer>(std::move(done));
      UploadPool::instance().submit([impl, buffer, part] {
        std::exception_ptr error;
        bool skip;
        {
          std::lock_guard lock(impl->mutex);
          skip = impl->cancelled || impl->failure;
        }
        if (!skip) {
          try {
            impl->upload->upload_part(part, {buffer->bytes.get(), static_cast<std::size_t>(kPartBytes)});
          } catch (...) {
            error = std::current_exception();
          }
        }
        std::lock_guard lock(impl->mutex);
        if (error && !impl->failure) impl->failure = error;
        --impl->in_flight;
        impl->idle.notify_all();
      });
    }
    data_offset += n;
    bytes = bytes.subspan(n);
  }
}

void RemoteFileWriter::finish(std::span<const std::byte> prefix, std::uint64_t data_size) {
  Impl& s = *impl_;
  std::unique_lock lock(s.mutex);
  s.idle.wait(lock, [&] { return s.in_flight == 0; });
  if (s.failure) std::rethrow_exception(s.failure);
  const std::size_t count =
      data_size == 0 ? 1 : static_cast<std::size_t>((data_size + kPartBytes - 1) / kPartBytes);
  const std::string label = s.output->location().store->describe(s.key);
  auto expected = [&](std::size_t part) {
    return std::min<std::uint64_t>(kPartBytes, data_size - std::min(data_size, part * kPartBytes));
  };
  for (std::size_t part = 1; part < count; ++part) {
    if (s.sent.count(part) != 0) continue;
    auto it = s.parts.find(part);
    if (it == s.parts.end() || it->second.written != expected(part)) {
      throw Error(ErrorKind::kInternal,
                  "part " + std::to_string(part) + " of the data was not written completely",
                  ErrorContext{label});
    }
  }
  Buffer empty;
  Buffer& first = s.parts.count(0) != 0 ? s.parts[0] : empty;
  if (first.written != expected(0)) {
    throw Error(ErrorKind::kInternal, "the first part of the data was not written completely",
                ErrorContext{label});
  }
  lock.unlock();
  for (std::size_t part = 1; part < count; ++part) {
    if (s.sent.count(part) != 0) continue;
    s.upload->upload_part(part, {s.parts[part].bytes.get(), static_cast<std::size_t>(expected(part))});
  }
  std::vector<std::byte> head(prefix.begin(), prefix.end());
  head.insert(head.end(), first.bytes.get(), first.bytes.get() + expected(0));
  s.upload->upload_part(0, head);
  lock.lock();
  s.parts.clear();
  s.finished = true;
  s.output->add_pending(s.key, std::move(s.upload), count);
}

struct RemoteOutput::Pending {
  struct Entry {
    std::string key;
    std::unique_ptr<ObjectUpload> upload;
    std::size_t parts;
  };
  std::mutex mutex;
  std::vector<Entry> entries;
};

RemoteOutput::RemoteOutput(RemoteLocation location, fs::path staging, bool directory)
    : location_(std::move(location)),
      staging_(std::move(staging)),
      directory_(directory),
      pending_(std::make_unique<Pending>()) {}

RemoteOutput::~RemoteOutput() = default;  // uncommitted uploads abort as they are destroyed

std::string RemoteOutput::key_of(const fs::path& staged_file) const {
  if (!directory_) return location_.prefix;
  const std::string rel = staged_file.lexically_relative(staging_).generic_string();
  return location_.prefix.empty() ? rel : location_.prefix + "/" + rel;
}

void RemoteOutput::add_pending(std::string key, std::unique_ptr<ObjectUpload> upload, std::size_t parts) {
  std::lock_guard lock(pending_->mutex);
  pending_->entries.push_back({std::move(key), std::move(upload), parts});
}

namespace {

// Indexes and the manifest name the other files: they go last.
int upload_rank(const std::string& name) {
  if (name == "paramdelta.json") return 2;
  if (name.size() >= 11 && name.compare(name.size() - 11, 11, ".index.json") == 0) return 1;
  return 0;
}

void upload_file(ObjectStore& store, const fs::path& file, const std::string& key) {
  std::ifstream in(file, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  store.put(key, std::as_bytes(std::span(bytes.data(), bytes.size())));
}

}  // namespace

void RemoteOutput::commit(bool replace) {
  std::set<std::string> written;
  try {
    commit_files(written);
  } catch (...) {
    // A new output that failed half way is taken back (best effort): no
    // reader should find some of its files. A replaced one cannot be.
    if (!replace) {
      for (const auto& key : written) {
        try {
          location_.store->remove(key);
        } catch (...) {
        }
      }
    }
    throw;
  }
  if (replace) {
    const std::string dir = location_.prefix.empty() ? std::string() : location_.prefix + "/";
    for (const auto& object : location_.store->list(dir)) {
      if (written.count(object.key) == 0) location_.store->remove(object.key);
    }
  }
}

void RemoteOutput::commit_files(std::set<std::string>& written) {
  ObjectStore& store = *location_.store;
  {
    std::lock_guard lock(pending_->mutex);
    for (auto& e : pending_->entries) {
      e.upload->commit(e.parts);
      written.insert(e.key);
    }
    pending_->entries.clear();
  }
  std::error_code ec;
  if (!directory_) {
    if (fs::is_regular_file(staging_, ec)) {
      upload_file(store, staging_, location_.prefix);
      written.insert(location_.prefix);
    }
    return;
  }
  std::vector<std::pair<int, fs::path>> files;
  for (const auto& e : fs::recursive_directory_iterator(staging_, ec)) {
    if (e.is_regular_file()) files.emplace_back(upload_rank(e.path().filename().string()), e.path());
  }
  std::stable_sort(files.begin(), files.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [rank, file] : files) {
    const std::string key = key_of(file);
    upload_file(store, file, key);
    written.insert(key);
  }
}

namespace {

struct OutputRegistry {
  std::mutex mutex;
  std::map<std::string, std::shared_ptr<RemoteOutput>> entries;  // staging path -> output
  static OutputRegistry& instance() {
    static OutputRegistry r;
    return r;
  }
};

}  // namespace

void register_remote_output(const fs::path& staging, std::shared_ptr<RemoteOutput> output) {
  auto& r = OutputRegistry::instance();
  std::lock_guard lock(r.mutex);
  r.entries[staging.lexically_normal().string()] = std::move(output);
}

void unregister_remote_output(const fs::path& staging) {
  auto& r = OutputRegistry::instance();
  std::lock_guard lock(r.mutex);
  r.entries.erase(staging.lexically_normal().string());
}

std::optional<RemoteTarget> find_remote_output_file(const fs::path& path) {
  auto& r = OutputRegistry::instance();
  std::lock_guard lock(r.mutex);
  const fs::path normal = path.lexically_normal();
  for (fs::path p = normal;; p = p.parent_path()) {
    auto it = r.entries.find(p.string());
    if (it != r.entries.end()) return RemoteTarget{it->second, it->second->key_of(normal)};
    if (p == p.parent_path() || p.empty()) break;
  }
  return std::nullopt;
}

}  // namespace paramdelta::storage
