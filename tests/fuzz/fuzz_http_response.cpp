// libFuzzer target: an HTTP response from the Docker Engine socket or a webhook server, parsed
// with Beast under the limits the client uses (http::max_response_header_bytes / body bytes),
// then the body handed to the Engine answer readers, as protocol/http/client.cpp does. Like the
// client, the header is parsed on its own first: Beast 1.74 loses a Content-Length body_limit
// error when header and body are parsed in one eager pass, and then reserves the announced length
// (the fuzzer's first find, "Content-Length: 99999999999"; the client's header-first read is safe).

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "docker/api_version.hpp"
#include "docker/engine_answers.hpp"
#include "protocol/http/client.hpp"

namespace beast_http = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  beast_http::response_parser<beast_http::string_body> parser;
  parser.header_limit(cssh::http::max_response_header_bytes);
  parser.body_limit(cssh::http::max_response_body_bytes);
  boost::beast::error_code ec;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::size_t at = 0;
  // async_read_header: not eager, stops once the header is complete.
  parser.eager(false);
  while (at < in.size() && !parser.is_header_done()) {
    auto used = parser.put(boost::asio::buffer(in.data() + at, in.size() - at), ec);
    if (ec || used == 0) break;
    at += used;
  }
  if (ec == beast_http::error::need_more) ec = {};
  if (ec) return 0;
  // async_read: the body.
  parser.eager(true);
  while (at < in.size() && !parser.is_done()) {
    auto used = parser.put(boost::asio::buffer(in.data() + at, in.size() - at), ec);
    if (ec || used == 0) break;
    at += used;
  }
  if (ec == beast_http::error::need_more) ec = {};
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;

  auto msg = parser.release();
  cssh::http::response out;
  out.status = msg.result_int();
  for (const auto& field : msg) out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = std::move(msg.body());
  for (const auto& [name, value] : out.headers)
    if (name == "Api-Version") (void)cssh::docker::parse_api_version(value);
  (void)cssh::docker::answers::engine_message(out.body);
  (void)cssh::docker::answers::read_created(out.body, "fuzz");
  (void)cssh::docker::answers::read_wait(out.body, "fuzz");
  return 0;
}
