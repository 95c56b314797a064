#include "storage/azure_config.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "paramdelta/error.h"

namespace paramdelta::storage::azure {
namespace {

SettingLookup settings(std::map<std::string, std::string> values) {
  return [values](std::string_view name) -> std::optional<std::string> {
    const auto it = values.find(std::string(name));
    if (it == values.end() || it->second.empty()) return std::nullopt;
    return it->second;
  };
}

const std::string kKey = "a2V5a2V5a2V5";  // base64 of "keykeykey"

TEST(AzureConnectionString, ReadsEveryField) {
  const ConnectionString cs = parse_connection_string(
      "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=" + kKey +
      ";EndpointSuffix=core.chinacloudapi.cn;BlobEndpoint=http://127.0.0.1:1234/acct/;"
      "SharedAccessSignature=?sv=2021&sig=a%3D;QueueEndpoint=http://q;");
  EXPECT_EQ(cs.protocol, "http");
  EXPECT_EQ(cs.account, "acct");
  EXPECT_EQ(cs.key, kKey);
  EXPECT_EQ(cs.endpoint_suffix, "core.chinacloudapi.cn");
  EXPECT_EQ(cs.blob_endpoint, "http://127.0.0.1:1234/acct");
  EXPECT_EQ(cs.sas, "sv=2021&sig=a%3D");
  EXPECT_FALSE(cs.development);
  const ConnectionString keys_any_case = parse_connection_string(" accountname = a ; ACCOUNTKEY=k== ");
  EXPECT_EQ(keys_any_case.account, "a");
  EXPECT_EQ(keys_any_case.key, "k==");
  EXPECT_EQ(keys_any_case.protocol, "https");
  EXPECT_TRUE(parse_connection_string("UseDevelopmentStorage=true").development);
}

TEST(AzureConnectionString, ErrorsNameTheSettingNeverAValue) {
  for (const char* bad : {"AccountName", "=x;AccountName=a", "DefaultEndpointsProtocol=ftp;AccountName=a",
                          "AccountKey=s3cr3tvalue", "BlobEndpoint=notaurl;AccountKey=s3cr3tvalue"}) {
    try {
      parse_connection_string(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      const std::string line = format_error_line(e);
      EXPECT_NE(line.find("AZURE_STORAGE_CONNECTION_STRING"), std::string::npos) << line;
      EXPECT_EQ(line.find("s3cr3tvalue"), std::string::npos) << line;
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
    }
  }
}

TEST(AzureUrl, AzSchemeUsesTheConfiguredAccount) {
  const auto t =
      resolve_url("az://models/llama/7b/",
                  settings({{"AZURE_STORAGE_ACCOUNT_NAME", "acct"}, {"AZURE_STORAGE_ACCOUNT_KEY", kKey}}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->endpoint, "https://acct.blob.core.windows.net");
  EXPECT_EQ(t->account, "acct");
  EXPECT_EQ(t->container, "models");
  EXPECT_EQ(t->prefix, "llama/7b");
  EXPECT_EQ(t->display, "az://models");
  EXPECT_EQ(t->key, kKey);
  EXPECT_TRUE(t->sas.empty());
  const auto root = resolve_url("az://models", settings({{"AZURE_STORAGE_ACCOUNT_NAME", "acct"}}));
  ASSERT_TRUE(root);
  EXPECT_EQ(root->prefix, "");
}

TEST(AzureUrl, AnEmptyContainerMeansTheDefaultContainer) {
  const auto t = resolve_url("az:///deltas/d1", settings({{"AZURE_STORAGE_ACCOUNT_NAME", "acct"},
                                                          {"AZURE_STORAGE_SAS_TOKEN", "?sv=1&sig=x"},
                                                          {"AZURE_STORAGE_CONTAINER_NAME", "work"}}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->container, "work");
  EXPECT_EQ(t->prefix, "deltas/d1");
  EXPECT_EQ(t->sas, "sv=1&sig=x");
  EXPECT_THROW(resolve_url("az:///deltas", settings({{"AZURE_STORAGE_ACCOUNT_NAME", "acct"}})), Error);
}

TEST(AzureUrl, ConnectionStringsAndTheDevelopmentStorage) {
  const auto dev = resolve_url("az://c01/x",
                               settings({{"AZURE_STORAGE_CONNECTION_STRING", "UseDevelopmentStorage=true"}}));
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
  EXPECT_EQ(dev->account, "devstoreaccount1");
  EXPECT_EQ(dev->key, kDevelopmentKey);

  const auto cs = settings({{"AZURE_STORAGE_CONNECTION_STRING",
                             "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + kKey +
                                 ";BlobEndpoint=http://127.0.0.1:4567/devstoreaccount1"}});
  const auto under = resolve_url("http://127.0.0.1:4567/devstoreaccount1/models/a/b%20c.bin", cs);
  ASSERT_TRUE(under);
  EXPECT_EQ(under->endpoint, "http://127.0.0.1:4567/devstoreaccount1");
  EXPECT_EQ(under->container, "models");
  EXPECT_EQ(under->prefix, "a/b c.bin");
  EXPECT_EQ(under->key, kKey);
  EXPECT_EQ(under->display, "http://127.0.0.1:4567/devstoreaccount1/models");

  const auto suffix = resolve_url(
      "https://acct.blob.core.chinacloudapi.cn/c01/p",
      settings({{"AZURE_STORAGE_CONNECTION_STRING",
                 "AccountName=acct;AccountKey=" + kKey + ";EndpointSuffix=core.chinacloudapi.cn"}}));
  ASSERT_TRUE(suffix);
  EXPECT_EQ(suffix->endpoint, "https://acct.blob.core.chinacloudapi.cn");
  EXPECT_EQ(suffix->key, kKey);
}

TEST(AzureUrl, HttpsAccountUrlsAndSasUrls) {
  const auto t =
      resolve_url("https://other.blob.core.windows.net/models/m?sv=2021&sig=abc",
                  settings({{"AZURE_STORAGE_ACCOUNT_NAME", "acct"}, {"AZURE_STORAGE_ACCOUNT_KEY", kKey}}));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->account, "other");
  EXPECT_EQ(t->endpoint, "https://other.blob.core.windows.net");
  EXPECT_TRUE(t->key.empty());  // the configured key is another account's
  EXPECT_EQ(t->sas, "sv=2021&sig=abc");
  EXPECT_EQ(t->display, "https://other.blob.core.windows.net/models");

  const auto same =
      resolve_url("https://acct.blob.core.windows.net/models/m",
                  settings({{"AZURE_STORAGE_ACCOUNT_NAME", "acct"}, {"AZURE_STORAGE_ACCOUNT_KEY", kKey}}));
  ASSERT_TRUE(same);
  EXPECT_EQ(same->key, kKey);
  // Path-style on an IP address: only for the configured account or the emulators' one.
  const auto ip = resolve_url("http://127.0.0.1:10000/devstoreaccount1/models/m", settings({}));
  ASSERT_TRUE(ip);
  EXPECT_EQ(ip->key, kDevelopmentKey);
  EXPECT_EQ(ip->endpoint, "http://127.0.0.1:10000/devstoreaccount1");
}

TEST(AzureUrl, OtherUrlsAreNotAzure) {
  const auto s = settings({{"AZURE_STORAGE_ACCOUNT_NAME", "acct"}});
  EXPECT_FALSE(resolve_url("s3://bucket/key", s));
  EXPECT_FALSE(resolve_url("models/llama", s));
  EXPECT_FALSE(resolve_url("/abs/path", s));
  EXPECT_FALSE(resolve_url("meta-llama/Llama-3.1-8B", s));
  EXPECT_FALSE(resolve_url("https://huggingface.co/org/name", s));
  EXPECT_FALSE(resolve_url("http://127.0.0.1:8333/bucket/key", s));  // an S3 endpoint
  EXPECT_FALSE(resolve_url("https://s3.amazonaws.com/bucket/key", s));
}

TEST(AzureUrl, UnusableAzureUrlsAreErrors) {
  auto error_of = [](const std::string& url, const SettingLookup& s) {
    try {
      resolve_url(url, s);
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::kUsage);
      return format_error_line(e);
    }
    ADD_FAILURE() << "accepted " << url;
    return std::string();
  };
  const auto acct = settings({{"AZURE_STORAGE_ACCOUNT_NAME", "acct"}});
  EXPECT_NE(error_of("az://models/x", settings({})).find("AZURE_STORAGE_CONNECTION_STRING"),
            std::string::npos);
  EXPECT_NE(error_of("az://Models/x", acct).find("'Models' is not a valid container name"),
            std::string::npos);
  EXPECT_NE(error_of("az://a--b/x", acct).find("not a valid container name"), std::string::npos);
  EXPECT_NE(error_of("az://ab/x", acct).find("not a valid container name"), std::string::npos);
  EXPECT_NE(error_of("https://acct.blob.core.windows.net/", acct).find("names no container"),
            std::string::npos);
  const std::string bad_key = error_of(
      "az://models/x",
      settings({{"AZURE_STORAGE_ACCOUNT_NAME", "acct"}, {"AZURE_STORAGE_ACCOUNT_KEY", "s3cr3t*key"}}));
  EXPECT_NE(bad_key.find("AZURE_STORAGE_ACCOUNT_KEY"), std::string::npos);
  EXPECT_EQ(bad_key.find("s3cr3t"), std::string::npos);
  const std::string sas_url = error_of("https://acct.blob.core.windows.net/Bad_Name/x?sig=SECRETSIG", acct);
  EXPECT_EQ(sas_url.find("SECRETSIG"), std::string::npos);
}

TEST(AzureUrl, ContainerNames) {
  EXPECT_TRUE(valid_container_name("abc"));
  EXPECT_TRUE(valid_container_name("a-b-1"));
  EXPECT_TRUE(valid_container_name("$root"));
  EXPECT_FALSE(valid_container_name("-ab"));
  EXPECT_FALSE(valid_container_name("ab-"));
  EXPECT_FALSE(valid_container_name(std::string(64, 'a')));
  EXPECT_TRUE(valid_container_name(std::string(63, 'a')));
}

}  // namespace
}  // namespace paramdelta::storage::azure
