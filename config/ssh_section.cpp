#include "config/ssh_section.hpp"

#include <cctype>

#include "common/cidr.hpp"
#include "protocol/ssh/algorithms.hpp"

namespace cssh::config::detail {
namespace {

using R = yaml_reader;

/// An algorithm list: every name must be one libssh implements, or the error names it and
/// the names that are possible.
R::read_fn algorithm_list(R& r, ssh::algorithm_kind kind, std::vector<std::string>& out) {
  return [&r, kind, &out](const YAML::Node& n, const std::string& p) {
    std::vector<std::string> names;
    if (!r.read_string_list(n, p, names)) return;
    bool ok = true;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!ssh::is_known_algorithm(kind, names[i])) {
        r.error(p + "[" + std::to_string(i) + "]",
                "unknown algorithm \"" + names[i] + "\" (known: " +
                    ssh::join_algorithms(ssh::known_algorithms(kind)) + ")",
                &n);
        ok = false;
      }
    }
    if (names.empty()) {
      r.error(p, "must list at least one algorithm (leave the key out for the defaults)", &n);
      ok = false;
    }
    if (ok) out = std::move(names);
  };
}

R::read_fn int_into(R& r, int& out, long long min, long long max) {
  return [&r, &out, min, max](const YAML::Node& n, const std::string& p) {
    long long value = 0;
    if (r.read_int(n, p, value, min, max)) out = static_cast<int>(value);
  };
}

R::read_fn duration_into(R& r, millis& out) {
  return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_duration(n, p, out); };
}

/// `ssh.proxyProtocol`; each allowed source must be an address or a CIDR range.
void read_proxy_protocol(R& r, const YAML::Node& node, const std::string& path, proxy_protocol_config& pp) {
  r.read_map(node, path, {
      R::key("enable", [&](const YAML::Node& n, const std::string& p) { r.read_bool(n, p, pp.enable); }),
      R::key("allowedSources",
             [&](const YAML::Node& n, const std::string& p) {
               std::vector<std::string> ranges;
               if (!r.read_string_list(n, p, ranges)) return;
               for (std::size_t i = 0; i < ranges.size(); ++i) {
                 if (auto parsed = cidr::parse(ranges[i]); !parsed) r.error(p + "[" + std::to_string(i) + "]", parsed.error().message, &n);
               }
               pp.allowed_sources = std::move(ranges);
             }),
      R::key("timeout",
             [&](const YAML::Node& n, const std::string& p) {
               if (r.read_duration(n, p, pp.timeout) && pp.timeout.count() <= 0)
                 r.error(p, "must be longer than 0 (the time a load balancer has to send the header)", &n);
             }),
  });
  if (node && pp.enable && pp.allowed_sources.empty()) {
    r.error(path + ".allowedSources",
            "required when the PROXY protocol is enabled: list the load balancers' addresses or ranges (a header can "
            "claim any client address, so only they may send one; \"0.0.0.0/0\" and \"::/0\" allow everyone)");
  }
}

}  // namespace

void read_ssh(R& r, const YAML::Node& node, const std::string& path, ssh_config& ssh) {
  r.read_map(node, path, {
      R::key("listen",
             [&](const YAML::Node& n, const std::string& p) {
               if (!r.read_string(n, p, ssh.listen)) return;
               // Only the shape is checked here; whether the address can be bound is found out at start.
               auto colon = ssh.listen.rfind(':');
               std::string port = colon == std::string::npos ? "" : ssh.listen.substr(colon + 1);
               bool digits = !port.empty() && port.size() <= 5;
               for (char c : port) digits = digits && std::isdigit(static_cast<unsigned char>(c));
               if (!digits || std::stoul(port) > 65535)
                 r.error(p, "expected \"address:port\" such as \"0.0.0.0:2222\", got " + R::describe(n), &n);
             }),
      R::key("hostkeys", [&](const YAML::Node& n, const std::string& p) { r.read_string_list(n, p, ssh.hostkeys); }),
      R::key("serverVersion",
             [&](const YAML::Node& n, const std::string& p) {
               if (!r.read_string(n, p, ssh.server_version)) return;
               // RFC 4253 4.2: the identification line must start like this and is ended by CRLF.
               if (!ssh.server_version.starts_with("SSH-2.0-") ||
                   ssh.server_version.find_first_of("\r\n") != std::string::npos)
                 r.error(p, "must start with \"SSH-2.0-\" and be one line, got " + R::describe(n), &n);
             }),
      R::key("banner", [&](const YAML::Node& n, const std::string& p) { r.read_string(n, p, ssh.banner); }),
      R::key("ciphers", algorithm_list(r, ssh::algorithm_kind::cipher, ssh.ciphers)),
      R::key("kex", algorithm_list(r, ssh::algorithm_kind::kex, ssh.kex)),
      R::key("macs", algorithm_list(r, ssh::algorithm_kind::mac, ssh.macs)),
      R::key("hostKeyAlgorithms", algorithm_list(r, ssh::algorithm_kind::host_key, ssh.host_key_algorithms)),
      R::key("clientAliveInterval", duration_into(r, ssh.client_alive_interval)),
      R::key("clientAliveCountMax", int_into(r, ssh.client_alive_count_max, 1, 1000)),
      R::key("loginGraceTime", duration_into(r, ssh.login_grace_time)),
      R::key("maxAuthTries", int_into(r, ssh.max_auth_tries, 1, 100)),
      R::key("maxStartups", int_into(r, ssh.max_startups, 1, 1000000)),
      R::key("maxStartupsPerSource", int_into(r, ssh.max_startups_per_source, 1, 1000000)),
      R::key("proxyProtocol",
             [&](const YAML::Node& n, const std::string& p) { read_proxy_protocol(r, n, p, ssh.proxy_protocol); }),
      R::key("idleTimeout", duration_into(r, ssh.idle_timeout)),
      R::key("sessionTimeout", duration_into(r, ssh.session_timeout)),
  });
}

}  // namespace cssh::config::detail
