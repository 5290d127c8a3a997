#pragma once
// Internal to protocol/http/*.cpp: how every entry point (async_call, async_call_streamed,
// async_upgrade) sets its exchange off. What the exchange then does on the wire (connect, TLS
// handshake, deadline, the request as Beast sends it, the wording of failures) is the
// `exchange` base class in http_transport; this header holds the two steps before and after
// building the exchange, which differ only in the handler's type.

#include <memory>
#include <optional>
#include <utility>

#include "protocol/http/transport.hpp"

namespace cssh::http::detail {

/// The endpoint with its TLS context filled in (see with_tls_context). When that fails, `done`
/// is moved out and answered with the failure, worded "<endpoint>: <METHOD target>: <what>",
/// and the result is empty: the caller returns.
template <class Handler>
std::optional<endpoint> prepare_endpoint(reactor_core& core, const endpoint& ep, const request& req, Handler& done) {
  auto prepared = with_tls_context(ep);
  if (prepared) return std::move(prepared).value();
  auto report = [done = std::move(done), f = prepared.error(), what = ep.describe() + ": " + req.method + " " + req.target] {
    done(fail(f.code, what + ": " + f.message));
  };
  // Callbacks belong on a reactor thread; only a stopped reactor forces us to answer inline.
  if (!core.post(core.ioc.get_executor(), report)) report();
  return std::nullopt;
}

/// Starts `op` on its strand; a reactor that no longer runs anything gets it refused at once
/// (its handler hears HTTP_CANCELLED without the network ever being touched).
inline void launch(reactor_core& core, const std::shared_ptr<exchange>& op) {
  if (!core.post(op->strand(), [op] { op->start(); })) op->refuse();
}

}  // namespace cssh::http::detail
