#pragma once
// The Docker Engine's container-create structures as the configuration writes them.
//
// ContainerSSH decodes `container`, `host`, `network` and `platform` straight into the Engine's Go
// types, so the YAML keys are the Go field names in lower case (`workingdir`, `oomscoreadj`,
// `resources`). We send JSON, which needs the Engine's own names (`WorkingDir`, `OomScoreAdj`, and
// Resources inlined into HostConfig). One table per structure says, for every key, where the
// value lands and what type it must have; adding a field the Engine grows is one line here.
// No yaml-cpp in this header: the tables are plain data (config/engine_reader.* walks them).

#include <span>
#include <string_view>

namespace cssh::config::engine_schema {

/// The type a value must have, and how it is written for the Engine.
enum class value_kind {
  text,              // any scalar, sent as its text (`user: 1000` is "1000", as Go's decoder does)
  boolean,           // true / false
  integer,           // int64, in Go's literal forms: 42, -1, 0755 (octal), 0x1f, 0o17, 0b101
  unsigned_integer,  // the same, not negative (file modes, byte counts)
  duration,          // nanoseconds: an integer, or a Go duration string ("30s", "1m30s")
  text_list,         // [] string
  text_or_list,      // Docker's strslice: a lone string is a one-element list
  text_map,          // map[string]string; also accepted as a list of `key: value` maps
  text_set,          // map[string]struct{} (ExposedPorts, Volumes): a map with empty values, or a list
  text_list_list,    // [][]string (DeviceRequests.Capabilities)
  object,            // a nested structure
  object_list,       // []structure
  object_map,        // map[string]structure (NetworkingConfig.EndpointsConfig)
  object_list_map,   // map[string][]structure (HostConfig.PortBindings)
};

/// What happens to a key besides being type-checked.
enum class placement {
  here,           // written under `engine` in the structure being read
  inline_fields,  // a nested structure whose keys land in this one (HostConfig.Resources)
  container,      // written into the container config (the seed puts `networkDisabled` under host)
  server_set,     // the server sets it for each session: accepted, not sent, warned about
  not_sent,       // accepted and type-checked, not sent, warned about with `note`
};

struct structure;

struct field {
  std::string_view key;     // lower case; matched case-insensitively
  std::string_view engine;  // the Engine's JSON name
  value_kind kind;
  const structure* nested = nullptr;  // object, object_list, object_map, object_list_map
  placement where = placement::here;
  std::string_view note = {};  // not_sent: why; here: a remark kept for the reference docs
};

struct structure {
  std::string_view name;  // for messages, e.g. "HostConfig"
  std::span<const field> fields;
};

/// ContainerConfig: image, env, cmd, user, ... (`container:`).
extern const structure container_config;
/// HostConfig with Resources under `resources` (`host:`).
extern const structure host_config;
/// NetworkingConfig (`network:`).
extern const structure networking_config;
/// The OCI platform (`platform:`): os, architecture, variant, osversion, osfeatures.
extern const structure platform;

/// The field of `s` named `key` (case-insensitive), or nullptr.
const field* find_field(const structure& s, std::string_view key);

}  // namespace cssh::config::engine_schema
