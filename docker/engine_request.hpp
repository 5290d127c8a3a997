#pragma once
// Internal to docker/engine_*.cpp: the small pieces every Engine call file needs (encoding a path
// segment, short ids for messages, naming the operation in a failure, sending one versioned
// request). Not for callers of docker::engine.

#include <cctype>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.hpp"
#include "protocol/http_client.hpp"

namespace cssh::docker::detail {

/// Percent-encodes everything but RFC 3986 unreserved characters plus `keep`.
inline std::string percent_encode(std::string_view text, std::string_view keep = "") {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
        keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

/// Ids are 64 hex digits; the first 12 identify them for people.
inline std::string short_id(const std::string& id) { return id.size() == 64 ? id.substr(0, 12) : id; }

/// A transport failure keeps its code and gains the operation's name.
inline failure during(const std::string& operation, failure f) {
  f.message = operation + ": " + f.message;
  return f;
}

/// One request under the negotiated version prefix: `target` has none yet.
inline http::request versioned_request(const std::string& version, std::string method, const std::string& target,
                                       std::string body, std::chrono::milliseconds timeout) {
  http::request req;
  req.method = std::move(method);
  req.target = "/v" + version + target;
  req.body = std::move(body);
  req.timeout = timeout;
  return req;
}

}  // namespace cssh::docker::detail
