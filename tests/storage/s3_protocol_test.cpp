// S3's XML documents (ListObjectsV2 results, multipart upload ids, error
// documents, the CompleteMultipartUpload body), hostile ones included, and
// how S3 errors become one-line paramdelta errors.
#include "storage/s3_protocol.h"

#include <gtest/gtest.h>

#include <pugixml.hpp>

namespace paramdelta::storage::s3 {
namespace {

const char* kTwoObjects = R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>models</Name><Prefix>llama/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
  <IsTruncated>true</IsTruncated>
  <Contents><Key>llama/config.json</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>
    <ETag>&quot;abc&quot;</ETag><Size>612</Size><StorageClass>STANDARD</StorageClass></Contents>
  <Contents><Key>llama/a &amp; b.safetensors</Key><Size>18446744073709551615</Size></Contents>
  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
</ListBucketResult>)";

TEST(S3Listing, ReadsObjectsSizesAndTheContinuationToken) {
  const ListPage page = parse_list_objects_v2(kTwoObjects, "s3://models/llama");
  ASSERT_EQ(page.objects.size(), 2u);
  EXPECT_EQ(page.objects[0].key, "llama/config.json");
  EXPECT_EQ(page.objects[0].size, 612u);
  EXPECT_EQ(page.objects[1].key, "llama/a & b.safetensors");
  EXPECT_EQ(page.objects[1].size, 18446744073709551615ull);
  EXPECT_TRUE(page.truncated);
  EXPECT_EQ(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
}

TEST(S3Listing, TheLastPageAndAnEmptyOne) {
  const ListPage last = parse_list_objects_v2(
      "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>k</Key><Size>0</Size></Contents>"
      "</ListBucketResult>",
      "l");
  EXPECT_FALSE(last.truncated);
  ASSERT_EQ(last.objects.size(), 1u);
  EXPECT_EQ(last.objects[0].size, 0u);
  const ListPage empty =
      parse_list_objects_v2("<ListBucketResult><KeyCount>0</KeyCount></ListBucketResult>", "l");
  EXPECT_TRUE(empty.objects.empty());
  EXPECT_FALSE(empty.truncated);
  // A namespace prefix on the elements, as a compatible server might write.
  const ListPage prefixed = parse_list_objects_v2(
      "<s3:ListBucketResult xmlns:s3='x'><s3:Contents><s3:Key>k</s3:Key><s3:Size>7</s3:Size></s3:Contents>"
      "</s3:ListBucketResult>",
      "l");
  ASSERT_EQ(prefixed.objects.size(), 1u);
  EXPECT_EQ(prefixed.objects[0].size, 7u);
}

void expect_io_error(const std::string& xml, const std::string& why) {
  try {
    parse_list_objects_v2(xml, "s3://b/p");
    ADD_FAILURE() << "accepted " << why << ": " << xml;
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo) << why;
    EXPECT_EQ(e.context().file, "s3://b/p") << why;
  }
}

TEST(S3Listing, HostileDocumentsAreErrors) {
  expect_io_error("", "an empty answer");
  expect_io_error("<html><body>proxy login</body></html>", "an HTML page");
  expect_io_error("<ListBucketResult><Contents><Key>k</Key><Size>12", "a cut document");
  expect_io_error("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
                  "a key missing");
  expect_io_error("<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
                  "a negative size");
  expect_io_error(
      "<ListBucketResult><Contents><Key>k</Key><Size>99999999999999999999</Size></Contents>"
      "</ListBucketResult>",
      "a size beyond 64 bits");
  expect_io_error("<ListBucketResult><Contents><Key>k</Key><Size>1e3</Size></Contents></ListBucketResult>",
                  "a size that is not an integer");
  expect_io_error("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
                  "a truncated page without a token (would loop)");
  expect_io_error("<ListBucketResult><IsTruncated>maybe</IsTruncated></ListBucketResult>", "a strange flag");
}

TEST(S3Listing, CustomEntitiesAreNeverExpanded) {
  const ListPage page = parse_list_objects_v2(
      "<!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
      "<ListBucketResult><Contents><Key>&b;</Key><Size>1</Size></Contents></ListBucketResult>",
      "l");
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key, "&b;");
}

TEST(S3Listing, DeepNestingDoesNotOverflowTheStack) {
  std::string deep;
  for (int i = 0; i < 200000; ++i) deep += "<a>";
  EXPECT_THROW(parse_list_objects_v2("<ListBucketResult><Contents><Key>" + deep, "l"), Error);
  EXPECT_FALSE(parse_error_body("<Error>" + deep));
}

TEST(S3Upload, ReadsTheUploadId) {
  EXPECT_EQ(
      parse_upload_id("<?xml version=\"1.0\"?><InitiateMultipartUploadResult xmlns=\"x\"><Bucket>b</Bucket>"
                      "<Key>k</Key><UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>",
                      "l"),
      "VXBsb2FkIElE");
  EXPECT_THROW(parse_upload_id("<InitiateMultipartUploadResult></InitiateMultipartUploadResult>", "l"),
               Error);
  EXPECT_THROW(parse_upload_id("<Error><Code>AccessDenied</Code></Error>", "l"), Error);
}

TEST(S3Upload, CompleteBodyListsPartsInOrderWithEscapedEtags) {
  const std::string xml = complete_multipart_xml({"\"e1\"", "\"e2&<x>\""});
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  const auto root = doc.child("CompleteMultipartUpload");
  ASSERT_TRUE(root);
  int n = 0;
  for (auto part : root.children("Part")) {
    ++n;
    EXPECT_EQ(std::string(part.child_value("PartNumber")), std::to_string(n));
    EXPECT_EQ(std::string(part.child_value("ETag")), n == 1 ? "\"e1\"" : "\"e2&<x>\"");
  }
  EXPECT_EQ(n, 2);
}

TEST(S3Errors, ParsesTheErrorDocument) {
  const auto e = parse_error_body(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code><Message>The specified "
      "bucket\ndoes not exist</Message><BucketName>models</BucketName><RequestId>1</RequestId></Error>");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->code, "NoSuchBucket");
  EXPECT_EQ(e->message, "The specified bucket does not exist");
  EXPECT_EQ(e->bucket, "models");
  EXPECT_FALSE(parse_error_body(""));
  EXPECT_FALSE(parse_error_body("<ListBucketResult/>"));
  EXPECT_EQ(
      parse_error_body("<Error><Message>" + std::string(5000, 'x') + "</Message></Error>")->message.size(),
      163u);
}

ErrorSubject subject(bool anonymous = false) {
  return {"s3://models/llama/x", "models", "write", anonymous, "us-east-1"};
}

std::string body(const std::string& code) {
  return "<Error><Code>" + code + "</Code><Message>m</Message></Error>";
}

TEST(S3Errors, MapsCodesToOneLineWithAHint) {
  struct Case {
    long status;
    std::string code;
    ErrorKind kind;
    std::string says;
    std::string hint;
  };
  const std::vector<Case> cases = {
      {403, "InvalidAccessKeyId", ErrorKind::kUsage, "does not know this access key", "AWS_ACCESS_KEY_ID"},
      {403, "SignatureDoesNotMatch", ErrorKind::kUsage, "signature", "AWS_SECRET_ACCESS_KEY"},
      {403, "AccessDenied", ErrorKind::kUsage, "may not write in bucket 'models'", "permission"},
      {400, "ExpiredToken", ErrorKind::kUsage, "session token", "AWS_SESSION_TOKEN"},
      {404, "NoSuchBucket", ErrorKind::kNotFound, "bucket 'models' does not exist", "create it"},
      {404, "NoSuchKey", ErrorKind::kNotFound, "no such object", ""},
      {404, "NoSuchUpload", ErrorKind::kIo, "multipart upload no longer exists", ""},
      {503, "SlowDown", ErrorKind::kIo, "still throttling", "retry later"},
      {500, "InternalError", ErrorKind::kIo, "HTTP 500 InternalError: m", ""},
      {416, "InvalidRange", ErrorKind::kIo, "shorter than the range", ""},
      {400, "AuthorizationHeaderMalformed", ErrorKind::kUsage, "not in region 'us-east-1'", "AWS_REGION"},
  };
  for (const auto& c : cases) {
    const Error e = response_error(c.status, body(c.code), subject());
    EXPECT_EQ(e.kind(), c.kind) << c.code;
    EXPECT_NE(e.message().find(c.says), std::string::npos) << c.code << ": " << e.message();
    EXPECT_NE(e.hint().find(c.hint), std::string::npos) << c.code << ": " << e.hint();
    EXPECT_EQ(e.context().file, "s3://models/llama/x");
    const std::string line = format_error_line(e);
    EXPECT_EQ(line.find('\n'), std::string::npos) << line;
  }
}

TEST(S3Errors, AnswersWithoutABodyAndAnonymousRequests) {
  const Error denied = response_error(403, "", subject());
  EXPECT_EQ(denied.kind(), ErrorKind::kUsage);
  EXPECT_NE(denied.hint().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  const Error anonymous = response_error(403, body("AccessDenied"), subject(true));
  EXPECT_NE(anonymous.message().find("anonymous"), std::string::npos);
  EXPECT_NE(anonymous.hint().find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
  EXPECT_EQ(response_error(404, "", subject()).kind(), ErrorKind::kNotFound);
  const Error moved = response_error(301, "", subject(), "eu-central-1");
  EXPECT_NE(moved.hint().find("AWS_REGION=eu-central-1"), std::string::npos);
  // A server's message is cut to one line, whatever it holds.
  const Error odd = response_error(
      400, "<Error><Code>Weird</Code><Message>line1\nline2\r\x01</Message></Error>", subject());
  EXPECT_EQ(format_error_line(odd).find_first_of("\n\r\x01"), std::string::npos);
}

}  // namespace
}  // namespace paramdelta::storage::s3
