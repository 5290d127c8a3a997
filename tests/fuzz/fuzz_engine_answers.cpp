// libFuzzer target: the Docker Engine's JSON answers (docker/engine_answers.hpp), the pull
// progress stream (docker::pull_progress, fed in input-chosen pieces) and API version strings.
// A socket configured as the Engine may be anything, so every reader must cope with any body.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "docker/api_version.hpp"
#include "docker/engine_answers.hpp"
#include "docker/pull_progress.hpp"

using namespace cssh::docker;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::size_t piece = std::size_t{data[0]} + 1;
  std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string op = "fuzz";

  if (answers::engine_message(body).empty()) __builtin_trap();
  (void)answers::read_version(body);
  (void)answers::read_created(body, op);
  (void)answers::read_wait(body, op);
  (void)answers::read_container_ids(body, op);
  (void)answers::read_exec_info(body, op);
  (void)answers::read_object(body, op);

  pull_progress progress;
  for (std::size_t at = 0; at < body.size(); at += piece) progress.feed(std::string_view(body).substr(at, piece));
  progress.finish();
  (void)progress.summary();

  if (auto v = parse_api_version(body)) (void)api_older(body, "1.41");
  (void)wait_condition_supported(body);
  return 0;
}
