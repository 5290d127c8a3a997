#include "docker/pull_progress.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>

namespace cssh::docker {
namespace {

// A line longer than this is not progress; keep memory bounded against a broken peer.
constexpr std::size_t max_line = 64 * 1024;

std::string mebibytes(std::uint64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

bool layer_finished(const std::string& status) {
  return status == "Pull complete" || status == "Already exists" || status == "Download complete";
}

}  // namespace

void pull_progress::feed(std::string_view piece) {
  while (!piece.empty()) {
    auto nl = piece.find('\n');
    if (nl == std::string_view::npos) {
      if (partial_.size() + piece.size() <= max_line) partial_.append(piece);
      return;
    }
    if (partial_.empty()) {
      line(piece.substr(0, nl));
    } else {
      if (partial_.size() + nl <= max_line) partial_.append(piece.substr(0, nl));
      line(partial_);
      partial_.clear();
    }
    piece.remove_prefix(nl + 1);
  }
}

void pull_progress::finish() {
  if (!partial_.empty()) line(partial_);
  partial_.clear();
}

void pull_progress::line(std::string_view text) {
  while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
  if (text.empty()) return;
  ++lines_;
  auto msg = nlohmann::json::parse(text, nullptr, false);
  if (!msg.is_object()) return;
  if (!error_) {
    if (msg.contains("errorDetail") && msg["errorDetail"].is_object() && msg["errorDetail"].contains("message") &&
        msg["errorDetail"]["message"].is_string()) {
      error_ = msg["errorDetail"]["message"].get<std::string>();
    }
    if (msg.contains("error") && msg["error"].is_string()) error_ = msg["error"].get<std::string>();
  }
  if (!msg.contains("status") || !msg["status"].is_string()) return;
  std::string status = msg["status"].get<std::string>();
  std::string id = msg.contains("id") && msg["id"].is_string() ? msg["id"].get<std::string>() : "";
  // Lines without an id speak about the whole image ("Pulling from ...", "Digest: ...", "Status: ...").
  if (id.empty() || status.rfind("Pulling from", 0) == 0) {
    if (status.rfind("Status:", 0) == 0) final_status_ = status;
    return;
  }
  auto& l = layers_[id];
  l.status = status;
  if (msg.contains("progressDetail") && msg["progressDetail"].is_object()) {
    const auto& detail = msg["progressDetail"];
    if (detail.contains("current") && detail["current"].is_number_unsigned()) l.current = detail["current"];
    if (detail.contains("total") && detail["total"].is_number_unsigned()) l.total = detail["total"];
  }
  if (layer_finished(status)) l.done = true;
}

std::string pull_progress::summary() const {
  std::size_t done = 0;
  std::uint64_t current = 0;
  std::uint64_t total = 0;
  for (const auto& [id, l] : layers_) {
    if (l.done) ++done;
    current += l.done && l.total > 0 ? l.total : l.current;
    total += l.total;
  }
  if (layers_.empty()) return "waiting for the registry";
  std::string out = std::to_string(done) + " of " + std::to_string(layers_.size()) + " layers done";
  if (total > 0) out += ", " + mebibytes(current) + " of " + mebibytes(total) + " downloaded";
  return out;
}

}  // namespace cssh::docker
