#include "docker/image_policy.hpp"

#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "docker/registry_auth.hpp"

namespace cssh::docker {

void ensure_image(std::shared_ptr<engine> e, const config::docker_execution_config& exec,
                  const std::string& connection_id, callback<void> done) {
  const std::string image = exec.container.image;
  auto pull = [e, image, connection_id, done, auth = encode_registry_auth(exec.auth)]() {
    log::info("DOCKER_IMAGE_PULL", "pulling image " + image + (auth.empty() ? "" : " with registry credentials"),
              {{"image", image}, {"connectionId", connection_id}});
    e->pull_image(image, auth, metrics::count_docker_call<void>("image_pull", done));  // "pull image <name>: ..."
  };
  auto policy = exec.pull_policy;
  if (policy == config::image_pull_policy::always) return pull();
  e->image_exists(image, metrics::count_docker_call<bool>("image_inspect", [pull, image, policy, done](result<bool> r) {
    if (!r) return done(r.error());  // "inspect image <name>: ..."
    if (r.value()) return done(result<void>{});
    if (policy == config::image_pull_policy::never) {
      return done(fail("DOCKER_IMAGE_ABSENT", "image " + image +
                                                  " is not present on the Docker Engine, and "
                                                  "docker.execution.imagePullPolicy is Never (nothing is pulled)"));
    }
    pull();
  }));
}

}  // namespace cssh::docker
