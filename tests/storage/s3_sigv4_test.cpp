// SigV4 against the examples AWS publishes in its S3 documentation
// ("Signature Calculations for the Authorization Header", and the signing-key
// derivation example), plus the URI encoding rules.
#include <gtest/gtest.h>

#include "storage/sigv4.h"

namespace paramdelta::storage::sigv4 {
namespace {

// The example credentials of AWS's S3 signing examples.
const Credentials kExample{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};

SignedRequest example_get_object() {
  SignedRequest r;
  r.method = "GET";
  r.canonical_uri = "/test.txt";
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Range", "bytes=0-9"},
               {"x-amz-content-sha256", std::string(kEmptyPayloadHash)},
               {"x-amz-date", "20130524T000000Z"}};
  r.payload_hash = std::string(kEmptyPayloadHash);
  r.amz_date = "20130524T000000Z";
  r.region = "us-east-1";
  return r;
}

TEST(SigV4, DerivesTheDocumentedSigningKey) {
  const Digest key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam");
  EXPECT_EQ(hex(key), "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

TEST(SigV4, HashesAsDocumented) {
  EXPECT_EQ(sha256_hex(""), kEmptyPayloadHash);
  EXPECT_EQ(sha256_hex("Welcome to Amazon S3."),
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
}

TEST(SigV4, SignsTheDocumentedGetObjectExample) {
  const SignedRequest r = example_get_object();
  EXPECT_EQ(canonical_request(r),
            "GET\n/test.txt\n\n"
            "host:examplebucket.s3.amazonaws.com\n"
            "range:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
            "x-amz-date:20130524T000000Z\n\n"
            "host;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(string_to_sign(r),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(authorization(r, kExample),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, SignsTheDocumentedPutObjectExample) {
  SignedRequest r;
  r.method = "PUT";
  r.canonical_uri = "/" + uri_encode("test$file.text", true);
  const std::string payload = sha256_hex("Welcome to Amazon S3.");
  r.headers = {{"Host", "examplebucket.s3.amazonaws.com"},
               {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
               {"x-amz-date", "20130524T000000Z"},
               {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
               {"x-amz-content-sha256", payload}};
  r.payload_hash = payload;
  r.amz_date = "20130524T000000Z";
  r.region = "us-east-1";
  EXPECT_EQ(r.canonical_uri, "/test%24file.text");
  EXPECT_EQ(signed_headers(r), "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
  EXPECT_EQ(signature(r, kExample.secret_key),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, SignsTheDocumentedQueryExamples) {
  SignedRequest r;
  r.method = "GET";
  r.canonical_uri = "/";
  r.headers = {{"host", "examplebucket.s3.amazonaws.com"},
               {"x-amz-content-sha256", std::string(kEmptyPayloadHash)},
               {"x-amz-date", "20130524T000000Z"}};
  r.payload_hash = std::string(kEmptyPayloadHash);
  r.amz_date = "20130524T000000Z";
  r.region = "us-east-1";
  // GET Bucket lifecycle: a parameter without a value.
  r.query = {{"lifecycle", ""}};
  EXPECT_EQ(signature(r, kExample.secret_key),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  // GET Bucket (list objects): parameters sorted by name, whatever their order here.
  r.query = {{"prefix", "J"}, {"max-keys", "2"}};
  EXPECT_EQ(canonical_query(r.query), "max-keys=2&prefix=J");
  EXPECT_EQ(signature(r, kExample.secret_key),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, AnyChangeChangesTheSignature) {
  const std::string good = signature(example_get_object(), kExample.secret_key);
  SignedRequest r = example_get_object();
  r.headers[1].second = "bytes=0-10";
  EXPECT_NE(signature(r, kExample.secret_key), good);
  r = example_get_object();
  r.region = "eu-west-1";
  EXPECT_NE(signature(r, kExample.secret_key), good);
  EXPECT_NE(signature(example_get_object(), "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ"), good);
}

TEST(SigV4, CanonicalHeadersAreTrimmedLowerCasedAndMerged) {
  SignedRequest r = example_get_object();
  r.headers = {
      {"X-Amz-Meta-B", "  two   words  "}, {"host", "h"}, {"x-amz-meta-a", "1"}, {"X-AMZ-META-A", "2"}};
  const std::string c = canonical_request(r);
  EXPECT_NE(c.find("host:h\nx-amz-meta-a:1,2\nx-amz-meta-b:two words\n\n"), std::string::npos) << c;
  EXPECT_EQ(signed_headers(r), "host;x-amz-meta-a;x-amz-meta-b");
}

TEST(SigV4, UriEncodingFollowsTheSigV4Rules) {
  EXPECT_EQ(uri_encode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(uri_encode("a b+c=d&e/f", false), "a%20b%2Bc%3Dd%26e%2Ff");
  EXPECT_EQ(uri_encode("models/llama 3/model-00001.safetensors", true),
            "models/llama%203/model-00001.safetensors");
  EXPECT_EQ(uri_encode("\xc3\xa9*", true), "%C3%A9%2A");  // UTF-8 bytes, upper-case hex; '*' encoded
  EXPECT_EQ(canonical_query({{"uploads", ""}}), "uploads=");
  EXPECT_EQ(canonical_query({{"continuation-token", "1/a+b=="}, {"list-type", "2"}}),
            "continuation-token=1%2Fa%2Bb%3D%3D&list-type=2");
}

TEST(SigV4, TheDateHasSigV4sForm) {
  const std::string d = amz_date_now();
  ASSERT_EQ(d.size(), 16u);
  EXPECT_EQ(d[8], 'T');
  EXPECT_EQ(d[15], 'Z');
}

}  // namespace
}  // namespace paramdelta::storage::sigv4
