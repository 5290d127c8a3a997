#pragma once
// Engine API versions: comparing them, and what each version lacks that we would send.
// The Engine serves every version from its MinAPIVersion up under the "/v1.xx" prefix and
// behaves as that version did, so the requests we build must fit the version we negotiated.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace cssh::docker {

/// The newest Engine API version this client speaks; negotiation never goes above it.
inline constexpr const char* newest_api_version = "1.41";
/// The oldest we try to speak: Docker Engine 1.6 (the seed's promise).
inline constexpr const char* oldest_api_version = "1.18";

/// "1.41" -> {1, 41}; nullopt when the text is not major.minor.
std::optional<std::pair<int, int>> parse_api_version(std::string_view text);
/// a < b as versions ("1.9" < "1.41"). Unparsable text compares as older than anything.
bool api_older(std::string_view a, std::string_view b);

/// /containers/{id}/wait?condition= exists from API 1.30; before, a wait always waited for
/// the container to stop, which is the condition we want anyway.
bool wait_condition_supported(std::string_view version);

/// The create body adapted to `version`: fields that version does not know are either dropped
/// (when losing them degrades but does not break the session; each drop is reported in
/// `dropped`, e.g. "HostConfig.Init (API 1.25)") or refused with a failure naming the field,
/// the version it needs and `engine` (a description of the Engine for the message).
result<nlohmann::json> adapt_create_body(nlohmann::json body, std::string_view version, const std::string& engine,
                                         std::vector<std::string>& dropped);

}  // namespace cssh::docker
