#include "storage/azure_config.h"

#include <algorithm>
#include <cctype>

#include "core/text.h"
#include "location/http_client.h"
#include "paramdelta/error.h"
#include "storage/azure_protocol.h"

namespace paramdelta::storage::azure {

namespace {

constexpr std::string_view kConnectionStringName = "AZURE_STORAGE_CONNECTION_STRING";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string strip_slashes(std::string_view s) {
  while (!s.empty() && s.front() == '/') s.remove_prefix(1);
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  return std::string(s);
}

std::string without_query_mark(std::string_view sas) {
  sas = trim(sas);
  if (!sas.empty() && sas.front() == '?') sas.remove_prefix(1);
  return std::string(sas);
}

bool is_ip_or_localhost(const std::string& host) {
  if (host == "localhost" || (!host.empty() && host.front() == '[')) return true;
  return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
    return c == '.' || std::isdigit(static_cast<unsigned char>(c));
  });
}

// The account settings, whichever way they are given.
struct Account {
  std::string name;
  std::string key;
  std::string sas;
  std::string endpoint;                              // the blob endpoint, no trailing '/'
  std::string endpoint_suffix = "core.windows.net";  // for https://ACCOUNT.blob.SUFFIX URLs
  bool from_connection_string = false;
};

std::optional<Account> configured_account(const SettingLookup& setting) {
  Account a;
  if (auto text = setting(kConnectionStringName)) {
    const ConnectionString cs = parse_connection_string(*text);
    a.from_connection_string = true;
    a.sas = cs.sas;
    a.endpoint_suffix = cs.endpoint_suffix;
    if (cs.development) {
      a.name = std::string(kDevelopmentAccount);
      a.key = std::string(kDevelopmentKey);
      a.endpoint = cs.blob_endpoint.empty() ? "http://127.0.0.1:10000/" + a.name : cs.blob_endpoint;
    } else {
      a.name = cs.account;
      a.key = cs.key;
      if (!cs.blob_endpoint.empty()) {
        a.endpoint = cs.blob_endpoint;
      } else if (!cs.account.empty()) {
        a.endpoint = cs.protocol + "://" + cs.account + ".blob." + cs.endpoint_suffix;
      } else {
        throw Error(ErrorKind::kUsage, "the connection string names neither AccountName nor BlobEndpoint",
                    ErrorContext{std::string(kConnectionStringName)},
                    "copy the connection string from the storage account's access keys");
      }
    }
  } else if (auto name = setting("AZURE_STORAGE_ACCOUNT_NAME")) {
    a.name = std::string(trim(*name));
    a.key = std::string(trim(setting("AZURE_STORAGE_ACCOUNT_KEY").value_or("")));
    a.endpoint = "https://" + a.name + ".blob.core.windows.net";
  } else if (!setting("AZURE_STORAGE_SAS_TOKEN")) {
    return std::nullopt;
  }
  if (auto sas = setting("AZURE_STORAGE_SAS_TOKEN")) a.sas = without_query_mark(*sas);
  if (!a.key.empty() && !base64_decode(a.key)) {
    throw Error(ErrorKind::kUsage, "the storage account key is not base64",
                ErrorContext{a.from_connection_string ? std::string(kConnectionStringName)
                                                      : std::string("AZURE_STORAGE_ACCOUNT_KEY")},
                "copy key1 or key2 from the storage account's access keys");
  }
  while (!a.endpoint.empty() && a.endpoint.back() == '/') a.endpoint.pop_back();
  return a;
}

void check_container(const std::string& container, const std::string& url_for_messages) {
  if (container.empty()) {
    throw Error(ErrorKind::kUsage, "the URL names no container", ErrorContext{url_for_messages},
                "write az://CONTAINER/PATH, or set AZURE_STORAGE_CONTAINER_NAME and write az:///PATH");
  }
  if (!valid_container_name(container)) {
    throw Error(ErrorKind::kUsage, "'" + container + "' is not a valid container name",
                ErrorContext{url_for_messages},
                "container names have 3 to 63 lower-case letters, digits and single hyphens");
  }
}

// The credentials for `account_name` at its endpoint.
void apply_credentials(Target& t, const std::optional<Account>& account) {
  if (account && text::ascii_lower(account->name) == text::ascii_lower(t.account)) {
    t.key = account->key;
    t.sas = account->sas;
  } else if (t.account == kDevelopmentAccount) {
    t.key = std::string(kDevelopmentKey);
  }
  if (account && t.sas.empty()) t.sas = account->sas;
}

}  // namespace

bool valid_container_name(std::string_view name) {
  if (name == "$root" || name == "$logs" || name == "$web") return true;
  if (name.size() < 3 || name.size() > 63) return false;
  if (name.front() == '-' || name.back() == '-') return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
    if (c == '-' && i > 0 && name[i - 1] == '-') return false;
  }
  return true;
}

ConnectionString parse_connection_string(std::string_view text) {
  ConnectionString cs;
  bool has_protocol = false;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(';', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = trim(text.substr(start, end - start));
    start = end + 1;
    if (part.empty()) {
      if (end == text.size()) break;
      continue;
    }
    const auto eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      throw Error(ErrorKind::kUsage, "a part of the connection string is not Key=Value",
                  ErrorContext{std::string(kConnectionStringName)},
                  "the form is DefaultEndpointsProtocol=https;AccountName=...;AccountKey=...");
    }
    const std::string key = text::ascii_lower(trim(part.substr(0, eq)));
    const std::string value(trim(part.substr(eq + 1)));
    if (key == "defaultendpointsprotocol") {
      cs.protocol = text::ascii_lower(value);
      has_protocol = true;
      if (cs.protocol != "http" && cs.protocol != "https") {
        throw Error(ErrorKind::kUsage, "DefaultEndpointsProtocol must be http or https",
                    ErrorContext{std::string(kConnectionStringName)});
      }
    } else if (key == "accountname") {
      cs.account = value;
    } else if (key == "accountkey") {
      cs.key = value;
    } else if (key == "endpointsuffix") {
      cs.endpoint_suffix = text::ascii_lower(value);
    } else if (key == "blobendpoint") {
      cs.blob_endpoint = value;
      while (!cs.blob_endpoint.empty() && cs.blob_endpoint.back() == '/') cs.blob_endpoint.pop_back();
      if (!http::parse_url(cs.blob_endpoint)) {
        throw Error(ErrorKind::kUsage, "BlobEndpoint is not an http(s) URL",
                    ErrorContext{std::string(kConnectionStringName)});
      }
    } else if (key == "sharedaccesssignature") {
      cs.sas = without_query_mark(value);
    } else if (key == "usedevelopmentstorage") {
      cs.development = text::ascii_lower(value) == "true";
    }
    // Other keys (QueueEndpoint, TableEndpoint, FileEndpoint, DevelopmentStorageProxyUri...)
    // concern other services.
    if (end == text.size()) break;
  }
  if (cs.development && !has_protocol) cs.protocol = "http";
  if (!cs.development && cs.account.empty() && cs.blob_endpoint.empty()) {
    throw Error(ErrorKind::kUsage, "the connection string names neither AccountName nor BlobEndpoint",
                ErrorContext{std::string(kConnectionStringName)},
                "copy the connection string from the storage account's access keys");
  }
  return cs;
}

std::optional<Target> resolve_url(const std::string& url, const SettingLookup& setting) {
  if (url.rfind("az://", 0) == 0) {
    const std::string_view rest = std::string_view(url).substr(5);
    const auto slash = rest.find('/');
    Target t;
    t.container = std::string(rest.substr(0, slash));
    t.prefix = slash == std::string_view::npos ? std::string() : strip_slashes(rest.substr(slash + 1));
    if (t.container.empty()) {
      if (auto name = setting("AZURE_STORAGE_CONTAINER_NAME")) t.container = std::string(trim(*name));
    }
    const std::string shown = url.substr(0, url.find('?'));
    check_container(t.container, shown);
    const auto account = configured_account(setting);
    if (!account) {
      throw Error(ErrorKind::kUsage, "no Azure storage account is configured", ErrorContext{shown},
                  "set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_NAME with "
                  "AZURE_STORAGE_ACCOUNT_KEY or AZURE_STORAGE_SAS_TOKEN (environment or .env)");
    }
    if (account->endpoint.empty()) {
      throw Error(ErrorKind::kUsage, "no Azure blob endpoint is configured", ErrorContext{shown},
                  "set AZURE_STORAGE_ACCOUNT_NAME or a connection string with AccountName or BlobEndpoint");
    }
    t.endpoint = account->endpoint;
    t.account = account->name;
    t.key = account->key;
    t.sas = account->sas;
    t.display = "az://" + t.container;
    return t;
  }

  const auto parsed = http::parse_url(url);
  if (!parsed) return std::nullopt;
  const std::string& target = parsed->target;
  const auto qmark = target.find('?');
  const std::string path = target.substr(0, qmark);
  const std::string query = qmark == std::string::npos ? std::string() : target.substr(qmark + 1);
  const std::string origin =
      parsed->scheme + "://" + parsed->host +
      ((parsed->scheme == "https" && parsed->port == 443) || (parsed->scheme == "http" && parsed->port == 80)
           ? std::string()
           : ":" + std::to_string(parsed->port));
  const std::optional<Account> account = [&]() -> std::optional<Account> {
    // A malformed configuration matters only for URLs that are Azure's: decided below.
    try {
      return configured_account(setting);
    } catch (const Error&) {
      return std::nullopt;
    }
  }();

  Target t;
  std::string rest;  // "/container/prefix"
  if (account && !account->endpoint.empty()) {
    const auto ep = http::parse_url(account->endpoint);
    if (ep && ep->scheme == parsed->scheme && ep->host == parsed->host && ep->port == parsed->port) {
      const std::string ep_path = strip_slashes(ep->target.substr(0, ep->target.find('?')));
      const std::string here = strip_slashes(path);
      if (ep_path.empty() || here == ep_path || here.rfind(ep_path + "/", 0) == 0) {
        t.endpoint = account->endpoint;
        t.account = account->name;
        rest = "/" + (ep_path.empty() ? here : here.substr(std::min(here.size(), ep_path.size() + 1)));
        if (t.account.empty()) {
          // A SAS-only connection string: the account is the endpoint's (for the messages).
          t.account = ep_path.empty() ? parsed->host.substr(0, parsed->host.find('.')) : ep_path;
        }
      }
    }
  }
  if (t.endpoint.empty()) {
    const std::string suffix = account ? account->endpoint_suffix : std::string("core.windows.net");
    const auto dot = parsed->host.find('.');
    const std::string host_rest = dot == std::string::npos ? std::string() : parsed->host.substr(dot);
    if (dot != std::string::npos && dot > 0 &&
        (host_rest == ".blob.core.windows.net" || host_rest == ".blob." + suffix)) {
      t.account = parsed->host.substr(0, dot);
      t.endpoint = origin;
      rest = path;
    } else if (is_ip_or_localhost(parsed->host)) {
      const std::string here = strip_slashes(path);
      const std::string first = here.substr(0, here.find('/'));
      const bool known =
          first == kDevelopmentAccount || (account && !account->name.empty() && first == account->name);
      if (!known) return std::nullopt;
      t.account = first;
      t.endpoint = origin + "/" + first;
      rest = "/" + here.substr(std::min(here.size(), first.size() + 1));
    } else {
      return std::nullopt;
    }
  }
  // From here on the URL is Azure's: a broken configuration is an error.
  const std::string shown = url.substr(0, url.find('?'));
  (void)configured_account(setting);
  const std::string inner = strip_slashes(rest);
  const auto slash = inner.find('/');
  t.container = text::percent_decode(inner.substr(0, slash), false);
  t.prefix = slash == std::string::npos ? std::string()
                                        : strip_slashes(text::percent_decode(inner.substr(slash + 1), false));
  check_container(t.container, shown);
  apply_credentials(t, account);
  if (query.find("sig=") != std::string::npos) t.sas = query;  // a SAS URL carries its own token
  t.display = t.endpoint + "/" + t.container;
  return t;
}

}  // namespace paramdelta::storage::azure
