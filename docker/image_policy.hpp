#pragma once
// imagePullPolicy for one container about to be created, with as few Engine calls as the policy
// allows. Always pulls, then creates. IfNotPresent and Never create at once: the create itself
// says whether the image is there (a 404 "No such image"), so a session whose image is present
// costs no extra call. Only then does IfNotPresent pull (whatever the tag, :latest included) and
// create again, and Never fail with a message that names the policy. Pulls carry
// execution.auth. Used by both execution modes; the calls count in cssh_docker_requests_total as
// image_inspect, image_pull and container_create (a create that found no image under
// IfNotPresent or Never is not counted as an Engine error: it did what was asked).

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "config/app_config.hpp"
#include "docker/engine.hpp"

namespace cssh::docker {

/// The image is there (pulled when the policy says so) before anything else happens: for a
/// caller that must read the image before creating (the guest helper's TTY start reads its
/// Entrypoint and Cmd). `done` runs on a reactor thread; a failure names the image.
void ensure_image(std::shared_ptr<engine> e, const config::docker_execution_config& exec,
                  const std::string& connection_id, callback<void> done);

/// Creates a container from `body` (named and placed as `exec` says) under the pull policy
/// (see above), timed in cssh_container_create_seconds. `image_ready`: ensure_image already ran,
/// so the create is the only call. `done` gets the container id or a failure that names the
/// image and the step.
void create_under_pull_policy(std::shared_ptr<engine> e, const config::docker_execution_config& exec,
                              const std::string& connection_id, bool image_ready, nlohmann::json body,
                              callback<std::string> done);

}  // namespace cssh::docker
