// The S3 store without a server: URLs and settings, and the part rules that
// are checked before any request (the exchanges themselves are tested against
// SeaweedFS in tests/interop/test_s3.py).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "paramdelta/error.h"
#include "storage/object_store.h"

namespace paramdelta::storage {
namespace {

class S3Settings : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : kNames) {
      if (const char* v = std::getenv(name)) saved_.emplace_back(name, v);
      unsetenv(name);
    }
    // Port 9 (discard) on loopback: nothing in these tests may reach it.
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "not-a-real-secret", 1);
  }
  void TearDown() override {
    for (const char* name : kNames) unsetenv(name);
    for (const auto& [name, value] : saved_) setenv(name.c_str(), value.c_str(), 1);
  }
  static constexpr const char* kNames[] = {
      "AWS_ENDPOINT_URL",  "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",  "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN", "AWS_REGION",          "AWS_DEFAULT_REGION", "PARAMDELTA_S3_LIST_PAGE_SIZE"};
  std::vector<std::pair<std::string, std::string>> saved_;
};

ErrorKind kind_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no error";
  return ErrorKind::kInternal;
}

TEST_F(S3Settings, OpensS3UrlsOnly) {
  EXPECT_FALSE(open_s3_location("az://container/x"));
  EXPECT_FALSE(open_s3_location("models/llama"));
  EXPECT_FALSE(open_s3_location("S3:/bucket"));
  const auto loc = open_s3_location("s3://models/llama/3//");
  ASSERT_TRUE(loc);
  EXPECT_EQ(loc->prefix, "llama/3");
  EXPECT_EQ(loc->describe(), "s3://models/llama/3");
  EXPECT_EQ(loc->store->describe(""), "s3://models");
  EXPECT_EQ(loc->store->min_part_size(), 5u << 20);
  EXPECT_EQ(open_s3_location("s3://models")->prefix, "");
  EXPECT_TRUE(open_remote_location("s3://models/x"));
}

TEST_F(S3Settings, RejectsBadBucketsAndHalfCredentials) {
  EXPECT_EQ(kind_of([] { open_s3_location("s3:///x"); }), ErrorKind::kUsage);
  EXPECT_EQ(kind_of([] { open_s3_location("s3://a/x"); }), ErrorKind::kUsage);
  EXPECT_EQ(kind_of([] { open_s3_location("s3://bad bucket/x"); }), ErrorKind::kUsage);
  EXPECT_EQ(kind_of([] { open_s3_location("s3://-dash/x"); }), ErrorKind::kUsage);
  unsetenv("AWS_SECRET_ACCESS_KEY");
  try {
    open_s3_location("s3://models/x");
    FAIL() << "accepted a key id without its secret";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    EXPECT_NE(e.message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
  }
  unsetenv("AWS_ACCESS_KEY_ID");
  EXPECT_TRUE(open_s3_location("s3://models/x"));  // neither: anonymous
  setenv("AWS_ENDPOINT_URL", "ftp://host", 1);
  EXPECT_EQ(kind_of([] { open_s3_location("s3://models/x"); }), ErrorKind::kUsage);
  setenv("AWS_ENDPOINT_URL", "http://host:9000/some/path", 1);
  EXPECT_EQ(kind_of([] { open_s3_location("s3://models/x"); }), ErrorKind::kUsage);
  setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9", 1);  // wins over AWS_ENDPOINT_URL
  EXPECT_TRUE(open_s3_location("s3://models/x"));
}

TEST_F(S3Settings, SmallPartsMustBeLastAndEveryPartCommitted) {
  auto loc = open_s3_location("s3://models/x");
  ASSERT_TRUE(loc);
  const std::vector<std::byte> small(100);
  {
    auto upload = loc->store->begin_upload("x");
    upload->upload_part(0, small);  // may be a one-part object: kept until commit
    EXPECT_EQ(kind_of([&] { upload->upload_part(1, small); }), ErrorKind::kInternal);
    EXPECT_EQ(kind_of([&] { upload->commit(2); }), ErrorKind::kInternal);  // part 1 never uploaded
    EXPECT_EQ(kind_of([&] { upload->upload_part(10000, small); }), ErrorKind::kInternal);
  }  // destroyed uncommitted: aborted, and no request was ever needed
  {
    auto upload = loc->store->begin_upload("x");
    upload->abort();
    EXPECT_EQ(kind_of([&] { upload->upload_part(0, small); }), ErrorKind::kInternal);
    EXPECT_EQ(kind_of([&] { upload->commit(1); }), ErrorKind::kInternal);
  }
}

TEST_F(S3Settings, AnUnreachableEndpointIsNamed) {
  setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
  auto loc = open_s3_location("s3://models/x");
  ASSERT_TRUE(loc);
  try {
    std::vector<std::byte> buf(4);
    loc->store->read("x", 0, buf);
    FAIL() << "read from a closed port";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    const std::string line = format_error_line(e);
    EXPECT_NE(line.find("127.0.0.1:1"), std::string::npos) << line;
    EXPECT_NE(line.find("AWS_ENDPOINT_URL"), std::string::npos) << line;
    EXPECT_EQ(line.find("not-a-real-secret"), std::string::npos) << line;
  }
}

// A scripted HTTP server on loopback: connection i is answered by script[i]
// (given the request's head, it returns the raw bytes to send before closing).
class ScriptedServer {
 public:
  using Answer = std::function<std::string(const std::string& request)>;
  explicit ScriptedServer(std::vector<Answer> script) : script_(std::move(script)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd_, 8) != 0) std::abort();
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  std::vector<std::string> requests;  // the heads received, in order (read after the client is done)

 private:
  void serve() {
    for (auto& answer : script_) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        head.append(buf, static_cast<std::size_t>(n));
      }
      requests.push_back(head);
      const std::string out = answer(head);
      std::size_t sent = 0;
      while (sent < out.size()) {
        const ssize_t n = send(c, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
      }
      close(c);
    }
  }
  std::vector<Answer> script_;
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

std::string range_of(const std::string& head) {
  const auto at = head.find("\r\nRange: bytes=");
  if (at == std::string::npos) return "";
  return head.substr(at + 15, head.find("\r\n", at + 2) - at - 15);
}

std::string partial(const std::string& object, std::uint64_t first, std::uint64_t last, std::size_t send) {
  return "HTTP/1.1 206 Partial Content\r\nConnection: close\r\nContent-Length: " +
         std::to_string(last - first + 1) + "\r\nContent-Range: bytes " + std::to_string(first) + "-" +
         std::to_string(last) + "/" + std::to_string(object.size()) + "\r\n\r\n" + object.substr(first, send);
}

TEST_F(S3Settings, AReadDroppedMidBodyResumesWhereItStopped) {
  std::string object(100000, '\0');
  for (std::size_t i = 0; i < object.size(); ++i) object[i] = static_cast<char>(i * 7 + i / 251);
  ScriptedServer server({
      [&](const std::string&) { return partial(object, 1000, 50999, 30000); },  // drops after 30000 bytes
      [&](const std::string&) {
        return std::string(
            "HTTP/1.1 503 Slow Down\r\nConnection: close\r\nRetry-After: 0\r\n"
            "Content-Length: 51\r\n\r\n<Error><Code>SlowDown</Code><Message/></Error>       ");
      },
      [&](const std::string&) { return partial(object, 31000, 50999, 20000); },
  });
  setenv("AWS_ENDPOINT_URL", ("http://127.0.0.1:" + std::to_string(server.port())).c_str(), 1);
  auto loc = open_s3_location("s3://models/x");
  ASSERT_TRUE(loc);
  std::vector<std::byte> out(50000);
  loc->store->read("x", 1000, out);
  EXPECT_EQ(std::memcmp(out.data(), object.data() + 1000, out.size()), 0);
  ASSERT_EQ(server.requests.size(), 3u);
  EXPECT_EQ(range_of(server.requests[0]), "1000-50999");
  EXPECT_EQ(range_of(server.requests[2]), "31000-50999");
  EXPECT_NE(server.requests[0].find("GET /models/x "), std::string::npos) << server.requests[0];
  EXPECT_NE(server.requests[0].find("Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/"),
            std::string::npos);
  EXPECT_EQ(server.requests[0].find("not-a-real-secret"), std::string::npos);
}

TEST_F(S3Settings, SessionTokensAreSignedAndAnonymousRequestsAreNot) {
  const std::string ok = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
  ScriptedServer server({[&](const std::string&) { return ok; }, [&](const std::string&) { return ok; }});
  setenv("AWS_ENDPOINT_URL", ("http://127.0.0.1:" + std::to_string(server.port())).c_str(), 1);
  setenv("AWS_SESSION_TOKEN", "session-token-value", 1);
  setenv("AWS_REGION", "eu-west-3", 1);
  const std::vector<std::byte> body(3, std::byte{'a'});
  open_s3_location("s3://models/dir")->store->put("dir/x y", body);
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_SECRET_ACCESS_KEY");
  unsetenv("AWS_SESSION_TOKEN");
  open_s3_location("s3://models/dir")->store->put("dir/x y", body);
  ASSERT_EQ(server.requests.size(), 2u);
  const std::string& signed_put = server.requests[0];
  EXPECT_NE(signed_put.find("PUT /models/dir/x%20y "), std::string::npos) << signed_put;
  EXPECT_NE(signed_put.find("x-amz-security-token: session-token-value\r\n"), std::string::npos)
      << signed_put;
  EXPECT_NE(signed_put.find("/eu-west-3/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date;"
                            "x-amz-security-token,Signature="),
            std::string::npos)
      << signed_put;
  // The payload's own SHA-256 ("aaa"), not UNSIGNED-PAYLOAD.
  EXPECT_NE(signed_put.find(
                "x-amz-content-sha256: 9834876dcfb05cb167a5c24953eba58c4ac89b1adf57f28f2f9d09af107ee8f0"),
            std::string::npos)
      << signed_put;
  EXPECT_EQ(server.requests[1].find("Authorization"), std::string::npos) << server.requests[1];
}

TEST_F(S3Settings, AnAnswerWithAnotherRangeIsRefused) {
  const std::string object(1000, 'x');
  ScriptedServer server({[&](const std::string&) { return partial(object, 0, 99, 100); }});
  setenv("AWS_ENDPOINT_URL", ("http://127.0.0.1:" + std::to_string(server.port())).c_str(), 1);
  auto loc = open_s3_location("s3://models/x");
  std::vector<std::byte> out(100);
  EXPECT_EQ(kind_of([&] { loc->store->read("x", 500, out); }), ErrorKind::kIo);
}

}  // namespace
}  // namespace paramdelta::storage
