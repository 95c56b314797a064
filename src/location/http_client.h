// HTTP for the remote locations (the Hugging Face Hub today, object stores
// later), over libcurl: one connection-reusing handle per client, redirects
// followed by the caller's rules (credentials never leave their origin),
// bounded bodies, and retries with exponential backoff, jitter and Retry-After.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace paramdelta::http {

struct Header {
  std::string name;
  std::string value;
};

// The parts of an absolute http(s) URL that decide where a request goes.
struct Url {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // without user information; IPv6 literals keep their brackets
  int port = 0;        // explicit or the scheme's default
  std::string target;  // path and query, at least "/"
};
// Nothing for anything but an absolute http(s) URL with a host.
std::optional<Url> parse_url(std::string_view url);
// "host:port", the only form of a location that messages show (no path, query or user).
std::string host_and_port(const Url& url);
bool same_origin(const Url& a, const Url& b);
// The absolute URL a Location header names, relative to the request's URL.
std::optional<std::string> resolve_location_header(std::string_view request_url, std::string_view location);
// RFC 3986 percent-encoding of everything but unreserved characters (and '/' when kept).
std::string percent_encode(std::string_view text, bool keep_slash);

// One header line as received ("Name: value\r\n"); nothing for status and blank lines.
std::optional<Header> parse_header_line(std::string_view line);
// The delay a Retry-After value asks for: delta-seconds or an HTTP date
// (relative to `now`); nothing when it is neither.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::time_t now);
// The first byte position of "Content-Range: bytes FIRST-LAST/SIZE".
std::optional<std::uint64_t> parse_content_range_start(std::string_view value);

struct Request {
  std::string method = "GET";  // GET, HEAD, PUT, POST, DELETE
  std::string url;
  std::vector<Header> headers;
  // The request body (PUT, POST): sent as is, with its Content-Length, no
  // "Expect: 100-continue", and no Content-Type unless `headers` names one.
  // The bytes must outlive send().
  std::string_view body;
};

struct Response {
  long status = 0;
  std::string url;  // the URL that answered (after any redirects followed)
  std::vector<Header> headers;
  std::string body;  // the body when no sink took it (error bodies are cut at 64 KiB)
  // Case-insensitive; the last occurrence; nullptr when absent.
  const std::string* header(std::string_view name) const;
};

// The exchange failed below HTTP: no connection, a dropped or truncated
// body, a timeout. `what()` names host and port, never a path or query.
class TransportError : public std::runtime_error {
 public:
  TransportError(std::string message, bool retryable)
      : std::runtime_error(std::move(message)), retryable_(retryable) {}
  bool retryable() const noexcept { return retryable_; }

 private:
  bool retryable_;
};

// Receives a successful (2xx) response's body as it arrives, with the
// response's status and headers. An exception it throws aborts the transfer
// and comes out of Client::send unchanged.
using BodySink = std::function<void(const Response& head, std::string_view chunk)>;

struct ClientOptions {
  std::chrono::seconds connect_timeout{10};
  // A transfer that moves fewer than 1 byte per second for this long is dropped.
  std::chrono::seconds stall_timeout{60};
  std::size_t max_body_bytes = 64u << 20;  // bodies kept in memory (no sink)
};

// Not thread-safe: one per thread. Keeps its connections open between requests.
class Client {
 public:
  explicit Client(ClientOptions options = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // One exchange, no redirects followed. Throws TransportError.
  Response send(const Request& request, const BodySink& sink = {});
  // Follows up to `max_redirects` redirects; an Authorization header is sent
  // only to the origin of the first URL (a CDN never sees the token).
  Response send_following_redirects(const Request& request, const BodySink& sink = {}, int max_redirects = 5);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds base_delay{250};
  std::chrono::milliseconds max_delay{8000};
  std::chrono::seconds max_retry_after{60};  // a longer Retry-After is cut to this
};

// 429, 500, 502, 503, 504: the server may answer differently later.
bool is_retryable_status(long status);
// The pause before retry number `retry` (1 for the first): base·2^(retry−1),
// capped, times a random factor in [0.5, 1) so that clients do not retry in step.
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, std::mt19937_64& rng);

// Calls `attempt` until it returns a response whose status is not retryable,
// or the attempts run out (the last response is returned, or the last
// retryable TransportError rethrown with the number of attempts added).
// Waits as Retry-After asks when the response says, else backoff_delay.
Response with_retries(const RetryPolicy& policy, const std::function<Response()>& attempt);

}  // namespace paramdelta::http
