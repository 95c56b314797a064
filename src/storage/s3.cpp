// S3 and S3-compatible stores (SeaweedFS, MinIO, Ceph...) behind the storage
// seam: "s3://bucket/prefix", requests signed with SigV4 (or unsigned when no
// keys are set, for public buckets), path-style addressing for a custom
// endpoint (AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL) and virtual-hosted
// style for AWS itself.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "location/http_client.h"
#include "storage/object_store.h"
#include "storage/s3_protocol.h"
#include "storage/settings.h"
#include "storage/sigv4.h"

namespace paramdelta::storage {

namespace {

constexpr std::uint64_t kMinPartSize = 5u << 20;  // S3: every part but the last
constexpr std::size_t kMaxParts = 10000;          // S3: part numbers 1..10000

// Thrown by a read's body sink to stop a whole-object answer once the range is in.
struct StopTransfer {};

struct S3Config {
  std::string bucket;
  std::string region = "us-east-1";
  sigv4::Credentials credentials;
  bool anonymous = true;
  http::Url endpoint;      // scheme, host and port the requests go to
  bool path_style = true;  // "/bucket/key"; else the bucket is in the host name
  int list_page_size = 0;  // max-keys per ListObjectsV2 page; 0: the server's default (1000)
  http::RetryPolicy retry;
};

bool dns_compatible_bucket(const std::string& b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return b.front() != '-' && b.back() != '-';
}

bool valid_bucket(const std::string& b) {
  if (b.size() < 3 || b.size() > 255) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
          c == '.' || c == '_'))
      return false;
  }
  return std::isalnum(static_cast<unsigned char>(b.front())) &&
         std::isalnum(static_cast<unsigned char>(b.back()));
}

std::string host_header(const http::Url& url) {
  const bool default_port =
      (url.scheme == "https" && url.port == 443) || (url.scheme == "http" && url.port == 80);
  return default_port ? url.host : url.host + ":" + std::to_string(url.port);
}

// A few HTTP clients shared by the threads that call the store: each request
// takes one, and gives it back (with its open connection) when done.
class ClientPool {
 public:
  class Lease {
   public:
    Lease(ClientPool& pool, std::unique_ptr<http::Client> client) : pool_(pool), client_(std::move(client)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { pool_.give_back(std::move(client_)); }
    http::Client& operator*() { return *client_; }

   private:
    ClientPool& pool_;
    std::unique_ptr<http::Client> client_;
  };

  Lease take() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        auto c = std::move(free_.back());
        free_.pop_back();
        return Lease(*this, std::move(c));
      }
    }
    return Lease(*this, std::make_unique<http::Client>());
  }

 private:
  void give_back(std::unique_ptr<http::Client> client) {
    std::lock_guard lock(mutex_);
    if (free_.size() < 32) free_.push_back(std::move(client));
  }
  std::mutex mutex_;
  std::vector<std::unique_ptr<http::Client>> free_;
};

struct Call {
  std::string method = "GET";
  std::string key;  // empty: the bucket itself
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;  // signed, besides the usual ones
  std::string_view body;
  std::string operation;  // for messages: "read", "write", "list", "delete"
};

class S3Store : public ObjectStore, public std::enable_shared_from_this<S3Store> {
 public:
  explicit S3Store(S3Config config) : config_(std::move(config)) {}

  std::string describe(const std::string& key) const override {
    return key.empty() ? "s3://" + config_.bucket : "s3://" + config_.bucket + "/" + key;
  }

  std::optional<ObjectInfo> stat(const std::string& key) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  void read(const std::string& key, std::uint64_t offset, std::span<std::byte> out) override;
  void put(const std::string& key, std::span<const std::byte> bytes) override;
  std::unique_ptr<ObjectUpload> begin_upload(const std::string& key) override;
  std::uint64_t min_part_size() const override { return kMinPartSize; }
  void remove(const std::string& key) override;

  // One attempt of `call`, signed now.
  http::Response send_once(const Call& call, const http::BodySink& sink = {});
  // `attempt` with retries; transport failures that outlast them become Error.
  http::Response retrying(const std::string& key, const std::function<http::Response()>& attempt);
  http::Response send(const Call& call) {
    return retrying(call.key, [&] { return send_once(call); });
  }
  [[noreturn]] void fail(const Call& call, const http::Response& r);
  s3::ErrorSubject subject(const std::string& key, const std::string& operation) const {
    return {describe(key), config_.bucket, operation, config_.anonymous, config_.region};
  }

 private:
  S3Config config_;
  ClientPool clients_;
};

class S3Upload : public ObjectUpload {
 public:
  S3Upload(std::shared_ptr<S3Store> store, std::string key)
      : store_(std::move(store)), key_(std::move(key)) {}
  ~S3Upload() override { abort(); }
  void upload_part(std::size_t number, std::span<const std::byte> bytes) override;
  void commit(std::size_t part_count) override;
  void abort() noexcept override;

 private:
  struct Part {
    std::string etag;
    std::uint64_t size = 0;
  };
  [[noreturn]] void internal(const std::string& message) const {
    throw Error(ErrorKind::kInternal, message, ErrorContext{store_->describe(key_)});
  }
  std::string ensure_started();
  void check_order_locked(std::size_t number, std::uint64_t size) const;

  std::shared_ptr<S3Store> store_;
  std::string key_;
  std::mutex mutex_;  // guards everything below
  std::mutex start_mutex_;
  std::string upload_id_;
  std::map<std::size_t, Part> parts_;
  std::optional<std::vector<std::byte>> small_first_;  // part 0 below the minimum: a one-part object
  bool finished_ = false;                              // committed or aborted
};

// ---------------------------------------------------------------------------

http::Response S3Store::send_once(const Call& call, const http::BodySink& sink) {
  std::string path;
  if (config_.path_style) {
    path = "/" + sigv4::uri_encode(config_.bucket, false);
    if (!call.key.empty()) path += "/" + sigv4::uri_encode(call.key, true);
  } else {
    path = "/" + sigv4::uri_encode(call.key, true);
  }
  const std::string query = sigv4::canonical_query(call.query);
  http::Request request;
  request.method = call.method;
  request.url = config_.endpoint.scheme + "://" + host_header(config_.endpoint) + path +
                (query.empty() ? "" : "?" + query);
  request.body = call.body;

  const std::string payload_hash =
      call.body.empty() ? std::string(sigv4::kEmptyPayloadHash) : sigv4::sha256_hex(call.body);
  std::vector<std::pair<std::string, std::string>> headers = call.headers;
  if (!config_.anonymous) {
    sigv4::SignedRequest s;
    s.method = call.method;
    s.canonical_uri = path;
    s.query = call.query;
    s.payload_hash = payload_hash;
    s.amz_date = sigv4::amz_date_now();
    s.region = config_.region;
    headers.emplace_back("x-amz-content-sha256", payload_hash);
    headers.emplace_back("x-amz-date", s.amz_date);
    if (!config_.credentials.session_token.empty())
      headers.emplace_back("x-amz-security-token", config_.credentials.session_token);
    s.headers = headers;
    s.headers.emplace_back("host", host_header(config_.endpoint));
    headers.emplace_back("Authorization", sigv4::authorization(s, config_.credentials));
  }
  for (auto& [name, value] : headers) request.headers.push_back({name, value});
  auto client = clients_.take();
  return (*client).send(request, sink);
}

http::Response S3Store::retrying(const std::string& key, const std::function<http::Response()>& attempt) {
  try {
    return http::with_retries(config_.retry, attempt);
  } catch (const http::TransportError& e) {
    throw Error(ErrorKind::kIo, std::string("cannot reach the S3 endpoint: ") + e.what(),
                ErrorContext{describe(key)}, "check AWS_ENDPOINT_URL and that the server is running");
  }
}

void S3Store::fail(const Call& call, const http::Response& r) {
  const std::string* region = r.header("x-amz-bucket-region");
  throw s3::response_error(r.status, r.body, subject(call.key, call.operation),
                           region ? *region : std::string());
}

std::optional<ObjectInfo> S3Store::stat(const std::string& key) {
  Call head{"HEAD", key, {}, {}, {}, "read"};
  const http::Response r = send(head);
  if (r.status >= 200 && r.status < 300) {
    const std::string* length = r.header("Content-Length");
    std::uint64_t size = 0;
    if (!length || length->empty() || length->size() > 19 ||
        !std::all_of(length->begin(), length->end(), [](char c) { return c >= '0' && c <= '9'; })) {
      throw Error(ErrorKind::kIo, "the server's answer to HEAD has no valid Content-Length",
                  ErrorContext{describe(key)});
    }
    size = std::stoull(*length);
    return ObjectInfo{key, size};
  }
  if (r.status == 404) {
    // A HEAD answer has no body to tell a missing object from a missing bucket.
    // (A key that may read objects but not the bucket itself gets 403 here: the
    // object is missing all the same.)
    Call bucket{"HEAD", "", {}, {}, {}, "bucket"};
    const http::Response b = send(bucket);
    if (b.status == 404) throw s3::response_error(404, "", subject(key, "bucket"));
    if (http::is_retryable_status(b.status)) fail(bucket, b);
    return std::nullopt;
  }
  if (r.status == 401 || r.status == 403 || r.status == 400) {
    // Nor why it was refused: a one-byte GET of the same object says (its <Error> Code).
    Call get{"GET", key, {}, {{"Range", "bytes=0-0"}}, {}, "read"};
    const http::Response g = send(get);
    if (g.status >= 300) fail(get, g);
  }
  fail(head, r);
}

std::vector<ObjectInfo> S3Store::list(const std::string& prefix) {
  std::vector<ObjectInfo> out;
  std::set<std::string> tokens_seen;
  std::string token;
  for (;;) {
    Call call{"GET", "", {{"list-type", "2"}}, {}, {}, "list"};
    if (!prefix.empty()) call.query.emplace_back("prefix", prefix);
    if (config_.list_page_size > 0)
      call.query.emplace_back("max-keys", std::to_string(config_.list_page_size));
    if (!token.empty()) call.query.emplace_back("continuation-token", token);
    const http::Response r = send(call);
    if (r.status != 200) {
      Call named = call;
      named.key = prefix;
      fail(named, r);
    }
    s3::ListPage page = s3::parse_list_objects_v2(r.body, describe(prefix));
    for (auto& o : page.objects) {
      if (o.key.compare(0, prefix.size(), prefix) != 0) {
        throw Error(ErrorKind::kIo, "the server listed '" + o.key.substr(0, 200) + "', outside the prefix",
                    ErrorContext{describe(prefix)});
      }
      out.push_back(std::move(o));
    }
    if (!page.truncated) break;
    if (!tokens_seen.insert(page.next_token).second) {
      throw Error(ErrorKind::kIo, "the server's listing repeats a continuation token",
                  ErrorContext{describe(prefix)});
    }
    token = std::move(page.next_token);
  }
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  out.erase(std::unique(out.begin(), out.end(),
                        [](const ObjectInfo& a, const ObjectInfo& b) { return a.key == b.key; }),
            out.end());
  return out;
}

void S3Store::read(const std::string& key, std::uint64_t offset, std::span<std::byte> out) {
  if (out.empty()) return;
  const std::uint64_t last = offset + (out.size() - 1);
  if (last < offset) {
    throw Error(ErrorKind::kInternal, "a read past 2^64 bytes", ErrorContext{describe(key)});
  }
  std::uint64_t got = 0;  // bytes in `out` so far: a retry resumes after them
  const auto attempt = [&]() -> http::Response {
    const std::uint64_t start = offset + got;
    Call call{"GET", key,   {}, {{"Range", "bytes=" + std::to_string(start) + "-" + std::to_string(last)}},
              {},    "read"};
    bool first = true;
    std::uint64_t skip = 0;
    const http::BodySink sink = [&](const http::Response& head, std::string_view chunk) {
      if (first) {
        first = false;
        if (head.status == 206) {
          const std::string* range = head.header("Content-Range");
          const auto at = range ? http::parse_content_range_start(*range) : std::nullopt;
          if (!at || *at != start) {
            throw Error(ErrorKind::kIo, "the server answered a ranged read with another range",
                        ErrorContext{describe(key)});
          }
        } else {
          skip = start;  // the whole object: skip to the range
        }
      }
      const std::uint64_t dropped = std::min<std::uint64_t>(skip, chunk.size());
      skip -= dropped;
      chunk.remove_prefix(static_cast<std::size_t>(dropped));
      const std::size_t room = out.size() - static_cast<std::size_t>(got);
      if (head.status == 206 && chunk.size() > room) {
        throw Error(ErrorKind::kIo, "the server sent more bytes than the range asked for",
                    ErrorContext{describe(key)});
      }
      const std::size_t n = std::min(room, chunk.size());
      std::memcpy(out.data() + got, chunk.data(), n);
      got += n;
      if (head.status != 206 && got == out.size() && chunk.size() > n) {
        // A whole-object answer: the rest is not needed. Stop the transfer.
        throw StopTransfer{};
      }
    };
    try {
      return send_once(call, sink);
    } catch (const StopTransfer&) {
      http::Response done;
      done.status = 200;
      return done;
    }
  };
  const http::Response r = retrying(key, attempt);
  if (r.status < 200 || r.status >= 300) {
    Call named{"GET", key, {}, {}, {}, "read"};
    fail(named, r);
  }
  if (got != out.size()) {
    throw Error(ErrorKind::kIo,
                "the object ends before byte " + std::to_string(last + 1) + " (read " +
                    std::to_string(offset + got) + ")",
                ErrorContext{describe(key)}, "the object is shorter than expected: was it replaced?");
  }
}

void S3Store::put(const std::string& key, std::span<const std::byte> bytes) {
  Call call{"PUT", key, {}, {}, {reinterpret_cast<const char*>(bytes.data()), bytes.size()}, "write"};
  const http::Response r = send(call);
  if (r.status < 200 || r.status >= 300) fail(call, r);
}

void S3Store::remove(const std::string& key) {
  Call call{"DELETE", key, {}, {}, {}, "delete"};
  const http::Response r = send(call);
  if (r.status >= 200 && r.status < 300) return;
  if (r.status == 404) {
    const auto e = s3::parse_error_body(r.body);
    if (!e || e->code != "NoSuchBucket") return;
  }
  fail(call, r);
}

std::unique_ptr<ObjectUpload> S3Store::begin_upload(const std::string& key) {
  return std::make_unique<S3Upload>(shared_from_this(), key);
}

// ---------------------------------------------------------------------------

std::string S3Upload::ensure_started() {
  std::lock_guard start(start_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (!upload_id_.empty()) return upload_id_;
  }
  Call call{"POST", key_, {{"uploads", ""}}, {}, {}, "write"};
  const http::Response r = store_->send(call);
  if (r.status != 200) store_->fail(call, r);
  std::string id = s3::parse_upload_id(r.body, store_->describe(key_));
  std::lock_guard lock(mutex_);
  upload_id_ = id;
  return id;
}

void S3Upload::check_order_locked(std::size_t number, std::uint64_t size) const {
  // A part below the minimum must be the last: no part may follow it.
  const auto small = [](std::uint64_t s) { return s < kMinPartSize; };
  if (small(size) && !parts_.empty() && parts_.rbegin()->first > number) {
    internal("part " + std::to_string(number) + " has " + std::to_string(size) +
             " bytes, less than S3's 5 MiB for every part but the last, and is not the last");
  }
  for (const auto& [n, p] : parts_) {
    if (n < number && small(p.size)) {
      internal("part " + std::to_string(n) + " has " + std::to_string(p.size) +
               " bytes, less than S3's 5 MiB for every part but the last, and is not the last");
    }
  }
  if (small_first_ && number > 0) {
    internal("part 0 has " + std::to_string(small_first_->size()) +
             " bytes, less than S3's 5 MiB for every part but the last, and is not the last");
  }
}

void S3Upload::upload_part(std::size_t number, std::span<const std::byte> bytes) {
  if (number >= kMaxParts)
    internal("S3 allows at most 10000 parts; part " + std::to_string(number) + " is beyond");
  {
    std::lock_guard lock(mutex_);
    if (finished_) internal("a part uploaded after the upload was committed or aborted");
    check_order_locked(number, bytes.size());
    if (number == 0 && bytes.size() < kMinPartSize && parts_.empty()) {
      small_first_.emplace(bytes.begin(), bytes.end());  // a one-part object: written by PutObject on commit
      return;
    }
  }
  const std::string id = ensure_started();
  Call call{"PUT",
            key_,
            {{"partNumber", std::to_string(number + 1)}, {"uploadId", id}},
            {},
            {reinterpret_cast<const char*>(bytes.data()), bytes.size()},
            "write"};
  const http::Response r = store_->send(call);
  if (r.status != 200) store_->fail(call, r);
  const std::string* etag = r.header("ETag");
  if (!etag || etag->empty()) {
    throw Error(ErrorKind::kIo,
                "the server's answer to uploading part " + std::to_string(number) + " has no ETag",
                ErrorContext{store_->describe(key_)});
  }
  std::lock_guard lock(mutex_);
  if (finished_) internal("a part uploaded after the upload was committed or aborted");
  check_order_locked(number, bytes.size());
  parts_[number] = Part{*etag, bytes.size()};
  if (number == 0) small_first_.reset();  // a full part 0 replaces a small one
}

void S3Upload::commit(std::size_t part_count) {
  std::vector<std::string> etags;
  std::optional<std::vector<std::byte>> single;
  std::string id;
  std::uint64_t total = 0;
  {
    std::lock_guard lock(mutex_);
    if (finished_) internal("the upload was already committed or aborted");
    const std::size_t have = parts_.size() + (small_first_ ? 1 : 0);
    for (std::size_t n = 0; n < part_count; ++n) {
      if (!parts_.count(n) && !(n == 0 && small_first_))
        internal("part " + std::to_string(n) + " was never uploaded");
    }
    if (have > part_count)
      internal(std::to_string(have) + " parts were uploaded but " + std::to_string(part_count) +
               " committed");
    for (const auto& [n, p] : parts_) {
      if (n + 1 < part_count && p.size < kMinPartSize)
        internal("part " + std::to_string(n) + " has " + std::to_string(p.size) +
                 " bytes, less than S3's 5 MiB for every part but the last");
      etags.push_back(p.etag);
      total += p.size;
    }
    if (part_count == 0) {
      single.emplace();
    } else if (small_first_) {
      single = std::move(small_first_);
      small_first_.reset();
    }
    id = upload_id_;
    finished_ = true;
  }
  try {
    if (single) {
      store_->put(key_, *single);
      if (!id.empty()) {
        Call abort_call{"DELETE", key_, {{"uploadId", id}}, {}, {}, "write"};
        store_->send(abort_call);
      }
      return;
    }
    const std::string body = s3::complete_multipart_xml(etags);
    Call call{"POST", key_, {{"uploadId", id}}, {{"Content-Type", "application/xml"}}, body, "write"};
    // S3 may answer 200 and still fail the completion: the <Error> is in the body.
    int attempts = 0;
    const http::Response r = store_->retrying(key_, [&] {
      ++attempts;
      http::Response a = store_->send_once(call);
      if (a.status == 200) {
        if (const auto e = s3::parse_error_body(a.body)) {
          a.status = (e->code == "SlowDown") ? 503 : (e->code == "InternalError") ? 500 : 400;
        }
      }
      return a;
    });
    if (r.status != 200) {
      // A retry after an answer that was lost: the first attempt may have completed it.
      const auto e = s3::parse_error_body(r.body);
      if (attempts > 1 && r.status == 404 && e && e->code == "NoSuchUpload") {
        const auto info = store_->stat(key_);
        if (info && info->size == total) return;
      }
      store_->fail(call, r);
    }
  } catch (...) {
    if (!id.empty()) {
      try {
        Call abort_call{"DELETE", key_, {{"uploadId", id}}, {}, {}, "write"};
        store_->send(abort_call);
      } catch (...) {
      }
    }
    throw;
  }
}

void S3Upload::abort() noexcept {
  std::string id;
  {
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    id = upload_id_;
    small_first_.reset();
  }
  if (id.empty()) return;
  try {
    Call call{"DELETE", key_, {{"uploadId", id}}, {}, {}, "write"};
    store_->send(call);
  } catch (...) {
    // Best effort: an upload left behind expires by the bucket's lifecycle rules.
  }
}

// ---------------------------------------------------------------------------

http::Url endpoint_from_settings(const std::string& bucket, const std::string& region, bool& path_style,
                                 const std::string& url_text) {
  std::optional<std::string> custom = setting("AWS_ENDPOINT_URL_S3");
  const char* name = "AWS_ENDPOINT_URL_S3";
  if (!custom) {
    custom = setting("AWS_ENDPOINT_URL");
    name = "AWS_ENDPOINT_URL";
  }
  if (custom) {
    auto url = http::parse_url(*custom);
    if (!url || url->target != "/") {
      throw Error(ErrorKind::kUsage, std::string(name) + " is not an http(s)://host[:port] URL",
                  ErrorContext{url_text}, "set it like http://127.0.0.1:8333");
    }
    path_style = true;
    return *url;
  }
  http::Url aws;
  aws.scheme = "https";
  aws.port = 443;
  aws.target = "/";
  if (dns_compatible_bucket(bucket)) {
    aws.host = bucket + ".s3." + region + ".amazonaws.com";
    path_style = false;
  } else {
    aws.host = "s3." + region + ".amazonaws.com";
    path_style = true;
  }
  return aws;
}

}  // namespace

std::optional<RemoteLocation> open_s3_location(const std::string& url) {
  if (url.size() < 5 || url.compare(0, 5, "s3://") != 0) return std::nullopt;
  std::string rest = url.substr(5);
  const auto slash = rest.find('/');
  S3Config config;
  config.bucket = rest.substr(0, slash);
  std::string prefix = slash == std::string::npos ? std::string() : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.front() == '/') prefix.erase(prefix.begin());
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (!valid_bucket(config.bucket)) {
    throw Error(ErrorKind::kUsage, "'" + config.bucket + "' is not a valid S3 bucket name", ErrorContext{url},
                "write s3://bucket/prefix (3 to 63 letters, digits, '.' or '-')");
  }
  if (auto region = setting("AWS_REGION")) {
    config.region = *region;
  } else if (auto fallback = setting("AWS_DEFAULT_REGION")) {
    config.region = *fallback;
  }
  auto key = setting("AWS_ACCESS_KEY_ID");
  auto secret = setting("AWS_SECRET_ACCESS_KEY");
  if (key.has_value() != secret.has_value()) {
    throw Error(ErrorKind::kUsage,
                std::string(key ? "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"
                                : "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not"),
                ErrorContext{url}, "set both, or neither for anonymous access to a public bucket");
  }
  if (key) {
    config.anonymous = false;
    config.credentials.access_key = *key;
    config.credentials.secret_key = *secret;
    config.credentials.session_token = setting("AWS_SESSION_TOKEN").value_or("");
  }
  config.endpoint = endpoint_from_settings(config.bucket, config.region, config.path_style, url);
  if (auto page = setting("PARAMDELTA_S3_LIST_PAGE_SIZE")) {
    // Internal: small listing pages, so that tests exercise continuation tokens.
    try {
      config.list_page_size = std::clamp(std::stoi(*page), 1, 1000);
    } catch (const std::exception&) {
      throw Error(ErrorKind::kUsage, "PARAMDELTA_S3_LIST_PAGE_SIZE is not a number", ErrorContext{url});
    }
  }
  RemoteLocation location;
  location.store = std::make_shared<S3Store>(std::move(config));
  location.prefix = std::move(prefix);
  return location;
}

}  // namespace paramdelta::storage
