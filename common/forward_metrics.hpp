#pragma once
// Metrics of forwarding (-L/-D, -R, the agent, X11; docs/forwarding.md), registered in the
// default registry on first use (app/server.cpp touches them at start, so every series exists
// from the first scrape). `kind` is one of: local, remote, agent, x11.

#include <string_view>

#include "common/metrics.hpp"

namespace cssh::metrics {

struct forward_metrics {
  /// cssh_forward_connections_open{kind}: forwarded connections open now.
  gauge_family& open;
  /// cssh_forward_connections_total{kind}: forwarded connections made (dialled or accepted).
  counter_family& total;
  /// cssh_forward_bytes_total{kind,direction}: bytes moved; direction "in" is from the SSH
  /// client towards the container, "out" the other way.
  counter_family& bytes;
  /// cssh_forward_failures_total{kind,reason}: dial_failed, listen_failed, channel_refused,
  /// helper_failed.
  counter_family& failures;
  /// cssh_forward_refusals_total{kind,reason}: requests refused before reaching the container:
  /// policy, permit_list, session_mode, unsupported.
  counter_family& refusals;
};

forward_metrics& forwarding();

}  // namespace cssh::metrics
