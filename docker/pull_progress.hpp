#pragma once
// Reads the progress stream of POST /images/create (one JSON object per line, arriving in
// arbitrary pieces): remembers the error that ends a failed pull and summarises how far the
// layers have come, for throttled progress logs.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace cssh::docker {

class pull_progress {
 public:
  /// Feeds the next piece of the stream; lines may be split anywhere.
  void feed(std::string_view piece);
  /// Call once the stream ended: a last line without a newline counts too.
  void finish();

  /// The pull's error ("error" / "errorDetail.message"), once the stream reported one.
  const std::optional<std::string>& error() const { return error_; }
  /// The Engine's closing words, e.g. "Status: Downloaded newer image for reg/a:b".
  const std::string& final_status() const { return final_status_; }
  /// "3 of 5 layers done, 12.0 MiB of 40.1 MiB downloaded" (what is known so far).
  std::string summary() const;
  /// Lines seen; tells whether anything new arrived since the last look.
  std::uint64_t lines() const { return lines_; }

 private:
  struct layer {
    std::string status;
    std::uint64_t current = 0;
    std::uint64_t total = 0;
    bool done = false;
  };
  void line(std::string_view text);

  std::string partial_;
  std::map<std::string, layer> layers_;
  std::optional<std::string> error_;
  std::string final_status_;
  std::uint64_t lines_ = 0;
};

}  // namespace cssh::docker
