#include "app/healthcheck_command.hpp"

#include <chrono>
#include <cstdio>
#include <future>

#include "protocol/http/client.hpp"
#include "protocol/http/endpoint.hpp"

namespace cssh::app {

int run_healthcheck(const config::health_config& health) {
  auto ep = http::parse_url(health.client_url);
  if (!ep) {
    std::fprintf(stderr, "not ok: health.client.url %s: %s\n", health.client_url.c_str(), ep.error().message.c_str());
    return 1;
  }
  http::reactor reactor(1);
  http::request req;
  req.method = "GET";
  req.target = ep->base_path.empty() ? "/" : ep->base_path;
  req.timeout = health.client_timeout;
  std::promise<result<http::response>> answer;
  auto future = answer.get_future();
  http::async_call(reactor, ep.value(), std::move(req),
                   [&answer](result<http::response> r) { answer.set_value(std::move(r)); });
  // The request has its own deadline; the margin only covers a reactor that never calls back.
  if (future.wait_for(health.client_timeout + std::chrono::seconds(2)) != std::future_status::ready) {
    std::fprintf(stderr, "not ok: %s did not answer in time\n", health.client_url.c_str());
    reactor.stop();
    return 1;
  }
  auto r = future.get();
  reactor.stop();
  if (!r) {
    std::fprintf(stderr, "not ok: %s\n", r.error().message.c_str());
    return 1;
  }
  if (r->status != 200) {
    std::fprintf(stderr, "not ok: %s answered HTTP %u (see the server's HEALTH_CHECK_FAILED log line for why)\n",
                 health.client_url.c_str(), r->status);
    return 1;
  }
  std::printf("ok\n");
  return 0;
}

}  // namespace cssh::app
