// The Engine calls for images made locally and for named volumes: what the guest helper's
// installation needs (docker/guest_helper.hpp). Kept apart from engine.cpp so each file has one job.

#include "docker/engine.hpp"
#include "docker/engine_answers.hpp"
#include "docker/engine_request.hpp"
#include "docker/pull_progress.hpp"

namespace cssh::docker {
namespace {

using detail::during;
using detail::percent_encode;
using detail::versioned_request;

/// The answer of a GET .../json that may say 404: the object, or nullopt.
http::response_handler optional_object(std::string operation, callback<std::optional<nlohmann::json>> done) {
  return [operation = std::move(operation), done = std::move(done)](result<http::response> resp) {
    if (!resp) return done(during(operation, resp.error()));
    if (resp->status == 404) return done(std::optional<nlohmann::json>());
    if (resp->status != 200) return done(engine_error(operation, *resp));
    auto j = answers::read_object(resp->body, operation);
    if (!j) return done(j.error());
    done(std::optional<nlohmann::json>(std::move(j).value()));
  };
}

}  // namespace

void engine::import_image(const std::string& repo, const std::string& tag, std::string tar, callback<void> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.container_start;
  std::string target = "/images/create?fromSrc=-&repo=" + percent_encode(repo) + "&tag=" + percent_encode(tag);
  std::string operation = "import image " + repo + ":" + tag;
  versioned([r, ep, deadline, target = std::move(target), operation = std::move(operation), tar = std::move(tar),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    auto req = versioned_request(version.value(), "POST", target, std::move(tar), deadline);
    req.headers.emplace_back("Content-Type", "application/x-tar");
    http::async_call(*r, ep, std::move(req), [operation, done = std::move(done)](result<http::response> resp) {
      if (!resp) return done(during(operation, resp.error()));
      if (resp->status != 200) return done(engine_error(operation, *resp));
      // As with pulls, the Engine says 200 first; a failure shows up inside the progress stream.
      pull_progress progress;
      progress.feed(resp->body);
      progress.finish();
      if (const auto& error = progress.error()) return done(fail("DOCKER_IMPORT_FAILED", operation + ": " + *error));
      done(result<void>{});
    });
  });
}

void engine::inspect_image(const std::string& image, callback<std::optional<nlohmann::json>> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.http;
  // Image names keep their "/" and ":" in the path, as the Engine's router expects.
  std::string target = "/images/" + percent_encode(image, "/:@") + "/json";
  std::string operation = "inspect image " + image;
  versioned([r, ep, deadline, target = std::move(target), operation = std::move(operation),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    http::async_call(*r, ep, versioned_request(version.value(), "GET", target, "", deadline),
                     optional_object(operation, std::move(done)));
  });
}

void engine::create_volume(const std::string& name, const std::map<std::string, std::string>& labels,
                           callback<void> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.container_start;
  std::string operation = "create volume " + name;
  nlohmann::json body{{"Name", name}, {"Labels", labels}};
  versioned([r, ep, deadline, operation = std::move(operation), text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    http::async_call(*r, ep, versioned_request(version.value(), "POST", "/volumes/create", std::move(text), deadline),
                     [operation, done = std::move(done)](result<http::response> resp) {
                       if (!resp) return done(during(operation, resp.error()));
                       if (resp->status != 201 && resp->status != 200) return done(engine_error(operation, *resp));
                       done(result<void>{});
                     });
  });
}

void engine::inspect_volume(const std::string& name, callback<std::optional<nlohmann::json>> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.http;
  std::string target = "/volumes/" + percent_encode(name);
  std::string operation = "inspect volume " + name;
  versioned([r, ep, deadline, target = std::move(target), operation = std::move(operation),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    http::async_call(*r, ep, versioned_request(version.value(), "GET", target, "", deadline),
                     optional_object(operation, std::move(done)));
  });
}

}  // namespace cssh::docker
