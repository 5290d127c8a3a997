#include "protocol/http/endpoint.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace cssh::http {
namespace {

constexpr std::uint16_t docker_plain_port = 2375;
constexpr std::uint16_t docker_tls_port = 2376;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

/// Splits "scheme://rest"; scheme is "" when there is no "://".
std::pair<std::string, std::string_view> split_scheme(std::string_view text) {
  auto pos = text.find("://");
  if (pos == std::string_view::npos) return {"", text};
  return {lower(text.substr(0, pos)), text.substr(pos + 3)};
}

/// Parses "host", "host:port", "[v6]" or "[v6]:port" into ep.host / ep.port.
/// `why` receives what was wrong, for the caller to wrap with the whole text.
bool parse_authority(std::string_view auth, std::uint16_t default_port, endpoint& ep, std::string& why) {
  if (auth.empty()) {
    why = "host is empty";
    return false;
  }
  if (auth.find('@') != std::string_view::npos) {
    why = "user information in the address is not supported";
    return false;
  }
  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (auth.front() == '[') {
    auto close = auth.find(']');
    if (close == std::string_view::npos) {
      why = "missing ']' after IPv6 address";
      return false;
    }
    host = auth.substr(1, close - 1);
    auto rest = auth.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        why = "unexpected text after ']'";
        return false;
      }
      has_port = true;
      port_text = rest.substr(1);
    }
  } else {
    auto colon = auth.rfind(':');
    if (colon != std::string_view::npos) {
      if (auth.find(':') != colon) {
        why = "IPv6 addresses must be written in brackets, e.g. [::1]:2375";
        return false;
      }
      host = auth.substr(0, colon);
      has_port = true;
      port_text = auth.substr(colon + 1);
    } else {
      host = auth;
    }
  }
  if (host.empty()) {
    why = "host is empty";
    return false;
  }
  ep.host = std::string(host);
  ep.port = default_port;
  if (has_port) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535) {
      why = "port \"" + std::string(port_text) + "\" is not a number between 1 and 65535";
      return false;
    }
    ep.port = static_cast<std::uint16_t>(value);
  }
  return true;
}

failure invalid(std::string_view what, std::string_view text, const std::string& why) {
  return fail("HTTP_ENDPOINT_INVALID", "invalid " + std::string(what) + " \"" + std::string(text) + "\": " + why);
}

std::string host_for_url(const endpoint& ep) {
  // IPv6 literals need their brackets back whenever a port may follow.
  if (ep.host.find(':') != std::string::npos) return "[" + ep.host + "]";
  return ep.host;
}

}  // namespace

std::string endpoint::host_header() const {
  if (kind == transport::unix_socket) return "localhost";
  // RFC 9110: the port may be left out when it is the scheme's default.
  const std::uint16_t scheme_default = tls ? 443 : 80;
  if (port == scheme_default) return host_for_url(*this);
  return host_for_url(*this) + ":" + std::to_string(port);
}

std::string endpoint::describe() const {
  if (kind == transport::unix_socket) return "unix://" + socket_path;
  return std::string(tls ? "https://" : "http://") + host_for_url(*this) + ":" + std::to_string(port);
}

result<endpoint> parse_docker_host(std::string_view text) {
  auto [scheme, rest] = split_scheme(text);
  endpoint ep;
  std::string why;
  if (scheme == "unix") {
    if (rest.empty() || rest.front() != '/') return invalid("Docker host", text, "unix:// needs an absolute socket path");
    ep.kind = endpoint::transport::unix_socket;
    ep.socket_path = std::string(rest);
    return ep;
  }
  if (scheme != "" && scheme != "tcp" && scheme != "http" && scheme != "https") {
    return invalid("Docker host", text, "scheme \"" + scheme + "\" is not one of unix, tcp, http, https");
  }
  // A trailing "/" is harmless (people paste URLs); a real path is not something Docker hosts have.
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) return invalid("Docker host", text, "a Docker host has no path");
  ep.kind = endpoint::transport::tcp;
  ep.tls = scheme == "https";
  if (!parse_authority(rest, ep.tls ? docker_tls_port : docker_plain_port, ep, why)) {
    return invalid("Docker host", text, why);
  }
  return ep;
}

result<endpoint> parse_url(std::string_view text) {
  auto [scheme, rest] = split_scheme(text);
  if (scheme != "http" && scheme != "https") {
    return invalid("URL", text, "must start with http:// or https://");
  }
  // Webhook URLs are bases that get "/password" etc. appended: a query or fragment would end up
  // in the middle of the final path.
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return invalid("URL", text, "query strings and fragments are not supported in a base URL");
  }
  endpoint ep;
  ep.kind = endpoint::transport::tcp;
  ep.tls = scheme == "https";
  auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string why;
  if (!parse_authority(authority, ep.tls ? 443 : 80, ep, why)) return invalid("URL", text, why);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    ep.base_path = std::string(path);
  }
  return ep;
}

}  // namespace cssh::http
