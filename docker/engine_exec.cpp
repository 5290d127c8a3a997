// The Engine calls for execs (processes started in a running container: connection mode's
// sessions and the helper's signal deliveries), kept apart from engine.cpp so each file has one job.

#include "docker/engine.hpp"
#include "docker/engine_answers.hpp"
#include "docker/engine_request.hpp"

namespace cssh::docker {
namespace {

using detail::api_error;
using detail::during;
using detail::expect_status;
using detail::segment;
using detail::short_id;

}  // namespace

void engine::create_exec(const std::string& container_id, const nlohmann::json& body, callback<std::string> done) {
  // replace, not throw, on invalid UTF-8: environment values come from clients.
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  call({"POST", "/containers/" + segment(container_id) + "/exec", std::move(text), timeouts_.container_start},
       [st = state_, operation = "create exec in container " + short_id(container_id),
        done = std::move(done)](result<http::response> resp) {
         if (!resp) return done(during(operation, resp.error()));
         if (resp->status != 201 && resp->status != 200) return done(api_error(*st, operation, *resp));
         auto answer = answers::read_created(resp->body, operation);
         if (!answer) return done(answer.error());
         done(std::move(answer->id));
       });
}

void engine::start_exec_attached(const std::string& exec_id, bool tty,
                                 callback<std::shared_ptr<http::upgraded_stream>> done) {
  upgrade({"POST", "/exec/" + segment(exec_id) + "/start", nlohmann::json{{"Detach", false}, {"Tty", tty}}.dump(),
           timeouts_.container_start},
          "start exec " + short_id(exec_id), std::move(done));
}

void engine::start_exec_detached(const std::string& exec_id, callback<void> done) {
  call({"POST", "/exec/" + segment(exec_id) + "/start", nlohmann::json{{"Detach", true}, {"Tty", false}}.dump(),
        timeouts_.signal},
       expect_status(state_, "start exec " + short_id(exec_id), {200, 204}, std::move(done)));
}

void engine::resize_exec(const std::string& exec_id, unsigned rows, unsigned cols, callback<void> done) {
  call({"POST", "/exec/" + segment(exec_id) + "/resize?h=" + std::to_string(rows) + "&w=" + std::to_string(cols), "",
        timeouts_.http},
       expect_status(state_, "resize exec " + short_id(exec_id), {200, 201, 204}, std::move(done)));
}

void engine::inspect_exec(const std::string& exec_id, callback<exec_state> done) {
  call({"GET", "/exec/" + segment(exec_id) + "/json", "", timeouts_.http},
       [st = state_, operation = "inspect exec " + short_id(exec_id),
        done = std::move(done)](result<http::response> resp) {
         if (!resp) return done(during(operation, resp.error()));
         if (resp->status != 200) return done(api_error(*st, operation, *resp));
         auto said = answers::read_exec_info(resp->body, operation);
         if (!said) return done(said.error());
         exec_state state;
         state.running = said->running;
         state.exit_code = said->exit_code;
         state.pid = said->pid;
         done(state);
       });
}

}  // namespace cssh::docker
