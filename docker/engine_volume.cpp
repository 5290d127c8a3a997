// The Engine calls for images made locally and for named volumes: what the guest helper's
// installation needs (docker/guest_helper.hpp). Kept apart from engine.cpp so each file has one job.

#include "docker/engine.hpp"
#include "docker/engine_answers.hpp"
#include "docker/engine_request.hpp"
#include "docker/pull_progress.hpp"

namespace cssh::docker {
namespace {

using detail::api_error;
using detail::during;
using detail::expect_status;
using detail::image_path;
using detail::percent_encode;
using detail::segment;

/// The answer of a GET .../json that may say 404: the object, or nullopt.
http::response_handler optional_object(std::shared_ptr<engine::state> st, std::string operation,
                                       callback<std::optional<nlohmann::json>> done) {
  return [st = std::move(st), operation = std::move(operation), done = std::move(done)](result<http::response> resp) {
    if (!resp) return done(during(operation, resp.error()));
    if (resp->status == 404) return done(std::optional<nlohmann::json>());
    if (resp->status != 200) return done(api_error(*st, operation, *resp));
    auto j = answers::read_object(resp->body, operation);
    if (!j) return done(j.error());
    done(std::optional<nlohmann::json>(std::move(j).value()));
  };
}

}  // namespace

void engine::import_image(const std::string& repo, const std::string& tag, std::string tar, callback<void> done) {
  call({"POST", "/images/create?fromSrc=-&repo=" + percent_encode(repo) + "&tag=" + percent_encode(tag), std::move(tar),
        timeouts_.container_start, {{"Content-Type", "application/x-tar"}}},
       [st = state_, operation = "import image " + repo + ":" + tag,
        done = std::move(done)](result<http::response> resp) {
         if (!resp) return done(during(operation, resp.error()));
         if (resp->status != 200) return done(api_error(*st, operation, *resp));
         // As with pulls, the Engine says 200 first; a failure shows up inside the progress stream.
         pull_progress progress;
         progress.feed(resp->body);
         progress.finish();
         if (const auto& error = progress.error()) return done(fail("DOCKER_IMPORT_FAILED", operation + ": " + *error));
         done(result<void>{});
       });
}

void engine::inspect_image(const std::string& image, callback<std::optional<nlohmann::json>> done) {
  call({"GET", image_path(image) + "/json", "", timeouts_.http},
       optional_object(state_, "inspect image " + image, std::move(done)));
}

void engine::create_volume(const std::string& name, const std::map<std::string, std::string>& labels,
                           callback<void> done) {
  nlohmann::json body{{"Name", name}, {"Labels", labels}};
  call({"POST", "/volumes/create", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
        timeouts_.container_start},
       expect_status(state_, "create volume " + name, {201, 200}, std::move(done)));
}

void engine::inspect_volume(const std::string& name, callback<std::optional<nlohmann::json>> done) {
  call({"GET", "/volumes/" + segment(name), "", timeouts_.http},
       optional_object(state_, "inspect volume " + name, std::move(done)));
}

}  // namespace cssh::docker
