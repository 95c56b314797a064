#include "storage/remote_source.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "paramdelta/error.h"

namespace paramdelta::storage {

namespace {

// The connections that fetch blocks for every remote source of the process.
// Demand reads (a reader waits) go before read-ahead.
class FetchPool {
 public:
  static FetchPool& instance() {
    static FetchPool pool(8);
    return pool;
  }
  void submit(std::function<void()> task, bool urgent) {
    {
      std::lock_guard lock(mutex_);
      if (urgent) {
        tasks_.push_front(std::move(task));
      } else {
        tasks_.push_back(std::move(task));
      }
    }
    cv_.notify_one();
  }
  ~FetchPool() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  explicit FetchPool(int threads) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { loop(); });
  }
  void loop() {
    for (;;) {
      std::function<void()> task;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || !tasks_.empty(); });
        if (stop_ && tasks_.empty()) return;
        task = std::move(tasks_.front());
        tasks_.pop_front();
      }
      task();
    }
  }
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> threads_;
  bool stop_ = false;
};

std::uint64_t page_size() {
  static const auto size = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  return size;
}

class RemoteObjectSource final : public ByteSource, public std::enable_shared_from_this<RemoteObjectSource> {
 public:
  RemoteObjectSource(std::shared_ptr<ObjectStore> store, std::string key, std::uint64_t size,
                     RemoteSourceOptions options)
      : store_(std::move(store)),
        key_(std::move(key)),
        label_(store_->describe(key_)),
        size_(size),
        options_(options) {
    options_.block_bytes = std::max(page_size(), options_.block_bytes / page_size() * page_size());
    blocks_.resize(static_cast<std::size_t>((size_ + options_.block_bytes - 1) / options_.block_bytes));
    if (size_ == 0) return;
    reserved_ = (size_ + page_size() - 1) / page_size() * page_size();
    void* p = mmap(nullptr, reserved_, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) {
      throw Error(ErrorKind::kIo, std::string("cannot reserve address space: ") + std::strerror(errno),
                  ErrorContext{label_});
    }
    base_ = static_cast<std::byte*>(p);
  }

  ~RemoteObjectSource() override {
    if (base_ != nullptr) munmap(base_, reserved_);
  }

  const std::string& label() const override { return label_; }
  std::uint64_t size() const override { return size_; }

  void read(std::uint64_t offset, std::span<std::byte> out) const override {
    if (offset > size_ || out.size() > size_ - offset) {
      throw Error(ErrorKind::kInvalidInput, "read past the end of the object", ErrorContext{label_});
    }
    if (!out.empty()) store_->read(key_, offset, out);
  }

  std::span<const std::byte> view() const override { return {base_, static_cast<std::size_t>(size_)}; }

  PinnedRange pin(std::uint64_t begin, std::uint64_t end) const override {
    end = std::min(end, size_);
    if (begin >= end) return {};
    const std::size_t first = block_of(begin);
    const std::size_t last = block_of(end - 1);
    std::unique_lock lock(mutex_);
    for (std::size_t b = first; b <= last; ++b) {
      if (blocks_[b].pins++ == 0) ++pinned_;
      if (blocks_[b].state == State::kEmpty) start_fetch(b, true);
    }
    for (std::size_t b = last + 1; b < blocks_.size() && b <= last + options_.read_ahead_blocks; ++b) {
      if (blocks_[b].state == State::kEmpty && resident_ < options_.budget_blocks + pinned_blocks()) {
        start_fetch(b, false);
      }
    }
    std::exception_ptr failure;
    cv_.wait(lock, [&] {
      for (std::size_t b = first; b <= last; ++b) {
        if (blocks_[b].state == State::kFailed) {
          failure = blocks_[b].error;
          return true;
        }
        if (blocks_[b].state != State::kReady) return false;
      }
      return true;
    });
    if (failure) {
      for (std::size_t b = first; b <= last; ++b)
        if (--blocks_[b].pins == 0) --pinned_;
      std::rethrow_exception(failure);
    }
    return PinnedRange(this, begin, end);
  }

  void release(std::uint64_t begin, std::uint64_t end) const override {
    end = std::min(end, size_);
    if (begin >= end) return;
    std::lock_guard lock(mutex_);
    // A block is dropped when a release reaches its end: what lies before
    // has been read by every reader. A reader that still needs it pins it
    // again (correct, only slower).
    for (std::size_t b = block_of(begin); b < blocks_.size(); ++b) {
      const std::uint64_t block_end = std::min(size_, (b + 1) * options_.block_bytes);
      if (block_end > end) break;
      if (blocks_[b].pins == 0 && blocks_[b].state == State::kReady) drop(b);
    }
  }

  void advise_sequential(std::uint64_t, std::uint64_t) const override {}

 protected:
  void unpin(std::uint64_t begin, std::uint64_t end) const override {
    std::lock_guard lock(mutex_);
    for (std::size_t b = block_of(begin); b <= block_of(end - 1); ++b) {
      if (--blocks_[b].pins == 0) --pinned_;
      blocks_[b].last_use = ++clock_;
    }
    evict_over_budget();
  }

 private:
  enum class State { kEmpty, kLoading, kReady, kFailed };
  struct Block {
    State state = State::kEmpty;
    int pins = 0;
    std::uint64_t last_use = 0;
    std::exception_ptr error;
  };

  std::size_t block_of(std::uint64_t offset) const {
    return static_cast<std::size_t>(offset / options_.block_bytes);
  }
  std::size_t pinned_blocks() const { return pinned_; }

  // Called with the mutex held.
  void start_fetch(std::size_t b, bool urgent) const {
    blocks_[b].state = State::kLoading;
    blocks_[b].error = nullptr;
    ++resident_;
    std::weak_ptr<const RemoteObjectSource> weak = shared_from_this();
    FetchPool::instance().submit(
        [weak, b] {
          if (auto self = weak.lock()) self->fetch(b);
        },
        urgent);
  }

  void fetch(std::size_t b) const {
    const std::uint64_t begin = b * options_.block_bytes;
    const std::uint64_t end = std::min(size_, begin + options_.block_bytes);
    std::byte* p = base_ + begin;
    const std::size_t mapped =
        static_cast<std::size_t>((end - begin + page_size() - 1) / page_size() * page_size());
    std::exception_ptr error;
    try {
      if (mprotect(p, mapped, PROT_READ | PROT_WRITE) != 0) {
        throw Error(ErrorKind::kIo, std::string("cannot map a block: ") + std::strerror(errno),
                    ErrorContext{label_});
      }
      store_->read(key_, begin, {p, static_cast<std::size_t>(end - begin)});
      mprotect(p, mapped, PROT_READ);
    } catch (...) {
      error = std::current_exception();
      madvise(p, mapped, MADV_DONTNEED);
      mprotect(p, mapped, PROT_NONE);
    }
    {
      std::lock_guard lock(mutex_);
      if (error) {
        blocks_[b].state = State::kFailed;
        blocks_[b].error = error;
        --resident_;
      } else {
        blocks_[b].state = State::kReady;
        blocks_[b].last_use = ++clock_;
      }
      evict_over_budget();
    }
    cv_.notify_all();
  }

  // Called with the mutex held, for a ready block that nobody pins.
  void drop(std::size_t b) const {
    const std::uint64_t begin = b * options_.block_bytes;
    const std::uint64_t end = std::min(size_, begin + options_.block_bytes);
    const std::size_t mapped =
        static_cast<std::size_t>((end - begin + page_size() - 1) / page_size() * page_size());
    madvise(base_ + begin, mapped, MADV_DONTNEED);
    mprotect(base_ + begin, mapped, PROT_NONE);
    blocks_[b].state = State::kEmpty;
    --resident_;
  }

  // Called with the mutex held: drops the least recently used unpinned
  // blocks while more than the budget are resident besides pinned ones.
  void evict_over_budget() const {
    while (resident_ > options_.budget_blocks + pinned_blocks()) {
      std::size_t victim = blocks_.size();
      for (std::size_t b = 0; b < blocks_.size(); ++b) {
        if (blocks_[b].state == State::kReady && blocks_[b].pins == 0 &&
            (victim == blocks_.size() || blocks_[b].last_use < blocks_[victim].last_use)) {
          victim = b;
        }
      }
      if (victim == blocks_.size()) return;
      drop(victim);
    }
  }

  std::shared_ptr<ObjectStore> store_;
  std::string key_;
  std::string label_;
  std::uint64_t size_;
  RemoteSourceOptions options_;
  std::byte* base_ = nullptr;
  std::uint64_t reserved_ = 0;
  mutable std::mutex mutex_;
  mutable std::condition_variable cv_;
  mutable std::vector<Block> blocks_;
  mutable std::size_t resident_ = 0;  // loading or ready
  mutable std::size_t pinned_ = 0;    // blocks with pins
  mutable std::uint64_t clock_ = 0;
};

}  // namespace

std::shared_ptr<ByteSource> open_remote_object(std::shared_ptr<ObjectStore> store, std::string key,
                                               std::uint64_t size, RemoteSourceOptions options) {
  return std::make_shared<RemoteObjectSource>(std::move(store), std::move(key), size, options);
}

}  // namespace paramdelta::storage
