// libFuzzer target: the PROXY protocol v1/v2 header parser (protocol/proxy/header_parser), fed the
// way the header reader feeds it: growing prefixes, never more than bytes_wanted() asks for.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/proxy/header_parser.hpp"

namespace pp = cssh::proxy_protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);

  // Whole input at once: a complete header lies within the input and names its own length.
  pp::parse_result whole = pp::parse(input);
  if (whole.status == pp::status::complete) {
    if (whole.header.length == 0 || whole.header.length > input.size()) __builtin_trap();
    if (whole.header.version != 1 && whole.header.version != 2) __builtin_trap();
    (void)pp::describe_source(whole.header);
    (void)pp::describe_destination(whole.header);
  }
  if (whole.status == pp::status::invalid && whole.error.empty()) __builtin_trap();

  // As the reader does: start with nothing, read what bytes_wanted() allows, parse again.
  std::string read;
  for (int rounds = 0; rounds < 4096; ++rounds) {
    pp::parse_result r = pp::parse(read);
    if (r.status != pp::status::need_more) {
      // The reader never reads past the header, so a complete header must end where it read.
      if (r.status == pp::status::complete && r.header.length != read.size()) __builtin_trap();
      break;
    }
    std::size_t want = pp::bytes_wanted(read);
    if (want == 0 || read.size() >= input.size()) break;
    std::size_t take = std::min(want, input.size() - read.size());
    read.append(input.substr(read.size(), take));
  }
  return 0;
}
