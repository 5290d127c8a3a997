// The Engine calls for execs (processes started in a running container: connection mode's
// sessions and the helper's signal deliveries), kept apart from engine.cpp so each file has one job.

#include <algorithm>
#include <vector>

#include "docker/engine.hpp"
#include "docker/engine_answers.hpp"
#include "docker/engine_request.hpp"

namespace cssh::docker {
namespace {

using detail::during;
using detail::percent_encode;
using detail::short_id;
using detail::versioned_request;

/// A completion for calls whose only interesting outcome is "it worked".
http::response_handler expect(std::string operation, std::vector<unsigned> ok, callback<void> done) {
  return [operation = std::move(operation), ok = std::move(ok), done = std::move(done)](result<http::response> r) {
    if (!r) return done(during(operation, r.error()));
    if (std::find(ok.begin(), ok.end(), r->status) == ok.end()) return done(engine_error(operation, *r));
    done(result<void>{});
  };
}

}  // namespace

void engine::create_exec(const std::string& container_id, const nlohmann::json& body, callback<std::string> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.container_start;
  std::string target = "/containers/" + percent_encode(container_id) + "/exec";
  std::string operation = "create exec in container " + short_id(container_id);
  // replace, not throw, on invalid UTF-8: environment values come from clients.
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  versioned([r, ep, deadline, target = std::move(target), operation = std::move(operation), text = std::move(text),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    http::async_call(*r, ep, versioned_request(version.value(), "POST", target, std::move(text), deadline),
                     [operation, done = std::move(done)](result<http::response> resp) {
                       if (!resp) return done(during(operation, resp.error()));
                       if (resp->status != 201 && resp->status != 200) return done(engine_error(operation, *resp));
                       auto answer = answers::read_created(resp->body, operation);
                       if (!answer) return done(answer.error());
                       done(std::move(answer->id));
                     });
  });
}

void engine::start_exec_attached(const std::string& exec_id, bool tty,
                                 callback<std::shared_ptr<http::upgraded_stream>> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.container_start;
  std::string target = "/exec/" + percent_encode(exec_id) + "/start";
  std::string operation = "start exec " + short_id(exec_id);
  std::string body = nlohmann::json{{"Detach", false}, {"Tty", tty}}.dump();
  versioned([r, ep, deadline, target = std::move(target), operation = std::move(operation), body = std::move(body),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    http::async_upgrade(*r, ep, versioned_request(version.value(), "POST", target, std::move(body), deadline),
                        [operation, done = std::move(done)](result<std::shared_ptr<http::upgraded_stream>> stream) {
                          if (stream) return done(std::move(stream).value());
                          auto f = during(operation, stream.error());
                          if (f.code == "HTTP_UPGRADE_REFUSED") f.code = "DOCKER_API_ERROR";  // the Engine said no
                          done(std::move(f));
                        });
  });
}

void engine::start_exec_detached(const std::string& exec_id, callback<void> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.signal;
  std::string target = "/exec/" + percent_encode(exec_id) + "/start";
  std::string operation = "start exec " + short_id(exec_id);
  versioned([r, ep, deadline, target = std::move(target), operation = std::move(operation),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    std::string body = nlohmann::json{{"Detach", true}, {"Tty", false}}.dump();
    http::async_call(*r, ep, versioned_request(version.value(), "POST", target, std::move(body), deadline),
                     expect(operation, {200, 204}, std::move(done)));
  });
}

void engine::resize_exec(const std::string& exec_id, unsigned rows, unsigned cols, callback<void> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.http;
  std::string target = "/exec/" + percent_encode(exec_id) + "/resize?h=" + std::to_string(rows) +
                       "&w=" + std::to_string(cols);
  std::string operation = "resize exec " + short_id(exec_id);
  versioned([r, ep, deadline, target = std::move(target), operation = std::move(operation),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    http::async_call(*r, ep, versioned_request(version.value(), "POST", target, "", deadline),
                     expect(operation, {200, 201, 204}, std::move(done)));
  });
}

void engine::inspect_exec(const std::string& exec_id, callback<exec_state> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.http;
  std::string target = "/exec/" + percent_encode(exec_id) + "/json";
  std::string operation = "inspect exec " + short_id(exec_id);
  versioned([r, ep, deadline, target = std::move(target), operation = std::move(operation),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    http::async_call(*r, ep, versioned_request(version.value(), "GET", target, "", deadline),
                     [operation, done = std::move(done)](result<http::response> resp) {
                       if (!resp) return done(during(operation, resp.error()));
                       if (resp->status != 200) return done(engine_error(operation, *resp));
                       auto said = answers::read_exec_info(resp->body, operation);
                       if (!said) return done(said.error());
                       exec_state state;
                       state.running = said->running;
                       state.exit_code = said->exit_code;
                       state.pid = said->pid;
                       done(state);
                     });
  });
}

}  // namespace cssh::docker
