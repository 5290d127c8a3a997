#include "docker/engine.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>
#include <optional>
#include <utility>

namespace cssh::docker {

struct engine::state {
  std::mutex mu;
  std::string api_version;
};

namespace {

// Pulls stream progress for minutes on big images; the normal call deadline would cut them off.
constexpr std::chrono::minutes pull_timeout{10};
constexpr std::size_t max_error_text = 512;
// The Engine answers /_ping without Api-Version only when it is older than API 1.25; the Docker
// CLI falls back to this version then, and so do we.
constexpr const char* version_without_header = "1.24";

/// Percent-encodes everything but RFC 3986 unreserved characters plus `keep`.
std::string percent_encode(std::string_view text, std::string_view keep = "") {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || keep.find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

/// A container id or name as one path segment (a "/" must not open a new segment).
std::string segment(std::string_view id) { return percent_encode(id); }

/// Short form for messages: ids are 64 hex digits, the first 12 identify them for people.
std::string short_id(const std::string& id) { return id.size() == 64 ? id.substr(0, 12) : id; }

/// "1.41" -> {1, 41}; nullopt when the text is not major.minor.
std::optional<std::pair<int, int>> parse_version(std::string_view text) {
  auto dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  int major = 0;
  int minor = 0;
  auto a = std::from_chars(text.data(), text.data() + dot, major);
  auto b = std::from_chars(text.data() + dot + 1, text.data() + text.size(), minor);
  if (a.ec != std::errc() || a.ptr != text.data() + dot || b.ec != std::errc() || b.ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return std::pair{major, minor};
}

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

/// The Engine's {"message": ...}, else the raw body (shortened), else a placeholder.
std::string engine_message(const std::string& body) {
  auto parsed = nlohmann::json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
    return parsed["message"].get<std::string>();
  }
  std::string text = body;
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.size() > max_error_text) text = text.substr(0, max_error_text) + "...";
  return text.empty() ? "(no message)" : text;
}

/// A transport failure keeps its code (HTTP_TIMEOUT, ...) and gains the operation's name.
failure during(const std::string& operation, failure f) {
  f.message = operation + ": " + f.message;
  return f;
}

failure bad_answer(const std::string& operation, const std::string& what) {
  return fail("DOCKER_API_ERROR", operation + ": unexpected Engine answer: " + what);
}

struct call_spec {
  std::string method;
  std::string target;
  std::string body;
  std::chrono::milliseconds timeout;
  std::vector<std::pair<std::string, std::string>> headers;
};

void send(http::reactor& r, const http::endpoint& ep, call_spec spec, http::response_handler done) {
  http::request req;
  req.method = std::move(spec.method);
  req.target = std::move(spec.target);
  req.body = std::move(spec.body);
  req.timeout = spec.timeout;
  req.headers = std::move(spec.headers);
  http::async_call(r, ep, std::move(req), std::move(done));
}

/// For calls whose only interesting outcome is "it worked": any status in `ok` succeeds.
http::response_handler expect_status(std::string operation, std::vector<unsigned> ok, callback<void> done) {
  return [operation = std::move(operation), ok = std::move(ok), done = std::move(done)](result<http::response> r) {
    if (!r) return done(during(operation, r.error()));
    if (std::find(ok.begin(), ok.end(), r->status) == ok.end()) return done(engine_error(operation, *r));
    done(result<void>{});
  };
}

/// Scans a pull's progress stream (one JSON object per line) for the error that ends a pull.
std::optional<std::string> pull_stream_error(const std::string& body) {
  std::size_t start = 0;
  while (start < body.size()) {
    auto end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    auto line = nlohmann::json::parse(body.begin() + static_cast<std::ptrdiff_t>(start),
                                      body.begin() + static_cast<std::ptrdiff_t>(end), nullptr, false);
    start = end + 1;
    if (!line.is_object()) continue;
    if (line.contains("error") && line["error"].is_string()) return line["error"].get<std::string>();
    if (line.contains("errorDetail") && line["errorDetail"].is_object()) {
      auto& detail = line["errorDetail"];
      if (detail.contains("message") && detail["message"].is_string()) return detail["message"].get<std::string>();
    }
  }
  return std::nullopt;
}

}  // namespace

failure engine_error(const std::string& operation, const http::response& resp) {
  return fail("DOCKER_API_ERROR",
              operation + ": Engine answered " + std::to_string(resp.status) + ": " + engine_message(resp.body));
}

engine::engine(http::reactor& reactor, http::endpoint ep, std::chrono::milliseconds call_timeout)
    : reactor_(reactor), endpoint_(std::move(ep)), call_timeout_(call_timeout), state_(std::make_shared<state>()) {}

std::string engine::api_version() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->api_version;
}

void engine::set_api_version(std::string version) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->api_version = std::move(version);
}

std::string engine::path(const std::string& p) const {
  auto version = api_version();
  return version.empty() ? p : "/v" + version + p;
}

void engine::negotiate(callback<std::string> done) {
  // Completions capture the shared state, never `this`: the engine may go away first.
  send(reactor_, endpoint_, {"GET", "/_ping", "", call_timeout_, {}},
       [st = state_, done = std::move(done)](result<http::response> r) {
         const std::string operation = "negotiate API version";
         if (!r) return done(during(operation, r.error()));
         if (r->status != 200) return done(engine_error(operation, *r));
         std::string offered = r->header("Api-Version");
         if (offered.empty()) offered = version_without_header;
         auto theirs = parse_version(offered);
         auto ours = parse_version(newest_api_version);
         if (!theirs) return done(bad_answer(operation, "Api-Version \"" + offered + "\" is not major.minor"));
         std::string chosen = *theirs < *ours ? offered : std::string(newest_api_version);
         {
           std::lock_guard<std::mutex> lock(st->mu);
           st->api_version = chosen;
         }
         done(std::move(chosen));
       });
}

void engine::image_exists(const std::string& image, callback<bool> done) {
  // Image names keep their "/" and ":" in the path, as the Engine's router expects.
  send(reactor_, endpoint_, {"GET", path("/images/" + percent_encode(image, "/:@") + "/json"), "", call_timeout_, {}},
       [operation = "inspect image " + image, done = std::move(done)](result<http::response> r) {
         if (!r) return done(during(operation, r.error()));
         if (r->status == 200) return done(true);
         if (r->status == 404) return done(false);
         done(engine_error(operation, *r));
       });
}

void engine::pull_image(const std::string& image, const std::string& registry_auth_b64, callback<void> done) {
  auto [repo, tag] = split_reference(image);
  call_spec spec{"POST", path("/images/create?fromImage=" + percent_encode(repo) + "&tag=" + percent_encode(tag)), "",
                 std::max<std::chrono::milliseconds>(call_timeout_, pull_timeout), {}};
  if (!registry_auth_b64.empty()) spec.headers.emplace_back("X-Registry-Auth", registry_auth_b64);
  send(reactor_, endpoint_, std::move(spec), [operation = "pull image " + image, done = std::move(done)](result<http::response> r) {
    if (!r) return done(during(operation, r.error()));
    if (r->status != 200) return done(engine_error(operation, *r));
    // The Engine says 200 before it starts; a failed pull shows up only inside the stream.
    if (auto error = pull_stream_error(r->body)) return done(fail("DOCKER_PULL_FAILED", operation + ": " + *error));
    done(result<void>{});
  });
}

void engine::create_container(const nlohmann::json& body, const std::string& name, callback<std::string> done) {
  std::string target = "/containers/create";
  if (!name.empty()) target += "?name=" + percent_encode(name);
  // replace, not throw, on invalid UTF-8 (environment values come from clients).
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  send(reactor_, endpoint_, {"POST", path(target), std::move(text), call_timeout_, {}},
       [done = std::move(done)](result<http::response> r) {
         const std::string operation = "create container";
         if (!r) return done(during(operation, r.error()));
         if (r->status != 201 && r->status != 200) return done(engine_error(operation, *r));
         auto answer = nlohmann::json::parse(r->body, nullptr, false);
         if (!answer.is_object() || !answer.contains("Id") || !answer["Id"].is_string()) {
           return done(bad_answer(operation, "no \"Id\" in " + engine_message(r->body)));
         }
         done(answer["Id"].get<std::string>());
       });
}

void engine::attach_container(const std::string& id, callback<std::shared_ptr<http::upgraded_stream>> done) {
  http::request req;
  req.method = "POST";
  req.target = path("/containers/" + segment(id) + "/attach?stream=1&stdin=1&stdout=1&stderr=1");
  // The deadline covers connect and the response header only; the stream itself has none.
  req.timeout = call_timeout_;
  http::async_upgrade(reactor_, endpoint_, std::move(req),
                      [operation = "attach container " + short_id(id), done = std::move(done)](
                          result<std::shared_ptr<http::upgraded_stream>> r) {
                        if (r) return done(std::move(r).value());
                        auto f = during(operation, r.error());
                        if (f.code == "HTTP_UPGRADE_REFUSED") f.code = "DOCKER_API_ERROR";  // the Engine said no
                        done(std::move(f));
                      });
}

void engine::start_container(const std::string& id, callback<void> done) {
  // 304: already started, which is what the caller wanted.
  send(reactor_, endpoint_, {"POST", path("/containers/" + segment(id) + "/start"), "", call_timeout_, {}},
       expect_status("start container " + short_id(id), {204, 304}, std::move(done)));
}

void engine::wait_container(const std::string& id, callback<std::int64_t> done) {
  send(reactor_, endpoint_,
       {"POST", path("/containers/" + segment(id) + "/wait?condition=not-running"), "", std::chrono::milliseconds{0}, {}},
       [operation = "wait for container " + short_id(id), done = std::move(done)](result<http::response> r) {
         if (!r) return done(during(operation, r.error()));
         if (r->status != 200) return done(engine_error(operation, *r));
         auto answer = nlohmann::json::parse(r->body, nullptr, false);
         if (!answer.is_object() || !answer.contains("StatusCode") || !answer["StatusCode"].is_number_integer()) {
           return done(bad_answer(operation, "no \"StatusCode\" in " + engine_message(r->body)));
         }
         // "Error" is null, absent, or {"Message": ""} when the wait itself went fine.
         if (answer.contains("Error") && answer["Error"].is_object()) {
           auto& err = answer["Error"];
           if (err.contains("Message") && err["Message"].is_string() && !err["Message"].get<std::string>().empty()) {
             return done(fail("DOCKER_API_ERROR", operation + ": " + err["Message"].get<std::string>()));
           }
         }
         done(answer["StatusCode"].get<std::int64_t>());
       });
}

void engine::resize_container(const std::string& id, unsigned rows, unsigned cols, callback<void> done) {
  send(reactor_, endpoint_,
       {"POST",
        path("/containers/" + segment(id) + "/resize?h=" + std::to_string(rows) + "&w=" + std::to_string(cols)), "",
        call_timeout_, {}},
       expect_status("resize container " + short_id(id), {200, 204}, std::move(done)));
}

void engine::kill_container(const std::string& id, const std::string& signal, callback<void> done) {
  std::string target = "/containers/" + segment(id) + "/kill";
  if (!signal.empty()) target += "?signal=" + percent_encode(signal);
  send(reactor_, endpoint_, {"POST", path(target), "", call_timeout_, {}},
       expect_status("kill container " + short_id(id) + (signal.empty() ? "" : " with " + signal), {204},
                     std::move(done)));
}

void engine::remove_container(const std::string& id, callback<void> done) {
  // 404: already gone, which is what removal wants; cleanup paths may race each other.
  send(reactor_, endpoint_, {"DELETE", path("/containers/" + segment(id) + "?force=1&v=1"), "", call_timeout_, {}},
       expect_status("remove container " + short_id(id), {204, 200, 404}, std::move(done)));
}

void engine::list_containers_with_label(const std::string& label, callback<std::vector<std::string>> done) {
  nlohmann::json filters = {{"label", nlohmann::json::array({label})}};
  std::string target = "/containers/json?all=1&filters=" +
                       percent_encode(filters.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  send(reactor_, endpoint_, {"GET", path(target), "", call_timeout_, {}},
       [operation = "list containers labelled " + label, done = std::move(done)](result<http::response> r) {
         if (!r) return done(during(operation, r.error()));
         if (r->status != 200) return done(engine_error(operation, *r));
         auto answer = nlohmann::json::parse(r->body, nullptr, false);
         if (!answer.is_array()) return done(bad_answer(operation, "not a list: " + engine_message(r->body)));
         std::vector<std::string> ids;
         for (const auto& c : answer) {
           if (c.is_object() && c.contains("Id") && c["Id"].is_string()) ids.push_back(c["Id"].get<std::string>());
         }
         done(std::move(ids));
       });
}

}  // namespace cssh::docker
