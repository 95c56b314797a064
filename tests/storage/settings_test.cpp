#include "storage/settings.h"

#include <gtest/gtest.h>

#include "paramdelta/error.h"

namespace paramdelta::storage {
namespace {

TEST(EnvFile, ReadsAssignmentsQuotesExportsAndComments) {
  const auto v = parse_env_file(
      "# credentials\n"
      "AZURE_STORAGE_ACCOUNT_NAME=acct\n"
      "export AWS_REGION = us-east-1 # inline\n"
      "AZURE_STORAGE_CONNECTION_STRING=\"DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k==\"\n"
      "SAS='sv=2021&sig=a#b'\r\n"
      "\n"
      "EMPTY=\n",
      ".env");
  EXPECT_EQ(v.at("AZURE_STORAGE_ACCOUNT_NAME"), "acct");
  EXPECT_EQ(v.at("AWS_REGION"), "us-east-1");
  EXPECT_EQ(v.at("AZURE_STORAGE_CONNECTION_STRING"),
            "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=k==");
  EXPECT_EQ(v.at("SAS"), "sv=2021&sig=a#b");
  EXPECT_EQ(v.at("EMPTY"), "");
}

TEST(EnvFile, ABrokenLineIsAnErrorNamingIt) {
  try {
    parse_env_file("A=1\nthis is not a setting\n", ".env");
    FAIL() << "accepted a line without '='";
  } catch (const Error& e) {
    EXPECT_EQ(e.context().field, "line 2");
    EXPECT_EQ(e.context().file, ".env");
  }
  EXPECT_THROW(parse_env_file("A=\"open\n", ".env"), Error);
  EXPECT_THROW(parse_env_file("1A=x\n", ".env"), Error);
}

}  // namespace
}  // namespace paramdelta::storage
