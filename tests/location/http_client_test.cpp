// The pure parts of the HTTP client: URLs, redirects, headers, Retry-After,
// Content-Range and the backoff between retries.
#include "location/http_client.h"

#include <gtest/gtest.h>

namespace paramdelta::http {
namespace {

TEST(HttpUrl, AnAbsoluteUrlGivesSchemeHostPortAndTarget) {
  const auto u = parse_url("HTTPS://Hub.Example.org/org/name/resolve/main/config.json?x=1#frag");
  ASSERT_TRUE(u);
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "hub.example.org");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/org/name/resolve/main/config.json?x=1");
  EXPECT_EQ(host_and_port(*u), "hub.example.org:443");
}

TEST(HttpUrl, UserInformationNeverReachesTheHostShownInMessages) {
  const auto u = parse_url("http://user:secret@127.0.0.1:8080");
  ASSERT_TRUE(u);
  EXPECT_EQ(host_and_port(*u), "127.0.0.1:8080");
  EXPECT_EQ(u->target, "/");
}

TEST(HttpUrl, Ipv6LiteralsKeepTheirBrackets) {
  const auto u = parse_url("http://[::1]:9000/x");
  ASSERT_TRUE(u);
  EXPECT_EQ(host_and_port(*u), "[::1]:9000");
}

TEST(HttpUrl, OtherSchemesAndBadPortsAreRefused) {
  EXPECT_FALSE(parse_url("ftp://host/x"));
  EXPECT_FALSE(parse_url("huggingface.co/org/name"));
  EXPECT_FALSE(parse_url("http://host:99999/"));
  EXPECT_FALSE(parse_url("http://host:12ab/"));
  EXPECT_FALSE(parse_url("http:///path"));
  EXPECT_FALSE(parse_url("http://ho st/"));
}

TEST(HttpRedirect, RelativeAndAbsoluteLocationsResolveAgainstTheRequest) {
  EXPECT_EQ(resolve_location_header("https://h:1/a/b/c?q", "/x/y"), "https://h:1/x/y");
  EXPECT_EQ(resolve_location_header("https://h/a/b/c?q", "d"), "https://h:443/a/b/d");
  EXPECT_EQ(resolve_location_header("https://h/a", "//cdn.example/z"), "https://cdn.example/z");
  EXPECT_EQ(resolve_location_header("https://h/a", "http://cdn:81/z?sig=1"), "http://cdn:81/z?sig=1");
  EXPECT_FALSE(resolve_location_header("https://h/a", "file:///etc/passwd"));
  EXPECT_FALSE(resolve_location_header("https://h/a", ""));
}

TEST(HttpRedirect, OriginsDifferByHostPortOrScheme) {
  EXPECT_TRUE(same_origin(*parse_url("https://h/a"), *parse_url("https://H:443/b")));
  EXPECT_FALSE(same_origin(*parse_url("https://h/a"), *parse_url("https://h:8443/a")));
  EXPECT_FALSE(same_origin(*parse_url("https://h/a"), *parse_url("http://h:443/a")));
  EXPECT_FALSE(same_origin(*parse_url("https://h/a"), *parse_url("https://cdn.h/a")));
}

TEST(HttpUrl, PercentEncodingKeepsUnreservedCharactersAndOptionallySlashes) {
  EXPECT_EQ(percent_encode("refs/pr/1", false), "refs%2Fpr%2F1");
  EXPECT_EQ(percent_encode("a b/c~d.e_f-g", true), "a%20b/c~d.e_f-g");
}

TEST(HttpHeaders, AHeaderLineIsSplitAndTrimmed) {
  const auto h = parse_header_line("X-Linked-Etag:  \"abc\" \r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->name, "X-Linked-Etag");
  EXPECT_EQ(h->value, "\"abc\"");
  EXPECT_FALSE(parse_header_line("HTTP/1.1 302 Found\r\n"));
  EXPECT_FALSE(parse_header_line("\r\n"));
  EXPECT_FALSE(parse_header_line(": no name"));
}

TEST(HttpHeaders, LookupIsCaseInsensitiveAndTakesTheLast) {
  Response r;
  r.headers = {{"ETag", "1"}, {"etag", "2"}};
  ASSERT_NE(r.header("ETAG"), nullptr);
  EXPECT_EQ(*r.header("ETAG"), "2");
  EXPECT_EQ(r.header("Location"), nullptr);
}

TEST(HttpRetryAfter, SecondsAndHttpDatesAreUnderstood) {
  EXPECT_EQ(parse_retry_after("7", 0), std::chrono::seconds(7));
  EXPECT_EQ(parse_retry_after(" 0 ", 0), std::chrono::seconds(0));
  // Sun, 06 Nov 1994 08:49:37 GMT is 784111777 seconds after the epoch.
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 - 30), std::chrono::seconds(30));
  EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777 + 30), std::chrono::seconds(0));
}

TEST(HttpRetryAfter, AnythingElseIsIgnored) {
  EXPECT_FALSE(parse_retry_after("", 0));
  EXPECT_FALSE(parse_retry_after("-1", 0));
  EXPECT_FALSE(parse_retry_after("soon", 0));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Xyz 1994 08:49:37 GMT", 0));
  EXPECT_FALSE(parse_retry_after("Sun, 06 Nov 1994 28:49:37 GMT", 0));
}

TEST(HttpContentRange, TheFirstBytePositionIsRead) {
  EXPECT_EQ(parse_content_range_start("bytes 100-199/200"), 100u);
  EXPECT_EQ(parse_content_range_start("bytes 0-0/*"), 0u);
  EXPECT_FALSE(parse_content_range_start("bytes */200"));
  EXPECT_FALSE(parse_content_range_start("items 1-2/3"));
}

TEST(HttpRetry, OnlyStatusesThatMayChangeAreRetried) {
  for (long s : {429, 500, 502, 503, 504}) EXPECT_TRUE(is_retryable_status(s)) << s;
  for (long s : {200, 206, 302, 401, 403, 404, 416, 501}) EXPECT_FALSE(is_retryable_status(s)) << s;
}

TEST(HttpRetry, BackoffGrowsExponentiallyWithJitterUpToTheCap) {
  RetryPolicy policy;
  std::mt19937_64 rng(1);
  for (int retry = 1; retry <= 10; ++retry) {
    const auto full = std::min(policy.max_delay, policy.base_delay * (1 << (retry - 1)));
    for (int i = 0; i < 20; ++i) {
      const auto d = backoff_delay(policy, retry, rng);
      EXPECT_GE(d, full / 2);
      EXPECT_LT(d, full);
    }
  }
}

TEST(HttpRetry, ARetryableStatusIsAskedAgainUntilTheAttemptsRunOut) {
  RetryPolicy policy;
  policy.base_delay = std::chrono::milliseconds(1);
  int calls = 0;
  const Response r = with_retries(policy, [&] {
    Response busy;
    busy.status = 503;
    busy.headers = {{"Retry-After", "0"}};
    ++calls;
    return busy;
  });
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(calls, policy.max_attempts);
}

TEST(HttpRetry, ADroppedConnectionIsRetriedAndThenReportedWithTheAttempts) {
  RetryPolicy policy;
  policy.base_delay = std::chrono::milliseconds(1);
  int calls = 0;
  try {
    with_retries(policy, [&]() -> Response {
      ++calls;
      throw TransportError("connection to h:1 dropped", true);
    });
    FAIL() << "no error";
  } catch (const TransportError& e) {
    EXPECT_NE(std::string(e.what()).find("5 attempts"), std::string::npos) << e.what();
  }
  EXPECT_EQ(calls, 5);
}

TEST(HttpRetry, AFailureThatCannotChangeIsNotRetried) {
  int calls = 0;
  EXPECT_THROW(with_retries(RetryPolicy{},
                            [&]() -> Response {
                              ++calls;
                              throw TransportError("bad certificate", false);
                            }),
               TransportError);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace paramdelta::http
