#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "actors/docker_frame.hpp"

using cssh::docker_frame::demuxer;
using cssh::docker_frame::encode;
using cssh::docker_frame::stream_kind;

namespace {

/// Collects what the demuxer forwards, joining consecutive pieces of the same stream so tests
/// can compare whole outputs regardless of how the bytes were split.
struct collected {
  std::string out;
  std::string err;
  std::string in;
  std::vector<std::pair<stream_kind, std::string>> pieces;

  demuxer make() {
    return demuxer([this](stream_kind kind, std::string_view payload) {
      CHECK_FALSE(payload.empty());  // empty payloads are never forwarded
      pieces.emplace_back(kind, std::string(payload));
      if (kind == stream_kind::stdout_stream) out.append(payload);
      if (kind == stream_kind::stderr_stream) err.append(payload);
      if (kind == stream_kind::stdin_stream) in.append(payload);
    });
  }
};

}  // namespace

TEST_CASE("encode writes the 8-byte header with a big-endian length") {
  auto frame = encode(stream_kind::stderr_stream, std::string(0x010203, 'x'));
  REQUIRE(frame.size() == 8 + 0x010203);
  CHECK(frame[0] == 2);
  CHECK(frame[1] == 0);
  CHECK(frame[2] == 0);
  CHECK(frame[3] == 0);
  CHECK(frame[4] == 0x00);
  CHECK(frame[5] == 0x01);
  CHECK(frame[6] == 0x02);
  CHECK(frame[7] == 0x03);
}

TEST_CASE("several frames in one chunk are split per stream") {
  collected c;
  auto d = c.make();
  std::string chunk = encode(stream_kind::stdout_stream, "hello ") + encode(stream_kind::stderr_stream, "oops") +
                      encode(stream_kind::stdout_stream, "world") + encode(stream_kind::stdin_stream, "in");
  REQUIRE(d.feed(chunk).ok());
  CHECK(c.out == "hello world");
  CHECK(c.err == "oops");
  CHECK(c.in == "in");
  CHECK(c.pieces.size() == 4);
  CHECK(d.at_frame_boundary());
}

TEST_CASE("a stream split at every byte position gives the same result") {
  std::string stream = encode(stream_kind::stdout_stream, "first line\n") + encode(stream_kind::stderr_stream, "") +
                       encode(stream_kind::stderr_stream, "an error\n") + encode(stream_kind::stdout_stream, "x");
  for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
    CAPTURE(cut);
    collected c;
    auto d = c.make();
    REQUIRE(d.feed(std::string_view(stream).substr(0, cut)).ok());
    REQUIRE(d.feed(std::string_view(stream).substr(cut)).ok());
    CHECK(c.out == "first line\nx");
    CHECK(c.err == "an error\n");
    CHECK(d.at_frame_boundary());
  }
}

TEST_CASE("a stream fed one byte at a time forwards every payload byte as it arrives") {
  std::string stream = encode(stream_kind::stdout_stream, "abc") + encode(stream_kind::stderr_stream, "de");
  collected c;
  auto d = c.make();
  for (std::size_t i = 0; i < stream.size(); ++i) {
    REQUIRE(d.feed(std::string_view(stream).substr(i, 1)).ok());
    // Inside a header, or inside a payload with bytes still owed: not a boundary.
    bool boundary = i + 1 == stream.size() || i + 1 == 11;
    CHECK(d.at_frame_boundary() == boundary);
  }
  CHECK(c.out == "abc");
  CHECK(c.err == "de");
  CHECK(c.pieces.size() == 5);  // one callback per payload byte
}

TEST_CASE("zero-length frames produce no callbacks and leave the demuxer at a boundary") {
  collected c;
  auto d = c.make();
  std::string chunk = encode(stream_kind::stdout_stream, "") + encode(stream_kind::stderr_stream, "") +
                      encode(stream_kind::stdout_stream, "") + encode(stream_kind::stdout_stream, "after");
  REQUIRE(d.feed(chunk).ok());
  REQUIRE(c.pieces.size() == 1);
  CHECK(c.pieces[0].second == "after");
  CHECK(d.at_frame_boundary());
  REQUIRE(d.feed(encode(stream_kind::stdout_stream, "")).ok());
  CHECK(c.pieces.size() == 1);
}

TEST_CASE("an empty chunk changes nothing") {
  collected c;
  auto d = c.make();
  REQUIRE(d.feed("").ok());
  CHECK(d.at_frame_boundary());
  REQUIRE(d.feed(std::string("\x01\x00\x00", 3)).ok());
  REQUIRE(d.feed("").ok());
  CHECK_FALSE(d.at_frame_boundary());
}

TEST_CASE("an unknown stream type is a failure and the demuxer stays broken") {
  collected c;
  auto d = c.make();
  std::string bad = encode(stream_kind::stdout_stream, "ok") + std::string("\x05\x00\x00\x00\x00\x00\x00\x01z", 9);
  auto r = d.feed(bad);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "DOCKER_STREAM_CORRUPT");
  CHECK(r.error().message.find("5") != std::string::npos);
  CHECK(c.out == "ok");  // what came before the bad header was delivered
  auto again = d.feed(encode(stream_kind::stdout_stream, "more"));
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == "DOCKER_STREAM_CORRUPT");
  CHECK(c.out == "ok");
}

TEST_CASE("TTY output read as a multiplexed stream is detected as corrupt") {
  collected c;
  auto d = c.make();
  auto r = d.feed("hello world, this is a tty\r\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == "DOCKER_STREAM_CORRUPT");
  CHECK(c.pieces.empty());
}

TEST_CASE("a large payload split in chunks keeps memory per callback bounded by the chunk") {
  std::string payload(300000, 'p');
  for (std::size_t i = 0; i < payload.size(); i += 7) payload[i] = static_cast<char>('a' + (i % 26));
  std::string stream = encode(stream_kind::stdout_stream, payload);
  collected c;
  auto d = c.make();
  for (std::size_t pos = 0; pos < stream.size(); pos += 4096) {
    REQUIRE(d.feed(std::string_view(stream).substr(pos, 4096)).ok());
  }
  CHECK(c.out == payload);
  for (auto& [kind, piece] : c.pieces) CHECK(piece.size() <= 4096);
}
