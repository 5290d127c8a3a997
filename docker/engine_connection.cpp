#include "docker/engine_connection.hpp"

#include "docker/api_version.hpp"
#include "protocol/http/tls.hpp"

namespace cssh::docker {
namespace {

constexpr const char* where = "docker.connection";

failure at(const std::string& key, const failure& f) {
  return fail(f.code, std::string(where) + "." + key + ": " + f.message);
}

}  // namespace

result<engine_connection> make_engine_connection(const config::docker_connection_config& c) {
  engine_connection out;
  auto ep = http::parse_docker_host(c.host);
  if (!ep) return at("host", ep.error());
  out.endpoint = std::move(ep).value();

  if (!c.api_version.empty()) {
    if (!parse_api_version(c.api_version)) {
      return fail("CONFIG_INVALID", std::string(where) + ".apiVersion: \"" + c.api_version +
                                        "\" is not an API version like 1.41");
    }
    if (api_older(newest_api_version, c.api_version)) {
      return fail("CONFIG_INVALID", std::string(where) + ".apiVersion: " + c.api_version +
                                        " is newer than this server speaks (" + newest_api_version + ")");
    }
    if (api_older(c.api_version, oldest_api_version)) {
      out.warnings.push_back(std::string(where) + ".apiVersion: " + c.api_version + " is older than API " +
                             oldest_api_version + " (Docker 1.6), the oldest this server is built for");
    }
    out.pinned_api_version = c.api_version;
  }

  bool any_tls_setting = !c.cert.empty() || !c.key.empty() || !c.cacert.empty();
  if (out.endpoint.kind == http::endpoint::transport::unix_socket) {
    if (any_tls_setting) {
      out.warnings.push_back(std::string(where) + ": cert, key and cacert are ignored for a unix:// socket " +
                             "(TLS applies to tcp:// hosts only)");
    }
    return out;
  }
  if (any_tls_setting || out.endpoint.tls) {
    http::tls_settings settings{c.cacert, c.cert, c.key, ""};
    auto ctx = http::make_tls_context(settings);
    if (!ctx) {
      // The TLS layer names the field ("cacert: ..."); put our key path in front.
      return fail(ctx.error().code, std::string(where) + "." + ctx.error().message);
    }
    out.endpoint.tls = true;
    out.endpoint.tls_ctx = std::move(ctx).value();
    if (c.cacert.empty()) {
      out.warnings.push_back(std::string(where) + ": no cacert given: the Engine's certificate is verified " +
                             "against the system's trusted CAs");
    }
    return out;
  }
  out.plain_tcp = true;
  out.warnings.push_back("DANGER: the Docker Engine at " + c.host +
                         " is reached over plain TCP without TLS: anyone who can connect to that port controls "
                         "the Docker host, and session data crosses the network unencrypted. Set " +
                         std::string(where) + ".cert, .key and .cacert (the Engine's --tlsverify certificates).");
  return out;
}

}  // namespace cssh::docker
