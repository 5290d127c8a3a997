#pragma once
// The Docker Engine API operations this server uses, over protocol/http/client.hpp.
// Every call is asynchronous; completions run on a reactor thread. Every call has a deadline
// from docker.execution.timeouts (see engine_timeouts) unless stated, and goes under the
// negotiated "/v1.xx" prefix: the first call negotiates if start-up could not.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/result.hpp"
#include "docker/api_version.hpp"
#include "protocol/http/client.hpp"

namespace cssh::docker {

/// Which deadline bounds which call (docker.execution.timeouts).
struct engine_timeouts {
  std::chrono::milliseconds http{15000};             // ping, version, inspect, list, resize
  std::chrono::milliseconds container_start{60000};  // pull, create, attach, start
  std::chrono::milliseconds container_stop{60000};   // remove
  std::chrono::milliseconds signal{60000};           // kill
  static engine_timeouts all(std::chrono::milliseconds t) { return {t, t, t, t}; }
};

/// What negotiation learned about the Engine, for logs and for messages about old Engines.
struct engine_info {
  std::string api_version;      // what requests use
  bool pinned = false;          // set by set_api_version, not negotiated
  std::string engine_version;   // "20.10.24" ("" if /version did not say)
  std::string max_api_version;  // the Engine's newest
  std::string min_api_version;  // the Engine's oldest ("" if unknown)
  /// "Docker Engine 20.10.24 (API 1.41, oldest 1.12)", or "the Docker Engine" before negotiation.
  std::string engine_text() const;
};

template <class T>
using callback = std::function<void(result<T>)>;

class engine {
 public:
  engine(http::reactor& reactor, http::endpoint ep, engine_timeouts timeouts);
  /// Every call with the same deadline (tests).
  engine(http::reactor& reactor, http::endpoint ep, std::chrono::milliseconds call_timeout);

  /// GET /_ping (its API-Version header) and GET /version (Version, ApiVersion,
  /// MinAPIVersion); takes the lower of the Engine's version and newest_api_version and uses it
  /// as the "/v1.xx" prefix for every later call. An Engine without the header (API < 1.25)
  /// is asked /version, then assumed to speak 1.24 as the Docker CLI does. With a pinned
  /// version, checks the Engine serves it. Returns the version requests use.
  void negotiate(callback<std::string> done);
  /// The version requests use ("" until negotiated or pinned).
  std::string api_version() const;
  /// Pins the version: negotiation no longer changes it (docker.connection.apiVersion, tests).
  void set_api_version(std::string version);
  engine_info info() const;
  /// Fails (DOCKER_API_TOO_OLD) naming `feature`, `min` and the Engine when the version in use
  /// is older than `min`. For callers adding requests newer than API 1.18.
  result<void> require_api(const std::string& min, const std::string& feature) const;

  /// GET /images/{name}/json: true if present, false on 404.
  void image_exists(const std::string& image, callback<bool> done);
  /// POST /images/create?fromImage=&tag= with X-Registry-Auth when given (see
  /// registry_auth.hpp), reading the progress stream as it comes: progress is logged at info
  /// level every few seconds, an error in the stream is a failure. Deadline: containerStart.
  void pull_image(const std::string& image, const std::string& registry_auth_b64, callback<void> done);

  /// POST /containers/create[?name=][&platform=os/arch[/variant]]; returns the container id.
  /// The Engine's warnings (e.g. a limit the kernel cannot apply, discarded) are logged.
  void create_container(const nlohmann::json& body, const std::string& name, callback<std::string> done,
                        const std::string& platform = {});
  /// POST /containers/{id}/attach?stream=1&stdin=1&stdout=1&stderr=1 (hijacked). No deadline
  /// once attached.
  void attach_container(const std::string& id, callback<std::shared_ptr<http::upgraded_stream>> done);
  void start_container(const std::string& id, callback<void> done);
  /// POST /containers/{id}/wait?condition=not-running (no condition before API 1.30), called
  /// after start, without deadline: completes when the container stops, with its exit code.
  /// While it waits, the Engine is pinged every `http` timeout (shared by all waits); an Engine
  /// that does not answer a ping within `http` fails every wait (DOCKER_ENGINE_UNRESPONSIVE),
  /// so a hung daemon ends its sessions instead of leaving them open forever.
  void wait_container(const std::string& id, callback<std::int64_t> done);
  void resize_container(const std::string& id, unsigned rows, unsigned cols, callback<void> done);
  void kill_container(const std::string& id, const std::string& signal, callback<void> done);
  /// DELETE /containers/{id}?force=1&v=1; a 404 counts as success (already gone).
  void remove_container(const std::string& id, callback<void> done);
  /// GET /containers/json?all=1&filters={"label":[label]}: ids of matching containers.
  void list_containers_with_label(const std::string& label, callback<std::vector<std::string>> done);

  // --- files in containers (docker/engine_archive.cpp) ---
  /// PUT /containers/{id}/archive?path=: unpacks `tar` at `path` in the container's filesystem
  /// (a created container will do; it need not run). Deadline: containerStart.
  void put_archive(const std::string& id, const std::string& path, std::string tar, callback<void> done);
  /// GET /containers/{id}/archive?path=: a tar of that file or directory; nullopt when the path
  /// does not exist (404). Deadline: http.
  void get_archive(const std::string& id, const std::string& path, callback<std::optional<std::string>> done);
  /// GET /containers/{id}/json: the Engine's description of the container. Deadline: http.
  void inspect_container(const std::string& id, callback<nlohmann::json> done);

  // --- execs in a running container (docker/engine_exec.cpp) ---
  /// POST /containers/{id}/exec with `body` (Cmd, Env, Tty, AttachStdin, ...): the exec's id.
  /// Deadline: containerStart.
  void create_exec(const std::string& container_id, const nlohmann::json& body, callback<std::string> done);
  /// POST /exec/{id}/start {"Detach": false, "Tty": tty}, hijacked: the exec's stdin and its
  /// output (Docker's multiplexed frames unless `tty`). The deadline (containerStart) covers the
  /// answer's header; the stream has none.
  void start_exec_attached(const std::string& exec_id, bool tty,
                           callback<std::shared_ptr<http::upgraded_stream>> done);
  /// POST /exec/{id}/start {"Detach": true}: runs it with no streams. Deadline: signal.
  void start_exec_detached(const std::string& exec_id, callback<void> done);
  /// POST /exec/{id}/resize?h=&w= (the exec must have a TTY). Deadline: http.
  void resize_exec(const std::string& exec_id, unsigned rows, unsigned cols, callback<void> done);
  /// What GET /exec/{id}/json says about an exec.
  struct exec_state {
    bool running = false;
    std::optional<std::int64_t> exit_code;  // absent while running
    std::int64_t pid = 0;
  };
  /// GET /exec/{id}/json. Deadline: http.
  void inspect_exec(const std::string& exec_id, callback<exec_state> done);

  // --- images and volumes (docker/engine_volume.cpp) ---
  /// POST /images/create?fromSrc=-&repo=&tag= with `tar` as the new image's root filesystem
  /// (`docker import`); an error inside the progress stream is a failure. Deadline: containerStart.
  void import_image(const std::string& repo, const std::string& tag, std::string tar, callback<void> done);
  /// GET /images/{name}/json: the Engine's description, nullopt when the image is absent. Deadline: http.
  void inspect_image(const std::string& image, callback<std::optional<nlohmann::json>> done);
  /// POST /volumes/create {Name, Labels}: creates the named volume (the Engine answers with the
  /// existing one when it exists already). Deadline: containerStart.
  void create_volume(const std::string& name, const std::map<std::string, std::string>& labels,
                     callback<void> done);
  /// GET /volumes/{name}: the Engine's description, nullopt when there is no such volume. Deadline: http.
  void inspect_volume(const std::string& name, callback<std::optional<nlohmann::json>> done);

  const http::endpoint& endpoint() const { return endpoint_; }
  const engine_timeouts& timeouts() const { return timeouts_; }

  /// Calls done(true) after `delay` on a reactor thread, or done(false) once the reactor stops
  /// (for callers that retry calls later, e.g. a removal that failed while the Engine was away).
  void after(std::chrono::milliseconds delay, std::function<void(bool fired)> done);

  struct state;      // shared with completions, which may outlive the engine object
  struct call_spec;  // one request (docker/engine_request.hpp)

 private:
  /// Runs `then` with the API version, negotiating first if there is none yet.
  void versioned(std::function<void(result<std::string>)> then);
  /// Sends a request whose target gets the version prefix: every plain call goes this way (those
  /// that need the version itself, a stream or the liveness probe use versioned and make_request).
  void call(call_spec spec, http::response_handler done);
  /// Like call, for a hijacked stream (attach, exec start): a refused upgrade is the Engine
  /// saying no (DOCKER_API_ERROR), any failure is named `operation`.
  void upgrade(call_spec spec, std::string operation, callback<std::shared_ptr<http::upgraded_stream>> done);

  http::reactor& reactor_;
  http::endpoint endpoint_;
  engine_timeouts timeouts_;
  std::shared_ptr<state> state_;
};

/// Turns a non-2xx Engine answer into a failure naming the operation and the Engine's
/// own message ({"message": "..."}).
failure engine_error(const std::string& operation, const http::response& resp);
/// A container start's failure, recoded DOCKER_PROGRAM_NOT_FOUND when the Engine says the program
/// is not there (the session then exits 127, as `docker run` does); any other stays as it is.
failure start_failure(failure f);

}  // namespace cssh::docker
