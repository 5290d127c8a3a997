#include "protocol/webhook/client.hpp"

#include <algorithm>

#include "protocol/http/tls.hpp"

namespace cssh::webhook {
namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int max_redirects = 10;  // as Go's http.Client
// Below this, another call could not even connect: give up instead of racing the deadline.
constexpr milliseconds min_call_time{50};

std::string path_of_url(const std::string& url) {
  auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return "";
  auto slash = url.find('/', scheme_end + 3);
  return slash == std::string::npos ? "" : url.substr(slash);
}

long long ms_between(clock::time_point from, clock::time_point to) {
  return std::chrono::duration_cast<milliseconds>(to - from).count();
}

/// One webhook call with its retries; lives as long as a completion refers to it.
class call_state : public std::enable_shared_from_this<call_state> {
 public:
  call_state(http::reactor& reactor, std::shared_ptr<const client> target, call c,
             std::function<void(result<std::string>)> done)
      : reactor_(reactor), target_(std::move(target)), call_(std::move(c)), done_(std::move(done)) {
    endpoint_ = target_->endpoint;
    if (call_.path.empty()) {
      target_path_ = target_->path_as_given.empty() ? "/" : target_->path_as_given;
    } else {
      target_path_ = target_->endpoint.base_path + call_.path;
    }
    method_ = "POST";
    body_ = call_.body;
    started_ = clock::now();
  }

  void attempt() {
    auto left = std::chrono::duration_cast<milliseconds>(call_.deadline - clock::now());
    if (left < min_call_time) return give_up("no time left before the login's deadline");
    ++attempts_;
    http::request req;
    req.method = method_;
    req.target = target_path_;
    req.body = body_;
    req.timeout = std::min(target_->timeout, left);
    req.headers.emplace_back("Accept", "application/json");
    auto self = shared_from_this();
    http::async_call(reactor_, endpoint_, std::move(req), [self](result<http::response> r) { self->on_answer(std::move(r)); });
  }

 private:
  std::string where() const { return endpoint_.describe() + target_path_; }

  void on_answer(result<http::response> r) {
    if (!r) {
      // The transport's message names the endpoint and the request line already.
      return retry_or_give_up(r.error().message, r.error().code == "HTTP_CANCELLED");
    }
    const unsigned status = r->status;
    if (status == 200) return finish(std::move(r->body));
    if (status >= 300 && status < 400) return on_redirect(*r);
    std::string reason = where() + " answered HTTP " + std::to_string(status);
    if (status >= 500) return retry_or_give_up(reason, false);
    report(reason, false, milliseconds(0));
    give_up_with(reason + " (not retried: only network errors and 5xx answers are)");
  }

  void on_redirect(const http::response& r) {
    const unsigned status = r.status;
    std::string location = r.header("Location");
    std::string reason = where() + " answered HTTP " + std::to_string(status) + " (redirect" +
                         (location.empty() ? "" : " to " + location) + ")";
    if (!target_->allow_redirects) {
      report(reason, false, milliseconds(0));
      return give_up_with(reason + ", and redirects are not followed (set allowRedirects: true to follow them)");
    }
    if (location.empty() || ++redirects_ > max_redirects) {
      report(reason, false, milliseconds(0));
      return give_up_with(reason + (location.empty() ? ", without a Location" : ", after too many redirects"));
    }
    // Go's rules, which ContainerSSH inherits: 307/308 repeat the request, the others turn into GET.
    if (status != 307 && status != 308) {
      method_ = "GET";
      body_.clear();
    }
    if (location.front() == '/') {
      target_path_ = location;
    } else {
      std::string query;
      if (auto q = location.find_first_of("?#"); q != std::string::npos) {
        query = location.substr(q);
        location.erase(q);
      }
      auto ep = http::parse_url(location);
      if (!ep) {
        report(reason, false, milliseconds(0));
        return give_up_with(reason + ", whose Location cannot be followed: " + ep.error().message);
      }
      http::endpoint next = ep.value();
      if (next.tls) next.tls_ctx = target_->endpoint.tls_ctx;  // the same trust settings, as Go's transport
      endpoint_ = next;
      target_path_ = (next.base_path.empty() ? "/" : next.base_path) + query;
    }
    --attempts_;  // a redirect is part of the same attempt
    attempt();
  }

  void retry_or_give_up(const std::string& reason, bool stopping) {
    if (stopping) {
      report(reason, false, milliseconds(0));
      return give_up_with(reason);
    }
    auto delay = retry_delay(attempts_);
    auto left = std::chrono::duration_cast<milliseconds>(call_.deadline - clock::now());
    if (left - delay < min_call_time) {
      report(reason, false, milliseconds(0));
      return give_up_with(reason);
    }
    report(reason, true, delay);
    auto self = shared_from_this();
    http::async_delay(reactor_, delay, [self, reason](bool fired) {
      if (!fired) return self->give_up_with(reason + " (and the HTTP reactor is stopping)");
      self->attempt();
    });
  }

  void report(const std::string& reason, bool will_retry, milliseconds retry_in) {
    if (call_.on_failed_attempt) call_.on_failed_attempt({attempts_, reason, will_retry, retry_in});
  }

  void give_up(const std::string& why) {
    if (attempts_ == 0) return give_up_with(where() + ": " + why);
    give_up_with(why);
  }

  void give_up_with(const std::string& last_reason) {
    auto elapsed = ms_between(started_, clock::now());
    finish(fail("WEBHOOK_FAILED", target_->url + ": gave up after " + std::to_string(attempts_) + " attempt" +
                                      (attempts_ == 1 ? "" : "s") + " in " + std::to_string(elapsed) + " ms; last: " +
                                      last_reason));
  }

  void finish(result<std::string> outcome) {
    if (!done_) return;
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(outcome));
  }

  http::reactor& reactor_;
  std::shared_ptr<const client> target_;
  call call_;
  std::function<void(result<std::string>)> done_;
  http::endpoint endpoint_;
  std::string target_path_;
  std::string method_;
  std::string body_;
  clock::time_point started_;
  int attempts_ = 0;
  int redirects_ = 0;
};

}  // namespace

milliseconds retry_delay(int attempts_made) {
  milliseconds delay{250};
  for (int i = 1; i < attempts_made && delay < milliseconds(10000); ++i) delay *= 2;
  return std::min(delay, milliseconds(10000));
}

result<std::shared_ptr<const client>> make_client(const client_settings& settings, const std::string& where,
                                                  std::vector<std::string>* warnings) {
  auto ep = http::parse_url(settings.url);
  if (!ep) return fail("WEBHOOK_CONFIG_INVALID", where + ".url: " + ep.error().message);
  auto out = std::make_shared<client>();
  out->endpoint = ep.value();
  out->path_as_given = path_of_url(settings.url);
  out->url = settings.url;
  out->timeout = settings.timeout;
  out->allow_redirects = settings.allow_redirects;
  bool tls_settings = !settings.cacert.empty() || !settings.cert.empty() || !settings.key.empty();
  if (out->endpoint.tls) {
    // Made once here: a bad CA file or a key that does not match stops the server at start.
    auto ctx = http::make_tls_context({settings.cacert, settings.cert, settings.key, ""});
    if (!ctx) return fail("WEBHOOK_CONFIG_INVALID", where + "." + ctx.error().message);
    out->endpoint.tls_ctx = std::move(ctx).value();
  } else if (tls_settings && warnings) {
    warnings->push_back(where + ": cacert, cert and key only apply to https:// URLs; " + settings.url +
                        " is plain HTTP, so they are not used");
  }
  return std::shared_ptr<const client>(std::move(out));
}

void post(http::reactor& reactor, std::shared_ptr<const client> target, call c,
          std::function<void(result<std::string>)> done) {
  auto state = std::make_shared<call_state>(reactor, std::move(target), std::move(c), std::move(done));
  state->attempt();
}

}  // namespace cssh::webhook
