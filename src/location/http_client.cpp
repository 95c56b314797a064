#include "location/http_client.h"

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>

#include "core/text.h"

namespace paramdelta::http {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr std::size_t kMaxErrorBody = 64u << 10;

}  // namespace

std::optional<Url> parse_url(std::string_view url) {
  const auto sep = url.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  Url out;
  out.scheme = text::ascii_lower(url.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  std::string_view rest = url.substr(sep + 3);
  const auto path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  std::string_view target =
      path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(0, close + 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    out.host = text::ascii_lower(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (out.host.empty() || out.host == "[]") return std::nullopt;
  for (unsigned char c : out.host) {
    if (c <= ' ' || c >= 0x7f) return std::nullopt;
  }
  if (!port_text.empty()) {
    if (!all_digits(port_text) || port_text.size() > 5) return std::nullopt;
    out.port = std::stoi(std::string(port_text));
    if (out.port < 1 || out.port > 65535) return std::nullopt;
  } else {
    out.port = out.scheme == "https" ? 443 : 80;
  }
  if (auto hash = target.find('#'); hash != std::string_view::npos) target = target.substr(0, hash);
  if (target.empty() || target.front() == '?') out.target.push_back('/');
  out.target.append(target.data(), target.size());
  return out;
}

std::string host_and_port(const Url& url) { return url.host + ":" + std::to_string(url.port); }

bool same_origin(const Url& a, const Url& b) {
  return a.scheme == b.scheme && a.host == b.host && a.port == b.port;
}

std::optional<std::string> resolve_location_header(std::string_view request_url, std::string_view location) {
  location = trim(location);
  if (location.empty()) return std::nullopt;
  if (parse_url(location)) return std::string(location);
  const auto base = parse_url(request_url);
  if (!base) return std::nullopt;
  if (location.substr(0, 2) == "//") {
    std::string candidate = base->scheme + ":" + std::string(location);
    if (parse_url(candidate)) return candidate;
    return std::nullopt;
  }
  if (location.find("://") != std::string_view::npos) return std::nullopt;  // another scheme
  const std::string origin = base->scheme + "://" + host_and_port(*base);
  if (location.front() == '/') return origin + std::string(location);
  std::string path = base->target.substr(0, base->target.find('?'));
  path = path.substr(0, path.rfind('/') + 1);
  return origin + path + std::string(location);
}

std::string percent_encode(std::string_view text, bool keep_slash) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<Header> parse_header_line(std::string_view line) {
  line = trim(line);
  if (line.empty() || line.substr(0, 5) == "HTTP/") return std::nullopt;
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::string_view name = line.substr(0, colon);
  for (char c : name) {
    if (c <= ' ' || c >= 0x7f) return std::nullopt;
  }
  return Header{std::string(name), std::string(trim(line.substr(colon + 1)))};
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, std::time_t now) {
  value = trim(value);
  if (all_digits(value)) {
    if (value.size() > 9) return std::chrono::seconds(999'999'999);
    return std::chrono::seconds(std::stoll(std::string(value)));
  }
  // An HTTP date (IMF-fixdate): "Sun, 06 Nov 1994 08:49:37 GMT".
  if (value.size() != 29 || value.substr(26) != "GMT") return std::nullopt;
  static const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::string_view day = value.substr(5, 2), month = value.substr(8, 3), year = value.substr(12, 4),
                         hh = value.substr(17, 2), mm = value.substr(20, 2), ss = value.substr(23, 2);
  if (value[3] != ',' || value[4] != ' ' || value[7] != ' ' || value[11] != ' ' || value[16] != ' ' ||
      value[19] != ':' || value[22] != ':' || value[25] != ' ')
    return std::nullopt;
  if (!all_digits(day) || !all_digits(year) || !all_digits(hh) || !all_digits(mm) || !all_digits(ss))
    return std::nullopt;
  int mon = -1;
  for (int i = 0; i < 12; ++i) {
    if (month == months[i]) mon = i;
  }
  if (mon < 0) return std::nullopt;
  std::tm tm{};
  tm.tm_year = std::stoi(std::string(year)) - 1900;
  tm.tm_mon = mon;
  tm.tm_mday = std::stoi(std::string(day));
  tm.tm_hour = std::stoi(std::string(hh));
  tm.tm_min = std::stoi(std::string(mm));
  tm.tm_sec = std::stoi(std::string(ss));
  if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
    return std::nullopt;
  const std::time_t at = timegm(&tm);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  return std::chrono::seconds(at > now ? at - now : 0);
}

std::optional<std::uint64_t> parse_content_range_start(std::string_view value) {
  value = trim(value);
  if (value.substr(0, 6) != "bytes ") return std::nullopt;
  value.remove_prefix(6);
  const auto dash = value.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  const std::string_view first = value.substr(0, dash);
  if (!all_digits(first) || first.size() > 19) return std::nullopt;
  return std::stoull(std::string(first));
}

const std::string* Response::header(std::string_view name) const {
  for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
    if (text::iequals(it->name, name)) return &it->value;
  }
  return nullptr;
}

struct Client::Impl {
  ClientOptions options;
  CURL* curl = nullptr;

  // Per exchange.
  Response* response = nullptr;
  const BodySink* sink = nullptr;
  long status_seen = -1;
  bool too_large = false;
  std::exception_ptr sink_error;

  static std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Impl*>(user);
    const std::string_view line(data, size * count);
    if (line.substr(0, 5) == "HTTP/") {
      self->response->headers.clear();  // a new response (after 100 Continue)
    } else if (auto h = parse_header_line(line)) {
      if (self->response->headers.size() < 1000) self->response->headers.push_back(std::move(*h));
    }
    return size * count;
  }

  static std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
    auto* self = static_cast<Impl*>(user);
    const std::size_t n = size * count;
    if (self->status_seen < 0) curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &self->status_seen);
    const bool success = self->status_seen >= 200 && self->status_seen < 300;
    if (success && self->sink && *self->sink) {
      try {
        self->response->status = self->status_seen;
        (*self->sink)(*self->response, std::string_view(data, n));
      } catch (...) {
        self->sink_error = std::current_exception();
        return 0;
      }
      return n;
    }
    std::string& body = self->response->body;
    const std::size_t cap = success ? self->options.max_body_bytes : kMaxErrorBody;
    if (body.size() + n > cap) {
      if (success) {
        self->too_large = true;
        return 0;
      }
      body.append(data, cap - std::min(cap, body.size()));
      return n;
    }
    body.append(data, n);
    return n;
  }
};

namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

TransportError transport_error(CURLcode rc, const Url& url, long os_errno) {
  const std::string where = host_and_port(url);
  const std::string os = os_errno ? std::string(" (") + std::strerror(static_cast<int>(os_errno)) + ")" : "";
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
      return TransportError("cannot resolve host '" + url.host + "'", true);
    case CURLE_COULDNT_CONNECT:
      return TransportError("cannot connect to " + where + os, true);
    case CURLE_OPERATION_TIMEDOUT:
      return TransportError("timed out talking to " + where, true);
    case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return TransportError("connection to " + where + " dropped (" + curl_easy_strerror(rc) + ")", true);
    case CURLE_SSL_CONNECT_ERROR:
      return TransportError("TLS handshake with " + where + " failed", true);
    case CURLE_PEER_FAILED_VERIFICATION:
      return TransportError("the TLS certificate of " + where + " does not verify", false);
    default:
      return TransportError(std::string(curl_easy_strerror(rc)) + " (" + where + ")", false);
  }
}

}  // namespace

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>()) {
  global_init();
  impl_->options = options;
  impl_->curl = curl_easy_init();
  if (!impl_->curl) throw TransportError("cannot start an HTTP client", false);
}

Client::~Client() {
  if (impl_ && impl_->curl) curl_easy_cleanup(impl_->curl);
}

Response Client::send(const Request& request, const BodySink& sink) {
  const auto url = parse_url(request.url);
  if (!url) throw TransportError("not an http(s) URL", false);
  CURL* c = impl_->curl;
  curl_easy_reset(c);  // options only: open connections are kept
  Response response;
  response.url = request.url;
  impl_->response = &response;
  impl_->sink = &sink;
  impl_->status_seen = -1;
  impl_->too_large = false;
  impl_->sink_error = nullptr;

  curl_slist* headers = nullptr;
  bool content_type = false;
  for (const auto& h : request.headers) {
    headers = curl_slist_append(headers, (h.name + ": " + h.value).c_str());
    content_type = content_type || text::iequals(h.name, "Content-Type");
  }
  const bool with_body = request.method == "PUT" || request.method == "POST";
  if (with_body) {
    headers = curl_slist_append(headers, "Expect:");                           // no 100-continue round trip
    if (!content_type) headers = curl_slist_append(headers, "Content-Type:");  // not curl's form type
  }
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_2TLS));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(impl_->options.connect_timeout.count()));
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(impl_->options.stall_timeout.count()));
  curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L << 10);  // fewer, larger writes of big bodies
  curl_easy_setopt(c, CURLOPT_USERAGENT, "paramdelta/" PARAMDELTA_VERSION);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &Impl::on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, impl_.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Impl::on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, impl_.get());
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (with_body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.data() != nullptr ? request.body.data() : "");
  }
  const CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(headers);
  impl_->response = nullptr;
  impl_->sink = nullptr;
  if (impl_->sink_error) std::rethrow_exception(impl_->sink_error);
  if (impl_->too_large) {
    throw TransportError("the response from " + host_and_port(*url) + " is larger than expected", false);
  }
  if (rc != CURLE_OK) {
    long os_errno = 0;
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    throw transport_error(rc, *url, os_errno);
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

Response Client::send_following_redirects(const Request& request, const BodySink& sink, int max_redirects) {
  const auto origin = parse_url(request.url);
  if (!origin) throw TransportError("not an http(s) URL", false);
  Request current = request;
  for (int hop = 0;; ++hop) {
    Response r = send(current, sink);
    const bool redirect =
        r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
    const std::string* location = r.header("Location");
    if (!redirect || !location) return r;
    const auto here = parse_url(current.url);
    if (hop >= max_redirects) {
      throw TransportError("too many redirects (from " + host_and_port(*here) + ")", false);
    }
    auto next = resolve_location_header(current.url, *location);
    if (!next)
      throw TransportError("a redirect from " + host_and_port(*here) + " names no http(s) URL", false);
    if (!same_origin(*origin, *parse_url(*next))) {
      std::erase_if(current.headers, [](const Header& h) { return text::iequals(h.name, "Authorization"); });
    }
    current.url = std::move(*next);
  }
}

bool is_retryable_status(long status) {
  return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, std::mt19937_64& rng) {
  const int shift = std::clamp(retry - 1, 0, 20);
  const std::chrono::milliseconds full =
      std::min(policy.max_delay, std::chrono::milliseconds(policy.base_delay.count() << shift));
  std::uniform_real_distribution<double> factor(0.5, 1.0);
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(static_cast<double>(full.count()) * factor(rng)));
}

Response with_retries(const RetryPolicy& policy, const std::function<Response()>& attempt) {
  std::mt19937_64 rng(std::random_device{}());
  for (int n = 1;; ++n) {
    std::chrono::milliseconds delay{0};
    try {
      Response r = attempt();
      if (!is_retryable_status(r.status) || n >= policy.max_attempts) return r;
      delay = backoff_delay(policy, n, rng);
      if (const std::string* ra = r.header("Retry-After")) {
        if (auto asked = parse_retry_after(*ra, std::time(nullptr))) {
          delay =
              std::chrono::duration_cast<std::chrono::milliseconds>(std::min(*asked, policy.max_retry_after));
        }
      }
    } catch (const TransportError& e) {
      if (!e.retryable()) throw;
      if (n >= policy.max_attempts) {
        throw TransportError(std::string(e.what()) + ", " + std::to_string(n) + " attempts", true);
      }
      delay = backoff_delay(policy, n, rng);
    }
    std::this_thread::sleep_for(delay);
  }
}

}  // namespace paramdelta::http
