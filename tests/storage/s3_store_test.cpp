// The S3 store without a server: URLs and settings, and the part rules that
// are checked before any request (the exchanges themselves are tested against
// SeaweedFS in tests/interop/test_s3.py).
#include <gtest/gtest.h>

#include <cstdlib>
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

}  // namespace
}  // namespace paramdelta::storage
