#include "common/forward_metrics.hpp"

namespace cssh::metrics {
namespace {

forward_metrics make(registry& r) {
  forward_metrics m{
      r.gauges("cssh_forward_connections_open", "Forwarded connections open now, by kind", {"kind"}),
      r.counters("cssh_forward_connections_total", "Forwarded connections made (dialled or accepted), by kind",
                 {"kind"}),
      r.counters("cssh_forward_bytes_total",
                 "Bytes through forwarded connections, by kind and direction (in: client to container)",
                 {"kind", "direction"}),
      r.counters("cssh_forward_failures_total", "Forwarded connections or listens that failed, by kind and reason",
                 {"kind", "reason"}),
      r.counters("cssh_forward_refusals_total", "Forwarding requests refused, by kind and reason",
                 {"kind", "reason"}),
  };
  // Known label values start at 0, so a rate() sees the first event.
  for (auto kind : {"local", "remote", "agent", "x11"}) {
    m.open.with({kind});
    m.total.with({kind});
    m.bytes.with({kind, "in"});
    m.bytes.with({kind, "out"});
  }
  return m;
}

}  // namespace

forward_metrics& forwarding() {
  static forward_metrics* instance = new forward_metrics(make(default_registry()));  // never destroyed
  return *instance;
}

}  // namespace cssh::metrics
