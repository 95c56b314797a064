#include "storage/azure_protocol.h"

#include <gtest/gtest.h>

#include <string>

#include "paramdelta/error.h"
#include "storage/azure_config.h"

namespace paramdelta::storage::azure {
namespace {

const std::string kDate = "Tue, 08 Dec 2026 00:03:09 GMT";

TEST(AzureBase64, RoundTripsAndRejectsWhatIsNotBase64) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_decode("Zm9vYmE=").value(), "fooba");
  EXPECT_EQ(base64_decode("Zg==").value(), "f");
  EXPECT_FALSE(base64_decode("Zg="));
  EXPECT_FALSE(base64_decode("Z=g="));
  EXPECT_FALSE(base64_decode("Zm9v*mFy"));
  EXPECT_FALSE(base64_decode("=Zg="));
  EXPECT_EQ(base64_decode(kDevelopmentKey).value().size(), 64u);
}

TEST(AzureDate, IsRfc1123InGmt) { EXPECT_EQ(rfc1123_date(1796688189), kDate); }

TEST(AzureSharedKey, StringToSignFollowsTheDocumentedLayout) {
  http::Request r;
  r.method = "PUT";
  r.url = "http://127.0.0.1:10000/devstoreaccount1/models/dir/a%20b.bin?comp=block&blockid=YWJj%2BZA%3D%3D";
  r.headers = {{"x-ms-version", "2021-08-06"},
               {"x-ms-date", kDate},
               {"Content-MD5", "XUFAKrxLKna5cZ2REBfFkg=="},
               {"X-MS-Blob-Type", " BlockBlob "}};
  r.body = "hello";
  EXPECT_EQ(md5_base64("hello"), "XUFAKrxLKna5cZ2REBfFkg==");
  const std::string expected =
      "PUT\n\n\n5\nXUFAKrxLKna5cZ2REBfFkg==\n\n\n\n\n\n\n\n"
      "x-ms-blob-type:BlockBlob\nx-ms-date:" +
      kDate +
      "\nx-ms-version:2021-08-06\n"
      "/devstoreaccount1/devstoreaccount1/models/dir/a%20b.bin\nblockid:YWJj+ZA==\ncomp:block";
  const std::string sts = string_to_sign("devstoreaccount1", r);
  EXPECT_EQ(sts, expected);
  // HMAC-SHA256 with the base64-decoded key, computed independently (Python's hmac module).
  EXPECT_EQ(shared_key_signature(kDevelopmentKey, sts), "WsNA0jSyO27VS1L6JWSBcdCFby9HCFd5inJiy2Fqrjw=");
}

TEST(AzureSharedKey, QueryParametersAreSortedDecodedAndContentLengthZeroIsEmpty) {
  http::Request r;
  r.method = "GET";
  r.url = "https://acct.blob.core.windows.net/models?restype=container&prefix=a%20b%2Fc&comp=list";
  r.headers = {{"x-ms-date", kDate}, {"x-ms-version", "2021-08-06"}};
  const std::string sts = string_to_sign("acct", r);
  EXPECT_EQ(sts, "GET\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:" + kDate +
                     "\nx-ms-version:2021-08-06\n/acct/models\ncomp:list\nprefix:a b/c\nrestype:container");
  EXPECT_EQ(shared_key_signature(kDevelopmentKey, sts), "JO48Si6QVdU1CwDKDdzqMrQUUgfboDqJam9YG6IcnAs=");
  EXPECT_THROW(shared_key_signature("not base64!", sts), Error);
}

TEST(AzureBlocks, IdsHaveOneLengthAndTheListIsXml) {
  const std::string a = block_id("0123456789abcdef", 0);
  const std::string b = block_id("0123456789abcdef", 123456);
  EXPECT_EQ(a.size(), b.size());
  EXPECT_NE(a, b);
  EXPECT_EQ(base64_decode(b).value(), "0123456789abcdef-0000123456");
  EXPECT_EQ(block_list_xml({a, b}), "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList><Latest>" + a +
                                        "</Latest><Latest>" + b + "</Latest></BlockList>");
}

TEST(AzureListing, ReadsBlobsSizesAndTheNextMarker) {
  const Listing page = parse_listing(
      "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"utf-8\"?>"
      "<EnumerationResults ServiceEndpoint=\"http://x/\" ContainerName=\"models\">"
      "<Prefix>m/</Prefix><MaxResults>2</MaxResults><Blobs>"
      "<Blob><Name>m/a.safetensors</Name><Properties><Content-Length>123</Content-Length></Properties></Blob>"
      "<Blob><Name "
      "Encoded=\"true\">m/b%0A.bin</Name><Properties><Content-Length>0</Content-Length></Properties></Blob>"
      "<BlobPrefix><Name>m/sub/</Name></BlobPrefix>"
      "</Blobs><NextMarker>2!16!bWFya2Vy</NextMarker></EnumerationResults>",
      "az://models/m/");
  ASSERT_EQ(page.blobs.size(), 2u);
  EXPECT_EQ(page.blobs[0].key, "m/a.safetensors");
  EXPECT_EQ(page.blobs[0].size, 123u);
  EXPECT_EQ(page.blobs[1].key, "m/b\n.bin");
  EXPECT_EQ(page.next_marker, "2!16!bWFya2Vy");
  const Listing last = parse_listing("<EnumerationResults><Blobs/><NextMarker/></EnumerationResults>", "s");
  EXPECT_TRUE(last.blobs.empty());
  EXPECT_TRUE(last.next_marker.empty());
}

TEST(AzureListing, HostileListingsAreOneLineErrors) {
  const char* hostile[] = {
      "",
      "not xml at all",
      "<EnumerationResults><Blobs><Blob><Name>a</Name>",
      "<Error><Code>X</Code></Error>",
      "<EnumerationResults><Blobs><Blob><Properties><Content-Length>1</Content-Length></Properties></Blob>"
      "</Blobs></EnumerationResults>",
      "<EnumerationResults><Blobs><Blob><Name>a</Name><Properties><Content-Length>-1</Content-Length>"
      "</Properties></Blob></Blobs></EnumerationResults>",
      "<EnumerationResults><Blobs><Blob><Name>a</Name><Properties><Content-Length>99999999999999999999"
      "</Content-Length></Properties></Blob></Blobs></EnumerationResults>",
      "<EnumerationResults><Blobs><Blob><Name></Name><Properties><Content-Length>1</Content-Length>"
      "</Properties></Blob></Blobs></EnumerationResults>",
  };
  for (const char* xml : hostile) {
    try {
      parse_listing(xml, "az://models/p");
      ADD_FAILURE() << "accepted: " << xml;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kIo);
      EXPECT_EQ(e.context().file, "az://models/p");
      EXPECT_EQ(format_error_line(e).find('\n'), std::string::npos);
    }
  }
  // Entities are never expanded (no "billion laughs").
  EXPECT_TRUE(parse_listing("<!DOCTYPE x [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
                            "<EnumerationResults><NextMarker>&b;</NextMarker></EnumerationResults>",
                            "s")
                  .next_marker.size() < 8);
  std::string deep;
  for (int i = 0; i < 20000; ++i) deep += "<a>";
  EXPECT_THROW(parse_listing(deep, "s"), Error);
}

TEST(AzureErrors, CodesArePlainWordsOnly) {
  EXPECT_EQ(parse_error_code("<?xml version=\"1.0\"?><Error><Code>ContainerNotFound</Code><Message>The "
                             "specified container does not exist.</Message></Error>"),
            "ContainerNotFound");
  EXPECT_EQ(parse_error_code("<Error><Code>Bad Code\nsig=secret</Code></Error>"), "");
  EXPECT_EQ(parse_error_code("garbage"), "");
  EXPECT_EQ(parse_error_code(""), "");
}

TEST(AzureErrors, EachFailureSaysWhatToDo) {
  const std::string blob = "az://models/m/x.bin";
  auto line = [&](long status, const char* code, Auth auth, Operation op = Operation::kRead,
                  int attempts = 1) {
    return format_error_line(map_error(blob, "models", op, status, code, auth, attempts));
  };
  const Error missing_container =
      map_error(blob, "models", Operation::kRead, 404, "ContainerNotFound", Auth::kSharedKey, 1);
  EXPECT_EQ(missing_container.kind(), ErrorKind::kNotFound);
  EXPECT_NE(line(404, "ContainerNotFound", Auth::kSharedKey).find("container 'models' does not exist"),
            std::string::npos);
  EXPECT_EQ(map_error(blob, "models", Operation::kRead, 404, "BlobNotFound", Auth::kSharedKey, 1).kind(),
            ErrorKind::kNotFound);
  EXPECT_NE(line(403, "AuthenticationFailed", Auth::kSharedKey).find("AZURE_STORAGE_ACCOUNT_KEY"),
            std::string::npos);
  EXPECT_NE(line(403, "AuthorizationFailure", Auth::kSharedKey).find("AZURE_STORAGE_ACCOUNT_KEY"),
            std::string::npos);
  EXPECT_NE(line(403, "AuthorizationPermissionMismatch", Auth::kSas, Operation::kWrite)
                .find("SAS token does not allow writing"),
            std::string::npos);
  EXPECT_NE(line(403, "AuthorizationPermissionMismatch", Auth::kSas, Operation::kWrite).find("w (write)"),
            std::string::npos);
  EXPECT_NE(line(403, "AuthenticationFailed", Auth::kSas).find("expired"), std::string::npos);
  EXPECT_NE(
      line(401, "NoAuthenticationInformation", Auth::kAnonymous).find("AZURE_STORAGE_CONNECTION_STRING"),
      std::string::npos);
  const std::string throttled = line(503, "ServerBusy", Auth::kSharedKey, Operation::kRead, 5);
  EXPECT_NE(throttled.find("HTTP 503 (ServerBusy) after 5 attempts"), std::string::npos);
  EXPECT_NE(throttled.find("try again later"), std::string::npos);
  EXPECT_EQ(
      map_error(blob, "models", Operation::kWrite, 403, "AuthenticationFailed", Auth::kSharedKey, 1).kind(),
      ErrorKind::kUsage);
  // A code that is not a plain word never reaches the message.
  const std::string odd = line(409, "x\nsig=SECRET", Auth::kSharedKey, Operation::kWrite);
  EXPECT_EQ(odd.find("SECRET"), std::string::npos);
  EXPECT_NE(odd.find("HTTP 409"), std::string::npos);
  for (const std::string& l : {line(404, "ContainerNotFound", Auth::kSas), throttled, odd}) {
    EXPECT_EQ(l.rfind(blob + ": ", 0), 0u) << l;
  }
}

TEST(AzureErrors, TransportFailuresNameTheObjectAndTheEndpoint) {
  const std::string l = format_error_line(
      map_transport_error("az://models/x", "cannot connect to 127.0.0.1:9 (refused), 5 attempts"));
  EXPECT_NE(l.find("az://models/x: cannot connect to 127.0.0.1:9"), std::string::npos);
}

}  // namespace
}  // namespace paramdelta::storage::azure
