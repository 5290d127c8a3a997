#pragma once
// What one login gathers about the user: who is logging in, and the metadata, environment and
// files the auth webhook, the config server or the users file returned. Neutral ground for the
// webhook protocol (protocol/webhook), the users file (auth/) and the actors that carry a login.

#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace cssh {

/// One metadata, environment or file value. For files, `value` holds the raw contents (base64 is
/// only the webhook's wire form). A sensitive value never appears in logs.
struct meta_value {
  std::string value;
  bool sensitive = false;
  bool operator==(const meta_value&) const = default;
};

using value_map = std::map<std::string, meta_value>;

/// ContainerSSH's connection metadata: gathered from the answers of one login.
struct connection_metadata {
  value_map metadata;
  value_map environment;
  value_map files;  // absolute path in the container -> contents
  /// Takes every entry of `newer`, replacing entries of the same name (as ContainerSSH does).
  void merge(const connection_metadata& newer);
  bool empty() const { return metadata.empty() && environment.empty() && files.empty(); }
};

/// Who is logging in, sent with every webhook request.
struct login_context {
  std::string username;        // as typed by the client
  std::string remote_address;  // "ip:port"
  std::string connection_id;
  std::string client_version;  // the client's identification string ("SSH-2.0-OpenSSH_9.2p1 ...")
  connection_metadata meta;
};

/// The values for a log line: sensitive ones replaced by "<sensitive>", file contents by their size.
nlohmann::json loggable(const value_map& values);
nlohmann::json loggable_files(const value_map& files);

}  // namespace cssh
