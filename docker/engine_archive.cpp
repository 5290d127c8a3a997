// The Engine calls that move files in and out of containers, and inspect: kept apart from
// engine.cpp so each stays one job.

#include "docker/engine.hpp"
#include "docker/engine_answers.hpp"
#include "docker/engine_request.hpp"

namespace cssh::docker {
namespace {

using detail::api_error;
using detail::during;
using detail::expect_status;
using detail::percent_encode;
using detail::segment;
using detail::short_id;

/// "/containers/{id}/archive?path=...": the path is a query value, "/" encoded as the Docker CLI
/// sends it (see detail::percent_encode).
std::string archive_target(const std::string& id, const std::string& path) {
  return "/containers/" + segment(id) + "/archive?path=" + percent_encode(path);
}

}  // namespace

void engine::put_archive(const std::string& id, const std::string& path, std::string tar, callback<void> done) {
  call({"PUT", archive_target(id, path), std::move(tar), timeouts_.container_start,
        {{"Content-Type", "application/x-tar"}}},
       expect_status(state_, "write files into container " + short_id(id), {200}, std::move(done)));
}

void engine::get_archive(const std::string& id, const std::string& path, callback<std::optional<std::string>> done) {
  call({"GET", archive_target(id, path), "", timeouts_.http},
       [st = state_, operation = "read " + path + " from container " + short_id(id),
        done = std::move(done)](result<http::response> resp) {
         if (!resp) return done(during(operation, resp.error()));
         if (resp->status == 404) return done(std::optional<std::string>());
         if (resp->status != 200) return done(api_error(*st, operation, *resp));
         done(std::optional<std::string>(std::move(resp->body)));
       });
}

void engine::inspect_container(const std::string& id, callback<nlohmann::json> done) {
  call({"GET", "/containers/" + segment(id) + "/json", "", timeouts_.http},
       [st = state_, operation = "inspect container " + short_id(id),
        done = std::move(done)](result<http::response> resp) {
         if (!resp) return done(during(operation, resp.error()));
         if (resp->status != 200) return done(api_error(*st, operation, *resp));
         auto j = answers::read_object(resp->body, operation);
         if (!j) return done(j.error());
         done(std::move(j).value());
       });
}

}  // namespace cssh::docker
