// What the config unit tests share: loading a YAML document that must be accepted or refused, and
// a substring check that names what it looked for when it fails.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include "../test_text.hpp"
#include "config/loader.hpp"

namespace config_test {

/// The smallest valid configuration: everything else keeps its default.
inline const std::string minimal_config = "docker:\n  execution:\n    container:\n      image: busybox\n";

/// Loads a whole document that must be accepted.
inline cssh::config::app_config load_ok(const std::string& yaml) {
  auto r = cssh::config::load_from_string(yaml);
  if (!r.ok()) FAIL_CHECK("unexpected failure: " << r.error().message);
  REQUIRE(r.ok());
  return *r;
}

/// Loads a whole document that must be refused as CONFIG_INVALID; returns the message.
inline std::string load_bad(const std::string& yaml) {
  auto r = cssh::config::load_from_string(yaml);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "CONFIG_INVALID");
  return r.error().message;
}

using test_text::contains;

/// The same for tests about one section: `yaml` holds only that section and is loaded after
/// minimal_config. These tests read the refusal's message (the loader has one error code).
namespace on_minimal {

inline cssh::config::app_config load_ok(const std::string& yaml) { return config_test::load_ok(minimal_config + yaml); }

inline std::string load_bad(const std::string& yaml) {
  auto r = cssh::config::load_from_string(minimal_config + yaml);
  REQUIRE_FALSE(r.ok());
  return r.error().message;
}

}  // namespace on_minimal

}  // namespace config_test
