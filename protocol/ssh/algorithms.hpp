#pragma once
// The SSH algorithms this server offers by default and the names an operator may enable.
// Defaults are the set `ssh-audit` reports with neither [fail] nor [warn], while still
// admitting paramiko 2.12 (ctr + etm) and PuTTY 0.78. libssh 0.10.6 adds the strict key
// exchange marker (Terrapin countermeasure) by itself whenever the client offers it.

#include <string>
#include <string_view>
#include <vector>

namespace cssh::ssh {

enum class algorithm_kind { cipher, kex, mac, host_key };

/// The default list for a kind.
const std::vector<std::string>& default_algorithms(algorithm_kind kind);
/// Every name libssh 0.10 implements for a kind (defaults plus older ones to opt into).
const std::vector<std::string>& known_algorithms(algorithm_kind kind);
bool is_known_algorithm(algorithm_kind kind, std::string_view name);
/// Comma-joined, as libssh's options take them.
std::string join_algorithms(const std::vector<std::string>& names);

}  // namespace cssh::ssh
