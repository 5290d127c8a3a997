#pragma once
// The Docker Engine API operations this server uses, over protocol/http_client.
// Every call is asynchronous; completions run on a reactor thread. Each call has the
// deadline given at construction (docker.execution.timeouts.http) unless stated.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "common/result.hpp"
#include "protocol/http_client.hpp"

namespace cssh::docker {

/// The newest Engine API version this client speaks; negotiation never goes above it.
inline constexpr const char* newest_api_version = "1.41";

template <class T>
using callback = std::function<void(result<T>)>;

class engine {
 public:
  engine(http::reactor& reactor, http::endpoint ep, std::chrono::milliseconds call_timeout);

  /// GET /_ping; takes the lower of the daemon's API-Version header and newest_api_version
  /// and uses it as the "/v1.xx" prefix for every later call. Returns the chosen version.
  void negotiate(callback<std::string> done);
  /// The negotiated version ("" before negotiate succeeded; calls then go unprefixed).
  std::string api_version() const;
  /// Pins the version (tests, or operators who know their engine).
  void set_api_version(std::string version);

  /// GET /images/{name}/json: true if present, false on 404.
  void image_exists(const std::string& image, callback<bool> done);
  /// POST /images/create?fromImage=&tag=, reading the progress stream to its end; an
  /// error message in the stream is a failure.
  void pull_image(const std::string& image, const std::string& registry_auth_b64, callback<void> done);

  /// POST /containers/create[?name=]; returns the container id.
  void create_container(const nlohmann::json& body, const std::string& name, callback<std::string> done);
  /// POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1 (hijacked). No deadline
  /// once attached.
  void attach_container(const std::string& id, callback<std::shared_ptr<http::upgraded_stream>> done);
  void start_container(const std::string& id, callback<void> done);
  /// POST /containers/{id}/wait?condition=not-running, called after start, without deadline:
  /// completes when the container stops, with its exit code.
  void wait_container(const std::string& id, callback<std::int64_t> done);
  void resize_container(const std::string& id, unsigned rows, unsigned cols, callback<void> done);
  void kill_container(const std::string& id, const std::string& signal, callback<void> done);
  /// DELETE /containers/{id}?force=1&v=1; a 404 counts as success (already gone).
  void remove_container(const std::string& id, callback<void> done);
  /// GET /containers/json?all=1&filters={"label":[label]}: ids of matching containers.
  void list_containers_with_label(const std::string& label, callback<std::vector<std::string>> done);

  const http::endpoint& endpoint() const { return endpoint_; }

 private:
  std::string path(const std::string& p) const;
  struct state;
  http::reactor& reactor_;
  http::endpoint endpoint_;
  std::chrono::milliseconds call_timeout_;
  std::shared_ptr<state> state_;
};

/// Turns a non-2xx Engine answer into a failure naming the operation and the Engine's
/// own message ({"message": "..."}).
failure engine_error(const std::string& operation, const http::response& resp);

}  // namespace cssh::docker
