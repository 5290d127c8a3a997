// The actors without a Docker Engine: the login sequence against stand-in auth and config
// actors, a channel's ending against a recording SSH session, and the container supervisor's
// cleanup against a fake Engine. Everything runs on CAF's deterministic test coordinator
// (actor_test_fixture.hpp): each test decides when messages are handled.

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actor_test_fixture.hpp"
#include "actors/channel_actor.hpp"
#include "actors/container_supervisor.hpp"
#include "actors/exit_codes.hpp"
#include "actors/login_sequence.hpp"
#include "actors/resource_limits.hpp"
#include "actors/server_context.hpp"
#include "integration/fake_engine.hpp"

using namespace cssh;
using namespace cssh::actors;
using namespace std::chrono_literals;

namespace {

/// What the stand-in backends were asked, in order.
struct call_log {
  std::vector<std::string> calls;
};

/// The auth actor's interface, answering from a script: the credential with `credential`,
/// authz with `authz`.
auth_actor::behavior_type scripted_auth(std::shared_ptr<call_log> log, auth_verdict credential, auth_verdict authz) {
  return {
      [=](password_check& c) {
        log->calls.push_back("password:" + c.username);
        return credential;
      },
      [=](pubkey_check& c) {
        log->calls.push_back("pubkey:" + c.username);
        return credential;
      },
      [=](authz_check& c) {
        log->calls.push_back("authz:" + c.authenticated_username);
        return authz;
      },
  };
}

config_fetch_actor::behavior_type scripted_config(std::shared_ptr<call_log> log, config_answer answer) {
  return {
      [=](config_request& r) {
        log->calls.push_back("config:" + r.authenticated_username + ":" + std::to_string(r.login.meta.metadata.size()));
        return answer;
      },
  };
}

auth_verdict allowed(std::string authenticated = "") {
  auth_verdict v;
  v.success = true;
  v.authenticated_username = std::move(authenticated);
  return v;
}

struct login_fixture : actor_test_fixture {
  std::shared_ptr<call_log> log = std::make_shared<call_log>();
  std::shared_ptr<config::app_config> file_config = std::make_shared<config::app_config>();
  std::shared_ptr<config::app_config> answer_config = std::make_shared<config::app_config>();

  /// A context whose auth and config actors answer as given.
  context_ptr context(auth_verdict credential, auth_verdict authz, config_answer answer, int max_connections = -1) {
    auto ctx = std::make_shared<server_context>();
    ctx->system = &sys;
    ctx->config = file_config;
    ctx->auth = track(sys.spawn(scripted_auth, log, std::move(credential), std::move(authz)));
    ctx->config_fetch = track(sys.spawn(scripted_config, log, std::move(answer)));
    config::limits_config limits;
    limits.max_connections = max_connections;
    ctx->limits = std::make_shared<resource_limits>(limits);
    return ctx;
  }

  config_answer good_answer() {
    config_answer a;
    a.ok = true;
    a.config = answer_config;
    a.meta.metadata["team"] = {"blue", false};
    return a;
  }

  /// Runs one password login through a fresh login_sequence and returns its outcome.
  login_outcome login(context_ptr ctx) {
    auto seq = track(spawn_login_sequence(sys, ctx));
    std::optional<login_outcome> got;
    // (Every behaviour takes an argument besides self: CAF 0.17 binds a null argument tuple
    // otherwise, which UBSan reports.)
    track(sys.spawn(
        [seq, &got](caf::event_based_actor* self, std::string user) {
          self->request(seq, caf::infinite, password_check{user, "secret", "127.0.0.1:5000", "c1", "SSH-2.0-test"})
              .then([&got](login_outcome& o) { got = std::move(o); });
        },
        std::string("alice")));
    run();
    REQUIRE(got.has_value());
    CHECK(ended(seq));  // one attempt, one actor
    return std::move(*got);
  }
};

}  // namespace

TEST_CASE_FIXTURE(login_fixture, "login sequence: a refused credential ends it before authorization and config") {
  file_config->auth.authz.method = "webhook";
  auto outcome = login(context(denied("bad password"), allowed(), good_answer()));
  CHECK_FALSE(outcome.verdict.success);
  CHECK(outcome.verdict.reason == "bad password");
  CHECK(outcome.disconnect.empty());  // the client may try again (maxAuthTries counts)
  CHECK(log->calls == std::vector<std::string>{"password:alice"});
}

TEST_CASE_FIXTURE(login_fixture, "login sequence: credential, authorization, configuration, limits, in order") {
  file_config->auth.authz.method = "webhook";
  auto ctx = context(allowed("alice-renamed"), allowed(), good_answer(), 5);
  auto outcome = login(ctx);
  REQUIRE(outcome.verdict.success);
  // authz and the config server hear the name the credential's backend gave.
  CHECK(log->calls ==
        std::vector<std::string>{"password:alice", "authz:alice-renamed", "config:alice-renamed:0"});
  CHECK(outcome.verdict.config == answer_config);
  CHECK(outcome.verdict.meta.metadata.at("team").value == "blue");
  CHECK(outcome.user == "alice-renamed");
  held_place place;
  take_place(*ctx, place, outcome, "c1", "127.0.0.1:5000");
  CHECK(outcome.verdict.success);
  CHECK(place.slot != nullptr);  // a place under limits.maxConnections is held, for the authenticated name
  CHECK(place.user == "alice-renamed");
}

TEST_CASE_FIXTURE(login_fixture, "login sequence: without auth.authz no authorization is asked") {
  auto outcome = login(context(allowed(), denied("never asked"), good_answer()));
  CHECK(outcome.verdict.success);
  CHECK(log->calls == std::vector<std::string>{"password:alice", "config:alice:0"});
}

TEST_CASE_FIXTURE(login_fixture, "login sequence: authorization refuses, and its answer's metadata reaches the config server") {
  file_config->auth.authz.method = "webhook";
  auto outcome = login(context(allowed(), denied("the authorization webhook refused the login"), good_answer()));
  CHECK_FALSE(outcome.verdict.success);
  CHECK(log->calls == std::vector<std::string>{"password:alice", "authz:alice"});

  log->calls.clear();
  auto authz = allowed();
  authz.meta.metadata["from-authz"] = {"x", false};
  auto second = login(context(allowed(), authz, good_answer()));
  CHECK(second.verdict.success);
  CHECK(log->calls == std::vector<std::string>{"password:alice", "authz:alice", "config:alice:1"});
}

TEST_CASE_FIXTURE(login_fixture, "login sequence: a failing config server refuses and closes the connection") {
  config_answer broken;
  broken.ok = false;
  broken.reason = "config server: HTTP 500";
  auto ctx = context(allowed(), allowed(), broken, 5);
  auto outcome = login(ctx);
  CHECK_FALSE(outcome.verdict.success);
  CHECK(outcome.disconnect.find("configuration server") != std::string::npos);
  held_place place;
  take_place(*ctx, place, outcome, "c1", "127.0.0.1:5000");
  CHECK(place.slot == nullptr);  // refused before the limits step: no place taken
}

TEST_CASE_FIXTURE(login_fixture, "login sequence: a full server refuses with a retry-later disconnect; a held place is reused") {
  auto ctx = context(allowed(), allowed(), good_answer(), 1);
  held_place first_connection;
  auto first = login(ctx);
  take_place(*ctx, first_connection, first, "c1", "127.0.0.1:5000");
  REQUIRE(first.verdict.success);
  REQUIRE(first_connection.slot != nullptr);
  held_place second_connection;  // another connection while the first holds the only place
  auto second = login(ctx);
  take_place(*ctx, second_connection, second, "c2", "127.0.0.1:5001");
  CHECK_FALSE(second.verdict.success);
  CHECK(second.disconnect.find("try again later") != std::string::npos);
  CHECK(second_connection.slot == nullptr);
  auto again = login(ctx);  // the first connection logging in again as alice
  auto held = first_connection.slot;
  take_place(*ctx, first_connection, again, "c1", "127.0.0.1:5000");
  CHECK(again.verdict.success);
  CHECK(first_connection.slot == held);  // its place is the one it holds
}

TEST_CASE_FIXTURE(login_fixture, "login sequence: an empty user name still counts against the limits") {
  auto ctx = context(allowed(), allowed(), good_answer(), 1);
  login_outcome a;
  a.verdict = allowed();
  a.user = "";
  held_place pa;
  take_place(*ctx, pa, a, "c1", "127.0.0.1:5000");
  CHECK(pa.slot != nullptr);
  login_outcome b = a;
  held_place pb;
  take_place(*ctx, pb, b, "c2", "127.0.0.1:5001");
  CHECK_FALSE(b.verdict.success);  // no free pass for ""
}

// --- a channel's ending ------------------------------------------------------------------

namespace {

/// The commands a channel gave its SSH session, in order.
class recording_session final : public ssh::session_commands {
 public:
  void write(ssh::channel_id, ssh::output_stream stream, std::string bytes) override {
    add((stream == ssh::output_stream::stderr_stream ? "stderr:" : "stdout:") + bytes);
  }
  void send_exit_status(ssh::channel_id, int status) override { add("exit-status:" + std::to_string(status)); }
  void send_exit_signal(ssh::channel_id, const std::string& name, bool, const std::string&) override {
    add("exit-signal:" + name);
  }
  void input_consumed(ssh::channel_id, std::size_t bytes) override { add("consumed:" + std::to_string(bytes)); }
  void set_output_credit_sink(ssh::channel_id, std::function<void(std::size_t)>) override {}
  void send_eof(ssh::channel_id) override { add("eof"); }
  void close_channel(ssh::channel_id) override { add("close"); }
  void open_channel(ssh::channel_open_request, std::function<void(std::optional<ssh::channel_id>)> opened) override {
    add("open");
    opened(std::nullopt);
  }
  void disconnect(const std::string& reason) override { add("disconnect:" + reason); }

  std::vector<std::string> commands() {
    std::lock_guard<std::mutex> lock(mutex_);
    return commands_;
  }

 private:
  void add(std::string c) {
    std::lock_guard<std::mutex> lock(mutex_);
    commands_.push_back(std::move(c));
  }
  std::mutex mutex_;
  std::vector<std::string> commands_;
};

struct channel_fixture : actor_test_fixture {
  std::shared_ptr<recording_session> session = std::make_shared<recording_session>();
  std::shared_ptr<server_context> ctx = [this] {
    auto c = std::make_shared<server_context>();
    c->system = &sys;
    c->config = std::make_shared<config::app_config>();
    return c;
  }();

  channel_actor channel() {
    connection_info info;
    info.connection_id = "c1";
    info.username = "alice";
    info.remote_address = "127.0.0.1:5000";
    info.config = ctx->config;
    // No container is ever made here: the supervisor only needs to exist.
    auto supervisor = track(spawn_container_supervisor(sys, ctx, "c1"));
    return track(spawn_channel_actor(sys, ctx, 3, session, info, supervisor));
  }
};

}  // namespace

TEST_CASE_FIXTURE(channel_fixture, "channel: an exit status goes after the output, then EOF and close, in order") {
  auto ch = channel();
  caf::anon_send(ch, program_exited{42, ""});
  run();
  CHECK(session->commands() == std::vector<std::string>{"exit-status:42", "eof", "close"});
  caf::anon_send(ch, ch_closed{3});
  run();
  CHECK(ended(ch));  // the client's CLOSE ends the channel actor
}

TEST_CASE_FIXTURE(channel_fixture, "channel: a death by signal is reported as exit-signal, not exit-status") {
  auto ch = channel();
  caf::anon_send(ch, program_exited{137, "KILL"});
  run();
  CHECK(session->commands() == std::vector<std::string>{"exit-signal:KILL", "eof", "close"});
}

TEST_CASE_FIXTURE(channel_fixture, "channel: a program that could not run: the reason on stderr, the status from its code") {
  auto ch = channel();
  caf::anon_send(ch, program_failed{failure{"DOCKER_PROGRAM_NOT_FOUND", "starting the container failed: no such file"}});
  run();
  CHECK(session->commands() == std::vector<std::string>{"stderr:starting the container failed: no such file\r\n",
                                                         "exit-status:127", "eof", "close"});
  auto other = std::make_shared<recording_session>();
  session = other;
  auto ch2 = channel();
  // Text that merely mentions a missing file decides nothing: only the code does.
  caf::anon_send(ch2, program_failed{failure{"DOCKER_API_ERROR", "no such file or directory"}});
  run();
  CHECK(other->commands() ==
        std::vector<std::string>{"stderr:no such file or directory\r\n", "exit-status:125", "eof", "close"});
  CHECK(exit_code_for(failure{"LIMIT_CONTAINERS", "full"}) == exit_could_not_run);
}

TEST_CASE("exit codes: 128+N is a signal only when the server delivered signal N") {
  CHECK(signal_of_exit(137, {9}) == "KILL");
  CHECK(signal_of_exit(137, {15}).empty());  // the program died of something we did not send
  CHECK(signal_of_exit(130, {}).empty());     // or exited 130 on its own
  CHECK(signal_of_exit(0, {9}).empty());
}

// --- cleanup: the container supervisor against a fake Engine ------------------------------

namespace {

const std::string removed = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n";
/// The Engine's first call negotiates the API version: a ping, then /version.
const std::string ping = "HTTP/1.1 200 OK\r\nApi-Version: 1.30\r\nContent-Length: 2\r\n\r\nOK";

/// A fake Engine that negotiates, then gives `answers`.
std::vector<std::string> negotiated(std::vector<std::string> answers) {
  answers.insert(answers.begin(), {ping, engine_test::version_answer});
  return answers;
}

struct supervisor_fixture : actor_test_fixture {
  std::shared_ptr<http::reactor> reactor = std::make_shared<http::reactor>(1);

  context_ptr context(engine_test::fake_engine& fake) {
    auto c = std::make_shared<server_context>();
    c->system = &sys;
    auto cfg = std::make_shared<config::app_config>();
    cfg->docker.execution.timeouts.container_stop = 5s;
    c->config = cfg;
    c->reactor = reactor;
    c->engine = std::make_shared<docker::engine>(*reactor, fake.endpoint(), 5s);
    return c;
  }

  /// A worker the supervisor can watch (an io actor's stand-in).
  caf::actor worker() {
    return track(sys.spawn([](caf::event_based_actor*, int) -> caf::behavior { return {[](int) {}}; }, 0));
  }
};

bool removes(const std::string& head, const std::string& id) {
  return head.find("DELETE ") == 0 && head.find("/containers/" + id) != std::string::npos;
}

}  // namespace

TEST_CASE_FIXTURE(supervisor_fixture, "supervisor: a finished container is removed, and shutdown waits for it") {
  engine_test::fake_engine fake(negotiated({removed}));
  auto sup = track(spawn_container_supervisor(sys, context(fake), "c1"));
  auto io = worker();
  caf::anon_send(sup, container_creating{io});
  caf::anon_send(sup, container_created{io, "abc123", nullptr});
  caf::anon_send(sup, container_finished{"abc123"});
  caf::anon_send_exit(io, caf::exit_reason::user_shutdown);  // an io actor ends after handing over
  caf::anon_send(sup, supervisor_shutdown{});
  run();
  CHECK_FALSE(ended(sup));  // the removal is still on its way
  REQUIRE(run_when_mail(sup));  // its completion, from the reactor
  CHECK(ended(sup));
  auto heads = fake.heads();
  REQUIRE(heads.size() == 3);  // ping, version, then the removal
  CHECK(removes(heads[2], "abc123"));
}

TEST_CASE_FIXTURE(supervisor_fixture, "supervisor: a worker that dies leaves no container behind") {
  engine_test::fake_engine fake(negotiated({removed}));
  auto sup = track(spawn_container_supervisor(sys, context(fake), "c1"));
  auto io = worker();
  caf::anon_send(sup, container_creating{io});
  caf::anon_send(sup, container_created{io, "def456", nullptr});
  run();
  CHECK(fake.heads().empty());
  caf::anon_send_exit(io, caf::exit_reason::kill);  // the io actor crashed
  run();
  REQUIRE(run_when_mail(sup));  // the removal's completion, from the reactor
  REQUIRE(fake.heads().size() == 3);
  CHECK(removes(fake.heads()[2], "def456"));
}

TEST_CASE_FIXTURE(supervisor_fixture, "supervisor: shutdown with nothing left ends at once; containerStop bounds a hung removal") {
  engine_test::fake_engine idle(negotiated({removed}));
  auto sup = track(spawn_container_supervisor(sys, context(idle), "c1"));
  caf::anon_send(sup, supervisor_shutdown{});
  run();
  CHECK(ended(sup));

  engine_test::fake_engine hung(negotiated({std::string{}}));  // the removal is never answered
  auto sup2 = track(spawn_container_supervisor(sys, context(hung), "c2"));
  auto io = worker();
  caf::anon_send(sup2, container_creating{io});
  caf::anon_send(sup2, container_created{io, "ghi789", nullptr});
  caf::anon_send(sup2, container_finished{"ghi789"});
  caf::anon_send(sup2, supervisor_shutdown{});
  run();
  CHECK_FALSE(ended(sup2));
  advance_time(6s);  // past containerStop: the supervisor gives up (and logs what is left)
  CHECK(ended(sup2));
}
