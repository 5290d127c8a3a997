#include "docker/engine.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <utility>

#include "common/log.hpp"
#include "docker/engine_answers.hpp"
#include "docker/engine_request.hpp"
#include "docker/pull_progress.hpp"

namespace cssh::docker {

/// A call the liveness probe may have to fail: a container wait (no deadline of its own) or a
/// create (whose containerStart deadline is long; a new session on a frozen Engine should not sit
/// it out).
struct watched_call {
  std::string operation;
  std::function<void(failure)> give_up;  // delivers the probe's failure to the caller
  std::shared_ptr<http::cancellation> cancel = std::make_shared<http::cancellation>();
};

struct engine::state {
  std::mutex mu;
  std::string api_version;
  engine_info info;
  /// Create-body fields dropped for an old API, each warned about once.
  std::set<std::string> warned_drops;
  // Liveness probing while waits or creates are outstanding (see probe_engine).
  std::map<std::uint64_t, std::shared_ptr<watched_call>> watched;
  std::uint64_t next_watched = 1;
  bool probing = false;

  /// Removes the watched call and returns it if it was still pending (exactly one of its answer
  /// and the probe wins).
  std::shared_ptr<watched_call> take_watched(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(mu);
    auto it = watched.find(id);
    if (it == watched.end()) return nullptr;
    auto w = std::move(it->second);
    watched.erase(it);
    return w;
  }
};

namespace {

using answers::bad_answer;
using answers::engine_message;
using detail::api_error;
using detail::during;
using detail::expect_status;
using detail::image_path;
using detail::make_request;
using detail::percent_encode;
using detail::segment;
using detail::short_id;
// The Engine answers /_ping without Api-Version only when it is older than API 1.25; the Docker
// CLI falls back to this version then, and so do we (unless /version says more).
constexpr const char* version_without_header = "1.24";
// Pull progress reaches the log at most this often.
constexpr std::chrono::seconds pull_log_interval{2};
// Liveness probes never run more often than this, whatever the http timeout.
constexpr std::chrono::seconds min_probe_interval{1};

/// Splits an image reference into what /images/create wants: fromImage and tag. A digest goes
/// into tag too ("a@sha256:..." -> "a", "sha256:..."), as the Docker CLI sends it. A ":" before
/// the last "/" belongs to a registry port ("reg:5000/a/b" has no tag -> "latest").
std::pair<std::string, std::string> split_reference(const std::string& image) {
  if (auto at = image.find('@'); at != std::string::npos) return {image.substr(0, at), image.substr(at + 1)};
  auto slash = image.rfind('/');
  auto colon = image.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return {image.substr(0, colon), image.substr(colon + 1)};
  }
  return {image, "latest"};
}

/// Answers that mean "this Engine does not know that call or that version": worth saying which
/// Engine and which API version were involved.
bool version_trouble(const http::response& resp, const std::string& message) {
  if (resp.status == 404 && message.find("page not found") != std::string::npos) return true;
  return resp.status == 400 && (message.find("client version") != std::string::npos ||
                                message.find("API version") != std::string::npos);
}

/// A create's 404 for a missing image ("No such image: ..."), as opposed to a missing network
/// or volume, which also answer 404.
bool names_absent_image(const std::string& body) {
  std::string message = engine_message(body);
  for (auto& c : message) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return message.find("no such image") != std::string::npos;
}

/// A request before negotiation (/_ping, /version): no version prefix.
void send_unversioned(http::reactor& r, const http::endpoint& ep, std::string target, std::chrono::milliseconds timeout,
                      http::response_handler done) {
  http::async_call(r, ep, make_request({"GET", std::move(target), "", timeout}, ""), std::move(done));
}

/// One round of the liveness probe: wait, ping, and fail every pending wait if the Engine is silent.
void probe_engine(http::reactor* r, http::endpoint ep, std::chrono::milliseconds deadline,
                  std::shared_ptr<engine::state> st) {
  auto interval = std::max<std::chrono::milliseconds>(deadline, min_probe_interval);
  http::async_delay(*r, interval, [r, ep, deadline, st](bool fired) {
    {
      std::lock_guard<std::mutex> lock(st->mu);
      if (!fired || st->watched.empty()) {
        st->probing = false;
        return;
      }
    }
    send_unversioned(*r, ep, "/_ping", deadline, [r, ep, deadline, st](result<http::response> ping) {
      if (ping && ping->status == 200) return probe_engine(r, ep, deadline, st);
      std::string why = ping ? engine_error("GET /_ping", *ping).message : ping.error().message;
      std::map<std::uint64_t, std::shared_ptr<watched_call>> failed;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        failed.swap(st->watched);
        st->probing = false;
      }
      if (!failed.empty()) {
        log::error("DOCKER_ENGINE_UNRESPONSIVE",
                   "the Docker Engine stopped answering; ending the " + std::to_string(failed.size()) +
                       " session(s) waiting on it: " + why,
                   {{"host", ep.describe()}});
      }
      for (auto& [id, w] : failed) {
        w->cancel->cancel();
        w->give_up(fail("DOCKER_ENGINE_UNRESPONSIVE",
                        w->operation + ": the Docker Engine at " + ep.describe() + " stopped answering (" + why + ")"));
      }
    });
  });
}

/// Puts a call under the liveness probe (starting the probe when none runs): its id for
/// take_watched, and the cancellation to send it with. A failed probe delivers to `deliver`.
template <class T>
std::pair<std::uint64_t, std::shared_ptr<http::cancellation>> watch(const std::shared_ptr<engine::state>& st,
                                                                     std::string operation,
                                                                     std::shared_ptr<callback<T>> deliver,
                                                                     http::reactor* r, const http::endpoint& ep,
                                                                     std::chrono::milliseconds probe_deadline) {
  auto w = std::make_shared<watched_call>();
  w->operation = std::move(operation);
  w->give_up = [deliver](failure f) { (*deliver)(std::move(f)); };
  std::uint64_t id = 0;
  bool start_probe = false;
  {
    std::lock_guard<std::mutex> lock(st->mu);
    id = st->next_watched++;
    st->watched.emplace(id, w);
    start_probe = !std::exchange(st->probing, true);
  }
  if (start_probe) probe_engine(r, ep, probe_deadline, st);
  return {id, w->cancel};
}

}  // namespace

namespace detail {

failure api_error(engine::state& st, const std::string& operation, const http::response& resp) {
  failure f = engine_error(operation, resp);
  if (!version_trouble(resp, engine_message(resp.body))) return f;
  engine_info info;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    info = st.info;
  }
  std::string version = info.api_version.empty() ? "(not negotiated)" : info.api_version;
  f.message += " (" + info.engine_text() + "; this connection speaks API " + version + ")";
  return f;
}

http::response_handler expect_status(std::shared_ptr<engine::state> st, std::string operation, std::vector<unsigned> ok,
                                     callback<void> done) {
  return [st = std::move(st), operation = std::move(operation), ok = std::move(ok), done = std::move(done)](
             result<http::response> r) {
    if (!r) return done(during(operation, r.error()));
    if (std::find(ok.begin(), ok.end(), r->status) == ok.end()) return done(api_error(*st, operation, *r));
    done(result<void>{});
  };
}

}  // namespace detail

std::string engine_info::engine_text() const {
  if (engine_version.empty() && max_api_version.empty()) return "the Docker Engine";
  std::string text = "Docker Engine";
  if (!engine_version.empty()) text += " " + engine_version;
  if (!max_api_version.empty()) {
    text += " (API " + max_api_version;
    if (!min_api_version.empty()) text += ", oldest " + min_api_version;
    text += ")";
  }
  return text;
}

failure engine_error(const std::string& operation, const http::response& resp) {
  return fail("DOCKER_API_ERROR",
              operation + ": Engine answered " + std::to_string(resp.status) + ": " + engine_message(resp.body));
}

failure start_failure(failure f) {
  // The runtime's words for a program that is not there. Told apart here, at the edge and only
  // for a start (where `docker run` tells them apart too), so the session's exit status (127)
  // follows from the code and no caller searches the text.
  const bool program_missing = f.message.find("executable file not found") != std::string::npos ||
                               f.message.find("no such file or directory") != std::string::npos;
  if (f.code == "DOCKER_API_ERROR" && program_missing) f.code = "DOCKER_PROGRAM_NOT_FOUND";
  return f;
}

engine::engine(http::reactor& reactor, http::endpoint ep, engine_timeouts timeouts)
    : reactor_(reactor), endpoint_(std::move(ep)), timeouts_(timeouts), state_(std::make_shared<state>()) {}

engine::engine(http::reactor& reactor, http::endpoint ep, std::chrono::milliseconds call_timeout)
    : engine(reactor, std::move(ep), engine_timeouts::all(call_timeout)) {}

std::string engine::api_version() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->api_version;
}

void engine::set_api_version(std::string version) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->api_version = version;
  state_->info.api_version = std::move(version);
  state_->info.pinned = true;
}

engine_info engine::info() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->info;
}

result<void> engine::require_api(const std::string& min, const std::string& feature) const {
  auto i = info();
  if (i.api_version.empty() || !api_older(i.api_version, min)) return {};
  return fail("DOCKER_API_TOO_OLD", feature + " needs Engine API " + min + ", but this connection speaks API " +
                                        i.api_version + " (" + i.engine_text() + ")");
}

void engine::negotiate(callback<std::string> done) {
  // Completions capture the shared state, never `this`: the engine may go away first.
  auto st = state_;
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.http;
  const std::string operation = "negotiate API version";
  send_unversioned(*r, ep, "/_ping", deadline,
       [st, r, ep, deadline, operation, done = std::move(done)](result<http::response> ping) {
         if (!ping) return done(during(operation, ping.error()));
         if (ping->status != 200) return done(engine_error(operation, *ping));
         std::string offered = ping->header("Api-Version");
         send_unversioned(*r, ep, "/version", deadline,
              [st, operation, offered, done](result<http::response> ver) mutable {
                engine_info found;
                // /version is only for the record (and old Engines' version); its failure is not fatal.
                if (ver && ver->status == 200) {
                  auto said = answers::read_version(ver->body);
                  found.engine_version = said.engine_version;
                  found.max_api_version = said.max_api_version;
                  found.min_api_version = said.min_api_version;
                }
                if (offered.empty()) offered = found.max_api_version.empty() ? version_without_header : found.max_api_version;
                if (!parse_api_version(offered)) {
                  return done(bad_answer(operation, "Api-Version \"" + offered + "\" is not major.minor"));
                }
                found.max_api_version = offered;
                std::string chosen;
                std::optional<failure> refused;
                {
                  std::lock_guard<std::mutex> lock(st->mu);
                  found.pinned = st->info.pinned;
                  if (found.pinned) {
                    chosen = st->api_version;
                    if (api_older(offered, chosen)) {
                      refused = fail("DOCKER_API_VERSION_UNSUPPORTED",
                                     operation + ": the pinned API version " + chosen + " is newer than " +
                                         found.engine_text() + " serves");
                    } else if (!found.min_api_version.empty() && api_older(chosen, found.min_api_version)) {
                      refused = fail("DOCKER_API_VERSION_UNSUPPORTED",
                                     operation + ": the pinned API version " + chosen + " is older than " +
                                         found.engine_text() + " serves");
                    }
                  } else {
                    chosen = api_older(offered, newest_api_version) ? offered : std::string(newest_api_version);
                    st->api_version = chosen;
                  }
                  found.api_version = chosen;
                  st->info = found;
                }
                if (refused) return done(*refused);
                done(std::move(chosen));
              });
       });
}

void engine::versioned(std::function<void(result<std::string>)> then) {
  auto version = api_version();
  if (!version.empty()) return then(std::move(version));
  negotiate(std::move(then));
}

void engine::call(call_spec spec, http::response_handler done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  versioned([r, ep, spec = std::move(spec), done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(version.error());
    http::async_call(*r, ep, make_request(std::move(spec), version.value()), std::move(done));
  });
}

void engine::upgrade(call_spec spec, std::string operation, callback<std::shared_ptr<http::upgraded_stream>> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  versioned([r, ep, spec = std::move(spec), operation = std::move(operation),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    http::async_upgrade(*r, ep, make_request(std::move(spec), version.value()),
                        [operation, done](result<std::shared_ptr<http::upgraded_stream>> stream) {
                          if (stream) return done(std::move(stream).value());
                          auto f = during(operation, stream.error());
                          if (f.code == "HTTP_UPGRADE_REFUSED") f.code = "DOCKER_API_ERROR";  // the Engine said no
                          done(std::move(f));
                        });
  });
}

void engine::image_exists(const std::string& image, callback<bool> done) {
  call({"GET", image_path(image) + "/json", "", timeouts_.http},
       [st = state_, operation = "inspect image " + image, done = std::move(done)](result<http::response> r) {
         if (!r) return done(during(operation, r.error()));
         if (r->status == 200) return done(true);
         if (r->status == 404) return done(false);
         done(api_error(*st, operation, *r));
       });
}

void engine::pull_image(const std::string& image, const std::string& registry_auth_b64, callback<void> done) {
  auto [repo, tag] = split_reference(image);
  std::vector<std::pair<std::string, std::string>> headers;
  if (!registry_auth_b64.empty()) headers.emplace_back("X-Registry-Auth", registry_auth_b64);
  call_spec spec{"POST", "/images/create?fromImage=" + percent_encode(repo) + "&tag=" + percent_encode(tag), "",
                 timeouts_.container_start, std::move(headers)};
  auto* r = &reactor_;
  auto ep = endpoint_;
  versioned([st = state_, r, ep, image, spec = std::move(spec),
             done = std::move(done)](result<std::string> version) mutable {
    const std::string operation = "pull image " + image;
    if (!version) return done(during(operation, version.error()));
    struct pull_state {
      pull_progress progress;
      std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
      std::chrono::steady_clock::time_point last_log = started;
      std::uint64_t logged_lines = 0;
    };
    auto pull = std::make_shared<pull_state>();
    // Pieces arrive one after another on the call's strand: no lock needed for `pull`.
    auto on_body = [pull, image](std::string_view piece) {
      pull->progress.feed(piece);
      auto now = std::chrono::steady_clock::now();
      if (now - pull->last_log >= pull_log_interval && pull->progress.lines() != pull->logged_lines) {
        pull->last_log = now;
        pull->logged_lines = pull->progress.lines();
        log::info("DOCKER_IMAGE_PULL_PROGRESS", "pulling image " + image + ": " + pull->progress.summary(),
                  {{"image", image}});
      }
    };
    http::async_call_streamed(
        *r, ep, make_request(std::move(spec), version.value()), std::move(on_body),
        [st, pull, operation, image, done = std::move(done)](result<http::response> resp) {
          if (!resp) return done(during(operation, resp.error()));
          if (resp->status != 200) return done(api_error(*st, operation, *resp));
          // The Engine says 200 before it starts; a failed pull shows up only inside the stream.
          pull->progress.finish();
          if (const auto& error = pull->progress.error()) return done(fail("DOCKER_PULL_FAILED", operation + ": " + *error));
          auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - pull->started);
          const std::string& status = pull->progress.final_status();
          log::info("DOCKER_IMAGE_PULLED",
                    "pulled image " + image + " in " + std::to_string(ms.count()) + " ms: " +
                        (status.empty() ? pull->progress.summary() : status),
                    {{"image", image}});
          done(result<void>{});
        });
  });
}

void engine::create_container(const nlohmann::json& body, const std::string& name, callback<std::string> done,
                              const std::string& platform) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.container_start;
  auto probe_deadline = timeouts_.http;
  versioned([st = state_, r, ep, deadline, probe_deadline, body, name, platform,
             done = std::move(done)](result<std::string> version) {
    const std::string operation = "create container";
    if (!version) return done(during(operation, version.error()));
    const std::string& v = version.value();
    std::string engine_text;
    {
      std::lock_guard<std::mutex> lock(st->mu);
      engine_text = st->info.engine_text();
    }
    if (!platform.empty() && api_older(v, "1.41")) {
      return done(fail("DOCKER_API_TOO_OLD", operation + ": platform needs Engine API 1.41, but this connection speaks API " +
                                                 v + " (" + engine_text + ")"));
    }
    std::vector<std::string> dropped;
    auto adapted = adapt_create_body(body, v, engine_text, dropped);
    if (!adapted) return done(during(operation, adapted.error()));
    for (const auto& field : dropped) {
      bool first = false;
      {
        std::lock_guard<std::mutex> lock(st->mu);
        first = st->warned_drops.insert(field).second;
      }
      if (first) {
        log::warning("DOCKER_API_FIELD_DROPPED",
                     "API " + v + " (" + engine_text + ") does not know " + field + "; containers are created without it");
      }
    }
    std::string target = "/containers/create";
    if (!name.empty()) target += "?name=" + percent_encode(name);
    if (!platform.empty()) target += (name.empty() ? "?platform=" : "&platform=") + percent_encode(platform);
    // replace, not throw, on invalid UTF-8 (environment values come from clients).
    std::string text = adapted.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // Under the liveness probe: on an Engine that stopped answering, a new session fails within
    // about twice `http` instead of sitting out containerStart. (Were the Engine only slow, a
    // container it still makes is an orphan the start-up reaper removes.)
    auto deliver = std::make_shared<callback<std::string>>(std::move(done));
    auto [create_id, cancel] = watch(st, operation, deliver, r, ep, probe_deadline);
    http::async_call(
        *r, ep, make_request({"POST", std::move(target), std::move(text), deadline, {}, cancel}, v),
        [st, operation, deliver, create_id = create_id](result<http::response> resp) {
          if (!st->take_watched(create_id)) return;  // the liveness probe failed it already
          auto& done = *deliver;
          if (!resp) return done(during(operation, resp.error()));
          if (resp->status == 404 && names_absent_image(resp->body)) {
            // Not an Engine fault: the pull policy (docker/image_policy.cpp) decides what follows.
            failure absent = engine_error(operation, *resp);
            absent.code = "DOCKER_IMAGE_ABSENT";
            return done(absent);
          }
          if (resp->status != 201 && resp->status != 200) return done(api_error(*st, operation, *resp));
          auto answer = answers::read_created(resp->body, operation);
          if (!answer) return done(answer.error());
          // The Engine discards some settings it cannot apply and only says so here.
          for (const auto& warning : answer->warnings)
            log::warning("DOCKER_CREATE_WARNING", "the Docker Engine warns: " + warning, {{"containerId", answer->id}});
          done(answer->id);
        });
  });
}

void engine::attach_container(const std::string& id, callback<std::shared_ptr<http::upgraded_stream>> done) {
  // The deadline covers connect and the response header only; the stream itself has none.
  upgrade({"POST", "/containers/" + segment(id) + "/attach?stream=1&stdin=1&stdout=1&stderr=1", "",
           timeouts_.container_start},
          "attach container " + short_id(id), std::move(done));
}

void engine::after(std::chrono::milliseconds delay, std::function<void(bool fired)> done) {
  http::async_delay(reactor_, delay, std::move(done));
}

void engine::start_container(const std::string& id, callback<void> done) {
  // 304: already started, which is what the caller wanted.
  call({"POST", "/containers/" + segment(id) + "/start", "", timeouts_.container_start},
       expect_status(state_, "start container " + short_id(id), {204, 304}, [done = std::move(done)](result<void> r) {
         if (!r) return done(start_failure(r.error()));
         done(std::move(r));
       }));
}

void engine::wait_container(const std::string& id, callback<std::int64_t> done) {
  auto st = state_;
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto probe_deadline = timeouts_.http;
  const std::string operation = "wait for container " + short_id(id);
  versioned([st, r, ep, probe_deadline, id, operation, done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    auto deliver = std::make_shared<callback<std::int64_t>>(std::move(done));
    auto [wait_id, cancel] = watch(st, operation, deliver, r, ep, probe_deadline);
    std::string target = "/containers/" + segment(id) + "/wait";
    if (wait_condition_supported(version.value())) target += "?condition=not-running";
    http::async_call(
        *r, ep,
        make_request({"POST", std::move(target), "", std::chrono::milliseconds{0}, {}, cancel}, version.value()),
        [st, wait_id = wait_id, operation, deliver](result<http::response> resp) {
          // The liveness probe may have failed this wait already.
          if (!st->take_watched(wait_id)) return;
          if (!resp) return (*deliver)(during(operation, resp.error()));
          if (resp->status != 200) return (*deliver)(api_error(*st, operation, *resp));
          (*deliver)(answers::read_wait(resp->body, operation));
        });
  });
}

void engine::resize_container(const std::string& id, unsigned rows, unsigned cols, callback<void> done) {
  call({"POST", "/containers/" + segment(id) + "/resize?h=" + std::to_string(rows) + "&w=" + std::to_string(cols), "",
        timeouts_.http},
       expect_status(state_, "resize container " + short_id(id), {200, 204}, std::move(done)));
}

void engine::kill_container(const std::string& id, const std::string& signal, callback<void> done) {
  std::string target = "/containers/" + segment(id) + "/kill";
  if (!signal.empty()) target += "?signal=" + percent_encode(signal);
  call({"POST", std::move(target), "", timeouts_.signal},
       expect_status(state_, "kill container " + short_id(id) + (signal.empty() ? "" : " with " + signal), {204},
                     std::move(done)));
}

void engine::remove_container(const std::string& id, callback<void> done) {
  // 404: already gone, which is what removal wants; cleanup paths may race each other.
  call({"DELETE", "/containers/" + segment(id) + "?force=1&v=1", "", timeouts_.container_stop},
       expect_status(state_, "remove container " + short_id(id), {204, 200, 404}, std::move(done)));
}

void engine::list_containers_with_label(const std::string& label, callback<std::vector<std::string>> done) {
  nlohmann::json filters = {{"label", nlohmann::json::array({label})}};
  std::string target = "/containers/json?all=1&filters=" +
                       percent_encode(filters.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  call({"GET", std::move(target), "", timeouts_.http},
       [st = state_, operation = "list containers labelled " + label, done = std::move(done)](result<http::response> r) {
         if (!r) return done(during(operation, r.error()));
         if (r->status != 200) return done(api_error(*st, operation, *r));
         done(answers::read_container_ids(r->body, operation));
       });
}

}  // namespace cssh::docker
