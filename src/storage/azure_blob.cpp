// Azure Blob Storage behind the storage seam: Get Blob Properties (stat), List
// Blobs (all pages), ranged Get Blob streamed into the caller's buffer, Put
// Blob, Put Block + Put Block List (committed last), Delete Blob. Requests
// are signed with Shared Key, or carry a SAS token, or neither.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <random>

#include "location/http_client.h"
#include "paramdelta/error.h"
#include "storage/azure_config.h"
#include "storage/azure_protocol.h"
#include "storage/object_store.h"
#include "storage/settings.h"

namespace paramdelta::storage {

namespace {

using azure::Auth;
using azure::Operation;

http::Client& thread_client() {
  static thread_local http::Client client;
  return client;
}

std::string random_token() {
  static const char* hex = "0123456789abcdef";
  std::random_device device;
  std::mt19937_64 rng((static_cast<std::uint64_t>(device()) << 32) ^ device());
  std::string out;
  for (int i = 0; i < 16; ++i) out += hex[rng() & 15];
  return out;
}

std::string_view as_text(std::span<const std::byte> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

bool success(long status) { return status >= 200 && status < 300; }

class AzureStore : public ObjectStore, public std::enable_shared_from_this<AzureStore> {
 public:
  explicit AzureStore(azure::Target target) : t_(std::move(target)) {
    auth_ = !t_.sas.empty() ? Auth::kSas : !t_.key.empty() ? Auth::kSharedKey : Auth::kAnonymous;
    // For tests of paging: List Blobs pages of this many blobs (the service's default is 5000).
    if (const char* page = std::getenv("PARAMDELTA_AZURE_LIST_PAGE_SIZE")) {
      page_size_ = std::max(1, std::atoi(page));
    }
  }

  std::string describe(const std::string& key) const override {
    return key.empty() ? t_.display : t_.display + "/" + key;
  }

  std::optional<ObjectInfo> stat(const std::string& key) override {
    int attempts = 0;
    const http::Response r = perform(
        key, [&] { return request("HEAD", blob_url(key, "")); }, {}, attempts);
    if (r.status == 404) {
      const std::string code = error_code(r);
      if (code == "BlobNotFound" || (code.empty() && container_exists(key))) return std::nullopt;
      fail(Operation::kStat, key, r, attempts, code.empty() ? "ContainerNotFound" : code);
    }
    if (!success(r.status)) fail(Operation::kStat, key, r, attempts);
    return ObjectInfo{key, content_length(r, key)};
  }

  std::vector<ObjectInfo> list(const std::string& prefix) override {
    std::vector<ObjectInfo> out;
    std::string marker;
    for (;;) {
      std::string query = "restype=container&comp=list";
      if (!prefix.empty()) query += "&prefix=" + http::percent_encode(prefix, false);
      if (!marker.empty()) query += "&marker=" + http::percent_encode(marker, false);
      if (page_size_ > 0) query += "&maxresults=" + std::to_string(page_size_);
      int attempts = 0;
      const http::Response r = perform(
          prefix, [&] { return request("GET", container_url(query)); }, {}, attempts);
      if (!success(r.status)) fail(Operation::kList, prefix, r, attempts);
      azure::Listing page = azure::parse_listing(r.body, describe(prefix));
      for (auto& blob : page.blobs) {
        if (blob.key.rfind(prefix, 0) == 0) out.push_back(std::move(blob));
      }
      if (page.next_marker.empty()) break;
      if (page.next_marker == marker) {
        throw Error(ErrorKind::kIo, "the blob listing repeats its continuation marker",
                    ErrorContext{describe(prefix)}, "check that the URL's endpoint is an Azure Blob service");
      }
      marker = std::move(page.next_marker);
    }
    std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return out;
  }

  void read(const std::string& key, std::uint64_t offset, std::span<std::byte> out) override {
    if (out.empty()) return;
    const std::uint64_t total = out.size();
    std::uint64_t got = 0;  // survives the attempts: a dropped body resumes where it stopped
    std::uint64_t attempt_first = 0;
    std::optional<std::uint64_t> blob_size;
    bool head_checked = false;
    const http::BodySink sink = [&](const http::Response& head, std::string_view chunk) {
      if (!head_checked) {
        head_checked = true;
        const std::string* range = head.header("Content-Range");
        const auto start = range ? http::parse_content_range_start(*range) : std::nullopt;
        if (head.status != 206 || !start || *start != attempt_first) {
          throw Error(ErrorKind::kIo, "the service did not answer the byte range asked for",
                      ErrorContext{describe(key)}, "check that the URL's endpoint is an Azure Blob service");
        }
        const auto slash = range->rfind('/');
        if (slash != std::string::npos) {
          const std::string size_text = range->substr(slash + 1);
          if (!size_text.empty() && size_text.size() < 20 &&
              size_text.find_first_not_of("0123456789") == std::string::npos) {
            blob_size = std::stoull(size_text);
          }
        }
      }
      if (chunk.size() > total - got) {
        throw Error(ErrorKind::kIo, "the service sent more bytes than the range asked for",
                    ErrorContext{describe(key)});
      }
      std::memcpy(out.data() + got, chunk.data(), chunk.size());
      got += chunk.size();
    };
    // Ranges of up to 4 MiB come with their MD5 (x-ms-range-get-content-md5),
    // checked here: a mismatch reads the range once more, then is an error.
    constexpr std::uint64_t kMaxMd5Range = 4u << 20;
    for (int round = 0;; ++round) {
      got = 0;
      bool asked_md5 = false;
      int attempts = 0;
      const http::Response r = perform(
          key,
          [&] {
            attempt_first = offset + got;
            head_checked = false;
            http::Request req = request("GET", blob_url(key, ""));
            req.headers.push_back({"x-ms-range", "bytes=" + std::to_string(attempt_first) + "-" +
                                                     std::to_string(offset + total - 1)});
            asked_md5 = offset + total - attempt_first <= kMaxMd5Range;
            if (asked_md5) req.headers.push_back({"x-ms-range-get-content-md5", "true"});
            return req;
          },
          sink, attempts);
      if (r.status == 416) {
        throw Error(ErrorKind::kIo,
                    "the blob is shorter than the " + std::to_string(total) + " bytes asked for at offset " +
                        std::to_string(offset),
                    ErrorContext{describe(key)});
      }
      if (!success(r.status)) fail(Operation::kRead, key, r, attempts);
      if (got != total) {
        throw Error(ErrorKind::kIo,
                    "the blob ends before byte " + std::to_string(offset + total) +
                        (blob_size ? " (it has " + std::to_string(*blob_size) + " bytes)" : std::string()),
                    ErrorContext{describe(key)});
      }
      const std::string* md5 = r.header("Content-MD5");
      if (!asked_md5 || !md5) return;
      const auto last = out.subspan(static_cast<std::size_t>(attempt_first - offset));
      if (azure::md5_base64(as_text(last)) == *md5) return;
      if (round >= 1) {
        throw Error(ErrorKind::kIo, "the bytes received twice differ from the MD5 the service sent with them",
                    ErrorContext{describe(key)}, "something on the way corrupts them; try again");
      }
    }
  }

  void put(const std::string& key, std::span<const std::byte> bytes) override {
    const std::string md5 = azure::md5_base64(as_text(bytes));
    int attempts = 0;
    const http::Response r = perform(
        key,
        [&] {
          http::Request req = request("PUT", blob_url(key, ""));
          req.headers.push_back({"x-ms-blob-type", "BlockBlob"});
          req.headers.push_back({"Content-MD5", md5});
          req.body = as_text(bytes);
          return req;
        },
        {}, attempts);
    if (!success(r.status)) fail(Operation::kWrite, key, r, attempts);
  }

  std::unique_ptr<ObjectUpload> begin_upload(const std::string& key) override;

  std::uint64_t min_part_size() const override { return 1; }

  void remove(const std::string& key) override {
    int attempts = 0;
    const http::Response r = perform(
        key,
        [&] {
          http::Request req = request("DELETE", blob_url(key, ""));
          req.headers.push_back({"x-ms-delete-snapshots", "include"});  // a blob with snapshots goes too
          return req;
        },
        {}, attempts);
    if (r.status == 404 && error_code(r) == "BlobNotFound") return;
    if (!success(r.status)) fail(Operation::kDelete, key, r, attempts);
  }

  // Put Block: one part of an upload.
  void put_block(const std::string& key, const std::string& id, std::span<const std::byte> bytes) {
    const std::string md5 = azure::md5_base64(as_text(bytes));
    int attempts = 0;
    const http::Response r = perform(
        key,
        [&] {
          http::Request req =
              request("PUT", blob_url(key, "comp=block&blockid=" + http::percent_encode(id, false)));
          req.headers.push_back({"Content-MD5", md5});
          req.body = as_text(bytes);
          return req;
        },
        {}, attempts);
    if (!success(r.status)) fail(Operation::kWrite, key, r, attempts);
  }

  // Put Block List: the blob becomes these blocks, all at once.
  void put_block_list(const std::string& key, const std::vector<std::string>& ids) {
    const std::string body = azure::block_list_xml(ids);
    const std::string md5 = azure::md5_base64(body);
    int attempts = 0;
    const http::Response r = perform(
        key,
        [&] {
          http::Request req = request("PUT", blob_url(key, "comp=blocklist"));
          req.headers.push_back({"Content-MD5", md5});
          req.headers.push_back({"Content-Type", "application/xml"});
          req.body = body;
          return req;
        },
        {}, attempts);
    if (!success(r.status)) fail(Operation::kWrite, key, r, attempts);
  }

 private:
  std::string with_sas(std::string url, const std::string& query) const {
    std::string q = query;
    if (!t_.sas.empty()) q += (q.empty() ? "" : "&") + t_.sas;
    if (!q.empty()) url += "?" + q;
    return url;
  }
  std::string container_url(const std::string& query) const {
    return with_sas(t_.endpoint + "/" + http::percent_encode(t_.container, false), query);
  }
  std::string blob_url(const std::string& key, const std::string& query) const {
    return with_sas(
        t_.endpoint + "/" + http::percent_encode(t_.container, false) + "/" + http::percent_encode(key, true),
        query);
  }

  http::Request request(std::string method, std::string url) const {
    http::Request r;
    r.method = std::move(method);
    r.url = std::move(url);
    return r;
  }

  // Date, version and (for Shared Key) the signature: per attempt, so that a
  // retry after a long Retry-After is not refused as stale.
  void authorize(http::Request& r) const {
    r.headers.push_back({"x-ms-date", azure::rfc1123_date(std::time(nullptr))});
    r.headers.push_back({"x-ms-version", std::string(azure::kApiVersion)});
    if (auth_ == Auth::kSharedKey) {
      const std::string signature = azure::shared_key_signature(t_.key, azure::string_to_sign(t_.account, r));
      r.headers.push_back({"Authorization", "SharedKey " + t_.account + ":" + signature});
    }
  }

  // Sends with retries (429, 5xx, dropped connections; `make` builds each
  // attempt, so a read resumes where a dropped body stopped); a transport
  // failure after the retries becomes an Error naming host and port.
  http::Response perform(const std::string& key, const std::function<http::Request()>& make,
                         const http::BodySink& sink, int& attempts) {
    try {
      return http::with_retries(policy_, [&] {
        ++attempts;
        http::Request r = make();
        authorize(r);
        return thread_client().send(r, sink);
      });
    } catch (const http::TransportError& e) {
      throw azure::map_transport_error(describe(key), e.what());
    }
  }

  static std::string error_code(const http::Response& r) {
    if (const std::string* h = r.header("x-ms-error-code")) return *h;
    return azure::parse_error_code(r.body);
  }

  [[noreturn]] void fail(Operation op, const std::string& key, const http::Response& r, int attempts,
                         const std::string& code = {}) const {
    throw azure::map_error(describe(key), t_.container, op, r.status, code.empty() ? error_code(r) : code,
                           auth_, attempts);
  }

  std::uint64_t content_length(const http::Response& r, const std::string& key) const {
    const std::string* v = r.header("Content-Length");
    if (!v || v->empty() || v->size() > 19 || v->find_first_not_of("0123456789") != std::string::npos) {
      throw Error(ErrorKind::kIo, "the service answered without a valid Content-Length",
                  ErrorContext{describe(key)});
    }
    return std::stoull(*v);
  }

  // Get Container Properties, for a HEAD answer of 404 without an error code.
  bool container_exists(const std::string& key) {
    int attempts = 0;
    const http::Response r = perform(
        key, [&] { return request("HEAD", container_url("restype=container")); }, {}, attempts);
    if (r.status == 404) return false;
    if (!success(r.status)) fail(Operation::kStat, key, r, attempts);
    return true;
  }

  azure::Target t_;
  Auth auth_ = Auth::kAnonymous;
  http::RetryPolicy policy_;
  int page_size_ = 0;
};

class AzureUpload : public ObjectUpload {
 public:
  AzureUpload(std::shared_ptr<AzureStore> store, std::string key)
      : store_(std::move(store)), key_(std::move(key)), token_(random_token()) {}
  ~AzureUpload() override { abort(); }

  void upload_part(std::size_t number, std::span<const std::byte> bytes) override {
    {
      std::lock_guard lock(mutex_);
      if (finished_) {
        throw Error(ErrorKind::kInternal, "a part was uploaded after the upload ended",
                    ErrorContext{store_->describe(key_)});
      }
    }
    // Empty parts are not blocks (the service refuses empty blocks): they add nothing.
    if (!bytes.empty()) store_->put_block(key_, azure::block_id(token_, number), bytes);
    std::lock_guard lock(mutex_);
    parts_[number] = !bytes.empty();
  }

  void commit(std::size_t part_count) override {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(mutex_);
      if (finished_) {
        throw Error(ErrorKind::kInternal, "the upload was committed after it ended",
                    ErrorContext{store_->describe(key_)});
      }
      for (std::size_t i = 0; i < part_count; ++i) {
        const auto it = parts_.find(i);
        if (it == parts_.end()) {
          throw Error(ErrorKind::kInternal, "part " + std::to_string(i) + " was never uploaded",
                      ErrorContext{store_->describe(key_)});
        }
        if (it->second) ids.push_back(azure::block_id(token_, i));
      }
    }
    store_->put_block_list(key_, ids);
    std::lock_guard lock(mutex_);
    finished_ = true;
  }

  // The service has no way to discard uncommitted blocks: they never become
  // visible, and it drops them when the blob is next committed or after a week.
  void abort() noexcept override {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }

 private:
  std::shared_ptr<AzureStore> store_;
  std::string key_;
  std::string token_;
  std::mutex mutex_;
  std::map<std::size_t, bool> parts_;  // part number -> holds bytes
  bool finished_ = false;
};

std::unique_ptr<ObjectUpload> AzureStore::begin_upload(const std::string& key) {
  return std::make_unique<AzureUpload>(shared_from_this(), key);
}

}  // namespace

std::optional<RemoteLocation> open_azure_location(const std::string& url) {
  auto target = azure::resolve_url(url, [](std::string_view name) { return setting(name); });
  if (!target) return std::nullopt;
  std::string prefix = target->prefix;
  return RemoteLocation{std::make_shared<AzureStore>(std::move(*target)), std::move(prefix)};
}

}  // namespace paramdelta::storage
