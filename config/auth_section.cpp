#include "config/auth_section.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

namespace cssh::config::detail {
namespace {

using R = yaml_reader;

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

R::read_fn string_into(R& r, std::string& out) {
  return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_string(n, p, out); };
}
R::read_fn duration_into(R& r, millis& out) {
  return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_duration(n, p, out); };
}
R::read_fn bool_into(R& r, bool& out) {
  return [&r, &out](const YAML::Node& n, const std::string& p) { r.read_bool(n, p, out); };
}

/// The keys of ContainerSSH's HTTP client block (`webhook:`, `configserver:`, and the legacy
/// `auth:` itself). TLS version, curves and ciphers are fixed by protocol/http/tls (TLS 1.2+,
/// OpenSSL's defaults): accepted and reported as ignored.
std::vector<R::field> client_fields(R& r, webhook_client_config& w) {
  return {
      R::key("url", string_into(r, w.url)),
      R::key("timeout", duration_into(r, w.timeout)),
      R::key("cacert", string_into(r, w.cacert)),
      R::key("cert", string_into(r, w.cert)),
      R::key("key", string_into(r, w.key)),
      R::key("allowRedirects", bool_into(r, w.allow_redirects)),
      R::ignored("tlsVersion"),
      R::ignored("curves"),
      R::ignored("cipher"),
  };
}

void read_webhook(R& r, const YAML::Node& node, const std::string& path, webhook_client_config& w,
                  std::optional<millis>& auth_timeout) {
  std::vector<R::field> fields = client_fields(r, w);
  // ContainerSSH's per-method overall deadline. One login has one deadline here (it covers the
  // authorization and config server calls too), so the more specific key sets it.
  fields.push_back(R::key("authTimeout", [&](const YAML::Node& n, const std::string& p) {
    millis t{0};
    if (r.read_duration(n, p, t)) auth_timeout = t;
  }));
  r.read_map(node, path, fields);
}

/// One method block: `method` plus the settings of that method. `methods` are the ones this
/// block accepts; `later` names backends ContainerSSH has that we do not implement yet (accepted
/// as keys, refused as methods).
void read_auth_method(R& r, const YAML::Node& node, const std::string& path, auth_method_config& out,
                      std::optional<millis>& auth_timeout, const std::vector<std::string>& methods,
                      const std::vector<std::string>& later) {
  std::string supported;
  for (const auto& m : methods) supported += (supported.empty() ? "" : " or ") + m;
  std::vector<R::field> fields{
      R::key("method",
             [&](const YAML::Node& mn, const std::string& mp) {
               std::string method;
               if (!r.read_string(mn, mp, method)) return;
               method = lowercase(method);
               if (std::find(later.begin(), later.end(), method) != later.end())
                 r.error(mp, "\"" + method + "\" is not supported yet (supported: " + supported + ")", &mn);
               else if (!method.empty() && std::find(methods.begin(), methods.end(), method) == methods.end())
                 r.error(mp, "expected " + supported + ", got " + R::describe(mn), &mn);
               else
                 out.method = method;
             }),
      R::key("webhook",
             [&](const YAML::Node& wn, const std::string& wp) { read_webhook(r, wn, wp, out.webhook, auth_timeout); }),
  };
  if (std::find(methods.begin(), methods.end(), "file") != methods.end()) {
    fields.push_back(R::key("file", [&](const YAML::Node& fn, const std::string& fp) {
      r.read_map(fn, fp, {R::key("path", string_into(r, out.file.path))});
    }));
  }
  if (std::find(later.begin(), later.end(), "kerberos") != later.end()) fields.push_back(R::ignored("kerberos"));
  r.read_map(node, path, fields);
}

/// The pieces of ContainerSSH 0.4's layout, where `auth:` itself is the webhook client:
/// `auth: {url, timeout, cacert, cert, key, password: true, pubkey: true}`.
struct legacy_auth {
  webhook_client_config client;
  bool url_given = false;
  std::optional<bool> password;  // `password: true|false`
  std::optional<bool> pubkey;
  YAML::Node url_node;
  std::vector<std::string> client_keys_given;  // for "needs auth.url" errors
};

bool is_scalar(const YAML::Node& n) { return n.IsDefined() && n.IsScalar(); }

}  // namespace

void read_auth(R& r, const YAML::Node& node, const std::string& path, auth_config& auth) {
  std::optional<millis> webhook_auth_timeout;
  legacy_auth legacy;
  bool password_block = false;    // `password:` given as a map (the current layout)
  bool public_key_block = false;

  std::vector<R::field> fields{
      R::key("password",
             [&](const YAML::Node& n, const std::string& p) {
               if (is_scalar(n)) {  // 0.4: `password: true` switches the legacy webhook on for passwords
                 bool on = false;
                 if (r.read_bool(n, p, on)) legacy.password = on;
                 return;
               }
               password_block = true;
               read_auth_method(r, n, p, auth.password, webhook_auth_timeout, {"webhook", "file"}, {"kerberos"});
             }),
      R::key("publicKey",
             [&](const YAML::Node& n, const std::string& p) {
               public_key_block = true;
               read_auth_method(r, n, p, auth.public_key, webhook_auth_timeout, {"webhook", "file"}, {});
             }),
      R::key("pubkey",
             [&](const YAML::Node& n, const std::string& p) {
               bool on = false;
               if (r.read_bool(n, p, on)) legacy.pubkey = on;
             }),
      R::key("authz",
             [&](const YAML::Node& n, const std::string& p) {
               read_auth_method(r, n, p, auth.authz, webhook_auth_timeout, {"webhook"}, {});
             }),
      R::key("authTimeout", duration_into(r, auth.auth_timeout)),
      R::ignored("keyboardInteractive"),
      R::ignored("gssapi"),
  };
  // The legacy client keys, remembered so that using them without `url` can be named.
  for (R::field f : client_fields(r, legacy.client)) {
    if (f.what == R::field::kind::read) {
      std::string name(f.name);
      auto inner = f.read;
      f.read = [&legacy, inner, name](const YAML::Node& n, const std::string& p) {
        legacy.client_keys_given.push_back(name);
        if (name == "url") {
          legacy.url_given = true;
          legacy.url_node = n;
        }
        inner(n, p);
      };
    }
    fields.push_back(f);
  }
  r.read_map(node, path, fields);
  if (webhook_auth_timeout) auth.auth_timeout = *webhook_auth_timeout;  // the more specific key wins

  const std::string at = path.empty() ? "auth" : path;
  if (!legacy.url_given) {
    for (const auto& key : legacy.client_keys_given)
      r.error(R::join(at, key), "belongs to the legacy layout, which needs auth.url (or move it under a method's webhook:)");
    if (legacy.password)
      r.error(R::join(at, "password"), "a boolean is the legacy layout, which needs auth.url (or use `password: {method: webhook, webhook: {url: ...}}`)");
    if (legacy.pubkey)
      r.error(R::join(at, "pubkey"), "belongs to the legacy layout, which needs auth.url");
    return;
  }
  // ContainerSSH 0.4: both methods default to on and use the one client.
  bool password_on = legacy.password.value_or(!password_block);
  bool pubkey_on = legacy.pubkey.value_or(!public_key_block);
  if (password_on && password_block)
    r.error(R::join(at, "url"), "both the legacy auth.url and auth.password are configured; use one of them", &legacy.url_node);
  if (pubkey_on && public_key_block)
    r.error(R::join(at, "url"), "both the legacy auth.url and auth.publicKey are configured; use one of them (or set pubkey: false)",
            &legacy.url_node);
  if (password_on && !password_block) {
    auth.password.method = "webhook";
    auth.password.webhook = legacy.client;
  }
  if (pubkey_on && !public_key_block) {
    auth.public_key.method = "webhook";
    auth.public_key.webhook = legacy.client;
  }
}

void read_configserver(R& r, const YAML::Node& node, const std::string& path, webhook_client_config& out) {
  r.read_map(node, path, client_fields(r, out));
}

namespace {

void validate_client(R& r, const webhook_client_config& w, const std::string& at, const std::string& when) {
  if (w.url.empty())
    r.error(at + ".url", "required " + when);
  else if (!w.url.starts_with("http://") && !w.url.starts_with("https://"))
    r.error(at + ".url", "must start with http:// or https://, got " +
                                 nlohmann::json(w.url).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  if (!w.cert.empty() && w.key.empty()) r.error(at + ".key", "required when cert is set");
  if (w.cert.empty() && !w.key.empty()) r.error(at + ".cert", "required when key is set");
  if (w.timeout.count() <= 0) r.error(at + ".timeout", "must be more than 0");
}

void validate_method(R& r, const auth_method_config& m, const std::string& at) {
  if (m.method == "webhook") validate_client(r, m.webhook, at + ".webhook", "when the method is webhook");
  if (m.method == "file" && m.file.path.empty()) r.error(at + ".file.path", "required when the method is file");
}

}  // namespace

void validate_auth(R& r, const auth_config& auth) {
  validate_method(r, auth.password, "auth.password");
  validate_method(r, auth.public_key, "auth.publicKey");
  validate_method(r, auth.authz, "auth.authz");
  // ContainerSSH's own lower bound: below this not even one webhook call fits.
  if (auth.auth_timeout < millis(100)) r.error("auth.authTimeout", "must be at least 100ms");
}

void validate_configserver(R& r, const webhook_client_config& server) {
  if (server.url.empty()) {
    // Settings without a URL configure nothing: say so rather than silently running without.
    if (!server.cacert.empty() || !server.cert.empty() || !server.key.empty())
      r.error("configserver.url", "required when other configserver settings are given");
    return;
  }
  validate_client(r, server, "configserver", "");
}

}  // namespace cssh::config::detail
