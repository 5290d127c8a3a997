#include "app/docker_startup.hpp"

#include <unistd.h>

#include <cstdio>
#include <future>
#include <memory>
#include <mutex>
#include <vector>

#include "common/log.hpp"
#include "docker/container_spec.hpp"

namespace cssh::app {

std::string derive_instance_id(const std::string& listen, unsigned bound_port) {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') std::snprintf(name, sizeof name, "localhost");
  std::string host = listen;
  if (auto colon = listen.rfind(':'); colon != std::string::npos && listen.find(']', colon) == std::string::npos)
    host = listen.substr(0, colon);
  return std::string(name) + "/" + host + ":" + std::to_string(bound_port);
}

void reap_orphans(docker::engine& engine, const std::string& instance_id, std::chrono::milliseconds limit) {
  struct reaping {
    std::mutex mu;
    std::vector<std::string> removed;
    std::vector<std::string> failed;
    std::size_t pending = 0;
    std::promise<void> done;
  };
  auto state = std::make_shared<reaping>();
  auto finished = state->done.get_future();
  auto* e = &engine;
  // Appended in steps: GCC 12 misreads `std::string(x) + "=" + y` here as overflowing
  // (-Warray-bounds, a known false positive) once inlined differently.
  std::string label(docker::label_instance);
  label += '=';
  label += instance_id;
  engine.list_containers_with_label(label, [state, e](result<std::vector<std::string>> listed) {
    if (!listed) {
      std::lock_guard<std::mutex> lock(state->mu);
      state->failed.push_back(listed.error().message);
      state->done.set_value();
      return;
    }
    if (listed->empty()) return state->done.set_value();
    state->pending = listed->size();
    for (const auto& id : listed.value()) {
      e->remove_container(id, [state, id](result<void> r) {
        std::lock_guard<std::mutex> lock(state->mu);
        (r ? state->removed : state->failed).push_back(r ? id.substr(0, 12) : r.error().message);
        if (--state->pending == 0) state->done.set_value();
      });
    }
  });
  const bool in_time = finished.wait_for(limit) == std::future_status::ready;
  std::lock_guard<std::mutex> lock(state->mu);
  if (!state->removed.empty()) {
    log::notice("DOCKER_ORPHANS_REMOVED",
                "removed " + std::to_string(state->removed.size()) +
                    " container(s) an earlier run of this instance left behind",
                {{"instanceId", instance_id}, {"containers", state->removed}});
  }
  for (const auto& why : state->failed)
    log::error("DOCKER_ORPHAN_REAPING_FAILED", "orphan containers could not be removed: " + why,
               {{"instanceId", instance_id}});
  if (!in_time)
    log::error("DOCKER_ORPHAN_REAPING_FAILED", "the Docker Engine did not finish removing orphan containers in time",
               {{"instanceId", instance_id}});
}

void install_helper(docker::helper_installer& helper, std::chrono::milliseconds limit) {
  auto answer = std::make_shared<std::promise<result<std::string>>>();
  auto future = answer->get_future();
  helper.ensure([answer](result<std::string> r) { answer->set_value(std::move(r)); });
  if (future.wait_for(limit) != std::future_status::ready) {
    log::error("HELPER_UNAVAILABLE", "installing the guest helper did not finish in time; sessions will try again",
               {{"volume", docker::helper_volume_name()}});
    return;
  }
  auto r = future.get();
  if (!r) {
    log::error("HELPER_UNAVAILABLE", r.error().message + "; sessions will try again");
    return;
  }
  log::info("HELPER_READY", "the guest helper is in volume " + r.value(),
            {{"volume", r.value()}, {"digest", docker::helper_digest()}});
}

}  // namespace cssh::app
