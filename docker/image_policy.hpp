#pragma once
// imagePullPolicy for one container about to be created: IfNotPresent pulls only when
// GET /images/{image}/json says the image is absent (whatever its tag, :latest included); Always
// pulls first; Never only checks, so a missing image is a clear error instead of the Engine's
// "No such image" from create. Pulls carry execution.auth. Used by both execution modes; the
// calls count in cssh_docker_requests_total as image_inspect and image_pull.

#include <memory>
#include <string>

#include "config/app_config.hpp"
#include "docker/engine.hpp"

namespace cssh::docker {

/// `done` runs on a reactor thread; a failure's message names the image and what went wrong.
void ensure_image(std::shared_ptr<engine> e, const config::docker_execution_config& exec,
                  const std::string& connection_id, callback<void> done);

}  // namespace cssh::docker
