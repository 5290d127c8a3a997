#include "docker/image_policy.hpp"

#include "common/log.hpp"
#include "common/server_metrics.hpp"
#include "docker/container_spec.hpp"
#include "docker/registry_auth.hpp"

namespace cssh::docker {

namespace {

void pull(const std::shared_ptr<engine>& e, const config::docker_execution_config& exec,
          const std::string& connection_id, callback<void> done) {
  const std::string& image = exec.container.image;
  auto auth = encode_registry_auth(exec.auth);
  log::info("DOCKER_IMAGE_PULL", "pulling image " + image + (auth.empty() ? "" : " with registry credentials"),
            {{"image", image}, {"connectionId", connection_id}});
  e->pull_image(image, auth, metrics::count_docker_call<void>("image_pull", std::move(done)));  // "pull image <name>: ..."
}

failure absent_under_never(const std::string& image) {
  return fail("DOCKER_IMAGE_ABSENT", "image " + image +
                                         " is not present on the Docker Engine, and "
                                         "docker.execution.imagePullPolicy is Never (nothing is pulled)");
}

bool image_absent(const result<std::string>& r) { return !r.ok() && r.error().code == "DOCKER_IMAGE_ABSENT"; }

/// An absent image is the answer the pull policy waits for, not an Engine error.
bool create_fault(const failure& f) { return f.code != "DOCKER_IMAGE_ABSENT"; }

}  // namespace

void ensure_image(std::shared_ptr<engine> e, const config::docker_execution_config& exec,
                  const std::string& connection_id, callback<void> done) {
  if (exec.pull_policy == config::image_pull_policy::always) return pull(e, exec, connection_id, std::move(done));
  const std::string image = exec.container.image;
  e->image_exists(image, metrics::count_docker_call<bool>(
                             "image_inspect", [e, exec, connection_id, image, done](result<bool> r) {
                               if (!r) return done(r.error());  // "inspect image <name>: ..."
                               if (r.value()) return done(result<void>{});
                               if (exec.pull_policy == config::image_pull_policy::never)
                                 return done(absent_under_never(image));
                               pull(e, exec, connection_id, done);
                             }));
}

void create_under_pull_policy(std::shared_ptr<engine> e, const config::docker_execution_config& exec,
                              const std::string& connection_id, bool image_ready, nlohmann::json body,
                              callback<std::string> done) {
  auto attempt = [e, body = std::move(body), name = exec.container_name,
                  platform = platform_query(exec)](callback<std::string> created) {
    e->create_container(body, name, metrics::count_docker_call<std::string>("container_create", std::move(created),
                                                                             create_fault),
                        platform);
  };
  done = metrics::time_success<std::string>(metrics::server().container_create_seconds, std::move(done));
  if (image_ready) return attempt(std::move(done));
  if (exec.pull_policy == config::image_pull_policy::always) {
    return pull(e, exec, connection_id, [attempt, done](result<void> r) {
      if (!r) return done(r.error());
      attempt(done);
    });
  }
  attempt([e, exec, connection_id, attempt, done](result<std::string> r) {
    if (!image_absent(r)) return done(std::move(r));
    if (exec.pull_policy == config::image_pull_policy::never) return done(absent_under_never(exec.container.image));
    pull(e, exec, connection_id, [attempt, done](result<void> pulled) {
      if (!pulled) return done(pulled.error());
      attempt(done);  // a second "No such image" now is the Engine's answer to report
    });
  });
}

}  // namespace cssh::docker
