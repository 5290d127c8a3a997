#pragma once
// Internal to docker/engine*.cpp: the pieces every Engine call file needs (encoding a path
// segment or a query value, short ids for messages, naming the operation in a failure, building
// a request, checking the answer's status). Not for callers of docker::engine.

#include <cctype>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "docker/engine.hpp"
#include "protocol/http/client.hpp"

namespace cssh::docker {

/// One Engine request, as engine::call and engine::upgrade take it.
struct engine::call_spec {
  std::string method;
  std::string target;  // path and query, already encoded, without the version prefix
  std::string body;
  std::chrono::milliseconds timeout;
  std::vector<std::pair<std::string, std::string>> headers = {};
  std::shared_ptr<http::cancellation> cancel = nullptr;
};

namespace detail {

/// Percent-encodes everything but RFC 3986 unreserved characters plus `keep`.
///
/// By default "/" is encoded too, and that is what both uses want:
/// - a path segment (container id or name, exec id, volume name) must stay one segment: an id
///   "x/../y" must not reach another route (tests/integration checks "id%2F..%2Fx");
/// - a query value (archive path=, fromImage=, filters=, ...) may carry "/" either way, and
///   encoded is what the Docker CLI sends (Go's url.Values.Encode); the Engine decodes both.
/// The one exception is an image name in a path (/images/{name}/json): the Docker CLI puts it
/// there unescaped and the Engine's route takes the rest of the path as the name, so image_path
/// keeps "/", ":" and "@" ("reg:5000/a/b@sha256:...").
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

/// A container id or name, an exec id or a volume name as one path segment ("/" encoded).
inline std::string segment(std::string_view id) { return percent_encode(id); }

/// "/images/{name}": an image name keeps its "/", ":" and "@" in the path (see percent_encode).
inline std::string image_path(std::string_view image) { return "/images/" + percent_encode(image, "/:@"); }

/// Ids are 64 hex digits; the first 12 identify them for people.
inline std::string short_id(const std::string& id) { return id.size() == 64 ? id.substr(0, 12) : id; }

/// A transport failure keeps its code (HTTP_TIMEOUT, ...) and gains the operation's name.
inline failure during(const std::string& operation, failure f) {
  f.message = operation + ": " + f.message;
  return f;
}

/// The request as sent: `spec.target` under the "/v<version>" prefix ("" = none: /_ping and
/// /version, which negotiation asks before it has a version).
inline http::request make_request(engine::call_spec spec, const std::string& version) {
  http::request req;
  req.method = std::move(spec.method);
  req.target = version.empty() ? std::move(spec.target) : "/v" + version + spec.target;
  req.body = std::move(spec.body);
  req.timeout = spec.timeout;
  req.headers = std::move(spec.headers);
  req.cancel = std::move(spec.cancel);
  return req;
}

/// engine_error, plus the Engine and the API version in use when the answer is about versions
/// (a call or a version it does not know). Defined in engine.cpp.
failure api_error(engine::state& st, const std::string& operation, const http::response& resp);

/// For calls whose only interesting outcome is "it worked": any status in `ok` succeeds, any
/// other is an api_error, a transport failure is named `during` the operation. Defined in
/// engine.cpp.
http::response_handler expect_status(std::shared_ptr<engine::state> st, std::string operation, std::vector<unsigned> ok,
                                     callback<void> done);

}  // namespace detail
}  // namespace cssh::docker
