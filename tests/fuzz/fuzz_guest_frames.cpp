// libFuzzer target: the guest helper's frame decoder (guest/forward_frame.c, the frames of
// docs/forwarding.md that `helper forward` reads from the server), fed in chunks whose size the
// input chooses, as a pipe would split it; and, on the same bytes, the helper's parsers of DNS
// answers, /etc/hosts and /etc/resolv.conf (guest/forward_dns.c). Both files are plain C.
//
// Input: byte 0 picks the chunk size (1..256), byte 1's low bit the direction (to the helper or
// to the server), the rest is the stream.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

extern "C" {
#include "guest/forward_dns.h"
#include "guest/forward_frame.h"
}

namespace {

// What a decoder made of a stream: the frames encoded again, and whether (and why) it failed.
struct decoded {
  std::string frames;
  bool failed = false;
  std::string error;
};

void check_frame(const fwd_frame& f, fwd_direction direction) {
  if (f.size > FWD_MAX_PAYLOAD) __builtin_trap();
  if (f.size > 0 && f.payload == nullptr) __builtin_trap();
  if (f.type == FWD_CREDIT && f.size != 4) __builtin_trap();
  if ((f.type == FWD_EOF || f.type == FWD_CLOSE) && f.size != 0) __builtin_trap();
  if (f.type == FWD_DATA && f.size == 0) __builtin_trap();
  if (direction == FWD_TO_HELPER) {
    if (f.type == FWD_OK || f.type == FWD_FAIL || f.type == FWD_ACCEPTED || f.type == FWD_HELLO) __builtin_trap();
    if (f.type == FWD_WRITE_FILE && 4u + fwd_get_u16(f.payload + 2) > f.size) __builtin_trap();
    if (f.type == FWD_DIAL_TCP && (f.id == 0 || f.id >= FWD_HELPER_IDS)) __builtin_trap();
  } else {
    if (f.type == FWD_DIAL_TCP || f.type == FWD_LISTEN_TCP || f.type == FWD_WRITE_FILE) __builtin_trap();
    if (f.type == FWD_ACCEPTED && (f.id < FWD_HELPER_IDS || f.size < 6)) __builtin_trap();
  }
}

decoded decode(fwd_decoder* d, fwd_direction direction, const std::uint8_t* data, std::size_t size,
               std::size_t chunk) {
  decoded out;
  fwd_decoder_init(d, direction);
  std::size_t fed = 0;
  while (fed < size && !out.failed) {
    std::size_t piece = size - fed < chunk ? size - fed : chunk;
    const std::uint8_t* p = data + fed;
    std::size_t left = piece;
    fed += piece;
    for (;;) {
      fwd_frame f;
      std::size_t before = left;
      int r = fwd_decode(d, &p, &left, &f);
      if (left > before) __builtin_trap();
      if (r == 0) {
        if (left != 0) __builtin_trap();  // "need more" only once everything was taken
        break;
      }
      if (r < 0) {
        out.failed = true;
        out.error = d->error;
        if (out.error.empty()) __builtin_trap();
        break;
      }
      check_frame(f, direction);
      std::uint8_t header[FWD_HEADER_SIZE];
      fwd_put_header(header, f.type, f.id, f.size);
      out.frames.append(reinterpret_cast<const char*>(header), sizeof header);
      if (f.size > 0) out.frames.append(reinterpret_cast<const char*>(f.payload), f.size);
    }
  }
  // A failed decoder stays failed.
  if (out.failed) {
    const std::uint8_t* p = data;
    std::size_t left = size;
    fwd_frame f;
    if (fwd_decode(d, &p, &left, &f) != -1) __builtin_trap();
  }
  return out;
}

void fuzz_names(const std::uint8_t* data, std::size_t size) {
  fwd_addrs addrs{};
  if (size >= 2) {
    std::uint16_t id = static_cast<std::uint16_t>(data[0] << 8 | data[1]);
    (void)fwd_dns_answer(data, size, id, FWD_DNS_A, &addrs);
    (void)fwd_dns_answer(data, size, id, FWD_DNS_AAAA, &addrs);
    if (addrs.count > FWD_MAX_ADDRS) __builtin_trap();
  }
  const char* text = reinterpret_cast<const char*>(data);
  fwd_hosts_lookup(text, size, "fwd-host", &addrs);
  if (addrs.count > FWD_MAX_ADDRS) __builtin_trap();
  fwd_addr servers[3];
  if (fwd_nameservers(text, size, servers, 3) > 3) __builtin_trap();

  // A name from the input: a query for it must be well formed and its own (empty) answer.
  char name[300];
  std::size_t len = size < sizeof name - 1 ? size : sizeof name - 1;
  std::memcpy(name, data, len);
  name[len] = '\0';
  std::uint8_t query[FWD_DNS_QUERY_MAX];
  std::size_t qsize = fwd_dns_query(query, 0x1234, name, FWD_DNS_AAAA);
  if (qsize > FWD_DNS_QUERY_MAX) __builtin_trap();
  if (qsize > 0) {
    query[2] |= 0x80;  // as a response
    fwd_addrs none{};
    if (fwd_dns_answer(query, qsize, 0x1234, FWD_DNS_AAAA, &none) != 0 || none.count != 0) __builtin_trap();
  }
  fwd_addr ip;
  (void)fwd_parse_ip(name, &ip);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  static fwd_decoder decoder;  // 64 KiB of buffer: not on the stack
  const std::size_t chunk = std::size_t{data[0]} + 1;
  const fwd_direction direction = (data[1] & 1) ? FWD_TO_SERVER : FWD_TO_HELPER;
  const std::uint8_t* stream = data + 2;
  const std::size_t length = size - 2;

  decoded chunked = decode(&decoder, direction, stream, length, chunk);
  // Every frame handed out is the input's own bytes, in order: encoding them again gives back a
  // prefix of the stream.
  if (chunked.frames.size() > length || std::memcmp(chunked.frames.data(), stream, chunked.frames.size()) != 0) {
    __builtin_trap();
  }
  // The framing does not depend on the chunking: fed whole, the same frames and the same verdict.
  decoded whole = decode(&decoder, direction, stream, length, length == 0 ? 1 : length);
  if (whole.frames != chunked.frames || whole.failed != chunked.failed || whole.error != chunked.error) {
    __builtin_trap();
  }

  fuzz_names(stream, length);
  return 0;
}
