// The Engine calls that move files in and out of containers, and inspect: kept apart from
// engine.cpp so each stays one job.

#include <cctype>
#include <string_view>

#include "docker/engine.hpp"
#include "docker/engine_answers.hpp"

namespace cssh::docker {
namespace {

std::string encode_query_value(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    }
  }
  return out;
}

std::string short_id(const std::string& id) { return id.size() == 64 ? id.substr(0, 12) : id; }

failure during(const std::string& operation, failure f) {
  f.message = operation + ": " + f.message;
  return f;
}

}  // namespace

void engine::put_archive(const std::string& id, const std::string& path, std::string tar, callback<void> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.container_start;
  std::string target = "/containers/" + encode_query_value(id) + "/archive?path=" + encode_query_value(path);
  std::string operation = "write files into container " + short_id(id);
  versioned([r, ep, deadline, target = std::move(target), operation = std::move(operation), tar = std::move(tar),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    http::request req;
    req.method = "PUT";
    req.target = "/v" + version.value() + target;
    req.body = std::move(tar);
    req.headers.emplace_back("Content-Type", "application/x-tar");
    req.timeout = deadline;
    http::async_call(*r, ep, std::move(req), [operation, done = std::move(done)](result<http::response> resp) {
      if (!resp) return done(during(operation, resp.error()));
      if (resp->status != 200) return done(engine_error(operation, *resp));
      done(result<void>{});
    });
  });
}

void engine::get_archive(const std::string& id, const std::string& path, callback<std::optional<std::string>> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.http;
  std::string target = "/containers/" + encode_query_value(id) + "/archive?path=" + encode_query_value(path);
  std::string operation = "read " + path + " from container " + short_id(id);
  versioned([r, ep, deadline, target = std::move(target), operation = std::move(operation),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    http::request req;
    req.method = "GET";
    req.target = "/v" + version.value() + target;
    req.timeout = deadline;
    http::async_call(*r, ep, std::move(req), [operation, done = std::move(done)](result<http::response> resp) {
      if (!resp) return done(during(operation, resp.error()));
      if (resp->status == 404) return done(std::optional<std::string>());
      if (resp->status != 200) return done(engine_error(operation, *resp));
      done(std::optional<std::string>(std::move(resp->body)));
    });
  });
}

void engine::inspect_container(const std::string& id, callback<nlohmann::json> done) {
  auto* r = &reactor_;
  auto ep = endpoint_;
  auto deadline = timeouts_.http;
  std::string target = "/containers/" + encode_query_value(id) + "/json";
  std::string operation = "inspect container " + short_id(id);
  versioned([r, ep, deadline, target = std::move(target), operation = std::move(operation),
             done = std::move(done)](result<std::string> version) mutable {
    if (!version) return done(during(operation, version.error()));
    http::request req;
    req.method = "GET";
    req.target = "/v" + version.value() + target;
    req.timeout = deadline;
    http::async_call(*r, ep, std::move(req), [operation, done = std::move(done)](result<http::response> resp) {
      if (!resp) return done(during(operation, resp.error()));
      if (resp->status != 200) return done(engine_error(operation, *resp));
      auto j = answers::read_object(resp->body, operation);
      if (!j) return done(j.error());
      done(std::move(j).value());
    });
  });
}

}  // namespace cssh::docker
