// Where an Azure Blob URL points and which credentials reach it, from the
// settings the Azure tools read (AZURE_STORAGE_CONNECTION_STRING,
// AZURE_STORAGE_ACCOUNT_NAME, AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN,
// AZURE_STORAGE_CONTAINER_NAME). Pure functions: the settings come in through
// a lookup, so that tests need no environment.
//
// URL forms:
//   az://container/prefix        the account of the settings; the first
//                                segment is always the container
//   az:///prefix                 the container AZURE_STORAGE_CONTAINER_NAME
//   https://ACCOUNT.blob.core.windows.net/container/prefix
//                                (any ACCOUNT.blob.SUFFIX host; a query string
//                                in the URL is used as its SAS token)
//   BLOB_ENDPOINT/container/prefix
//                                under the BlobEndpoint of the connection
//                                string (emulators: path-style accounts such as
//                                http://127.0.0.1:10000/devstoreaccount1)
//   http(s)://IP[:PORT]/ACCOUNT/container/prefix
//                                a path-style account on an IP address or
//                                localhost, when ACCOUNT is the configured
//                                account or devstoreaccount1
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace paramdelta::storage::azure {

// The published key of the emulators' account devstoreaccount1.
inline constexpr std::string_view kDevelopmentAccount = "devstoreaccount1";
inline constexpr std::string_view kDevelopmentKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

// The fields of a connection string ("Key=Value;Key=Value"; keys are
// case-insensitive, values may contain '=').
struct ConnectionString {
  std::string protocol = "https";  // DefaultEndpointsProtocol
  std::string account;             // AccountName
  std::string key;                 // AccountKey (base64)
  std::string endpoint_suffix = "core.windows.net";
  std::string blob_endpoint;  // BlobEndpoint, without a trailing '/'
  std::string sas;            // SharedAccessSignature, without a leading '?'
  bool development = false;   // UseDevelopmentStorage=true
};

// Throws paramdelta::Error (kUsage) naming AZURE_STORAGE_CONNECTION_STRING and
// the offending key, never a value.
ConnectionString parse_connection_string(std::string_view text);

using SettingLookup = std::function<std::optional<std::string>(std::string_view name)>;

// One container of one account, as reached from a URL.
struct Target {
  std::string endpoint;   // "https://acct.blob.core.windows.net" or "http://127.0.0.1:10000/devstoreaccount1"
  std::string account;    // signs the requests with `key`
  std::string container;  // a valid container name
  std::string prefix;     // the key prefix, no leading or trailing '/'
  std::string display;    // the URL of the container as messages show it ("az://c"), no query
  std::string key;        // base64 account key; empty: no Shared Key signing
  std::string sas;        // SAS query (no '?'); empty: none. Used instead of the key when both exist.
};

// Nothing for URLs that are not Azure Blob URLs. Throws paramdelta::Error
// (kUsage) for an Azure URL that cannot be used: no account configured, a
// malformed container name, a broken connection string or key.
std::optional<Target> resolve_url(const std::string& url, const SettingLookup& setting);

// Whether `name` follows Azure's container naming rules (3-63 characters,
// lower-case letters, digits and single hyphens, starting with a letter or
// digit; or $root, $logs, $web).
bool valid_container_name(std::string_view name);

}  // namespace paramdelta::storage::azure
