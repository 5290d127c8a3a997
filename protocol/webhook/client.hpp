#pragma once
// POSTing JSON to a webhook (the auth webhook, the config server) the way ContainerSSH's
// clients do, with retries: a call is repeated after a network error or a 5xx answer, with
// back-off, until a 200 arrives or the login's deadline would pass; any other answer (4xx, a
// redirect that is not followed) ends it at once. No actors in here: completions run on a
// reactor thread.
//
// Attempts reuse idle keep-alive connections, pooled per endpoint (protocol/http/transport.hpp).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "protocol/http/client.hpp"
#include "protocol/http/endpoint.hpp"

namespace cssh::webhook {

/// ContainerSSH's HTTP client settings (`webhook:`, `configserver:`).
struct client_settings {
  std::string url;
  std::chrono::milliseconds timeout{2000};  // per HTTP call
  std::string cacert;                       // PEM text or file path; https only
  std::string cert;
  std::string key;
  bool allow_redirects = false;
};

/// A webhook server ready to call: parsed URL and TLS context. Immutable; share it.
struct client {
  http::endpoint endpoint;
  /// The URL's path as written ("" when none), for the config server which uses it unchanged.
  std::string path_as_given;
  std::string url;  // for messages
  std::chrono::milliseconds timeout{2000};
  bool allow_redirects = false;
};

/// Builds a client. `where` names the settings in failures ("auth.password.webhook"): a bad URL,
/// an unreadable or invalid cacert/cert/key. TLS settings on an http:// URL are reported in
/// `warnings` (they cannot apply).
result<std::shared_ptr<const client>> make_client(const client_settings& settings, const std::string& where,
                                                  std::vector<std::string>* warnings = nullptr);

/// One failed attempt, for the log. `reason` never contains the request body.
struct attempt_failure {
  int attempt = 0;            // 1 for the first call
  std::string reason;         // "connect failed: Connection refused", "answered HTTP 503", ...
  bool will_retry = false;
  std::chrono::milliseconds retry_in{0};
};

struct call {
  /// Appended to the URL's path ("/password"). Empty: the URL's path exactly as given.
  std::string path;
  std::string body;
  std::chrono::steady_clock::time_point deadline;
  /// Called on a reactor thread after every failed attempt (before a retry, or before giving up).
  std::function<void(const attempt_failure&)> on_failed_attempt;
};

/// Back-off between attempts: 250 ms, doubling, at most 10 s (ContainerSSH's fixed interval).
std::chrono::milliseconds retry_delay(int attempts_made);

/// POSTs `c.body` until an HTTP 200 arrives (its body goes to `done`), the failure is permanent,
/// or no time is left before `c.deadline`. Each HTTP call gets the client's timeout, cut to what
/// is left. Redirects (301/302/303 become GET, 307/308 repeat the POST, at most 10) are followed
/// only with allow_redirects. The final failure (WEBHOOK_FAILED) names the URL, the number of
/// attempts and the last reason. `done` runs on a reactor thread.
void post(http::reactor& reactor, std::shared_ptr<const client> target, call c,
          std::function<void(result<std::string>)> done);

}  // namespace cssh::webhook
