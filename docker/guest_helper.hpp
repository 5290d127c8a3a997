#pragma once
// The guest helper (guest/helper.c): a small static program the server builds, embeds in its own
// binary, and makes available read-only at /.containerssh/helper in every container it creates,
// whatever the image holds and with a read-only root filesystem too. It starts programs with the
// terminal size already set (`run --winsize`), delivers signals to exec'd programs (`signal`), and
// is the default idle process of connection mode (`idle`).
//
// How it gets there: the server imports an image holding only the helper (`docker import` through
// the Engine's API), creates a named volume, and fills it once by creating (never starting) a
// container of that image with the volume mounted: the Engine copies the image's files into an
// empty volume. Image and volume are named after the helper's content hash, so two versions of
// the server never share (or break) each other's helper. Session containers then bind the volume
// read-only.

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "docker/engine.hpp"

namespace cssh::docker {

inline constexpr const char* helper_directory = "/.containerssh";
inline constexpr const char* helper_path = "/.containerssh/helper";
/// The environment variable that marks a program `helper run` started, for `helper signal`.
inline constexpr const char* exec_marker_variable = "CSSH_EXEC";
/// Label on the helper's volume and image: the helper's content hash.
inline constexpr const char* label_helper = "containerssh_cpp_helper";

/// The helper program's bytes, embedded at build time.
std::string_view helper_binary();
/// The first 16 hex digits of the helper's SHA-256.
const std::string& helper_digest();
/// "containerssh-cpp-helper-<digest>".
std::string helper_volume_name();
/// Repository and tag of the image holding the helper: "containerssh-cpp-helper", "<digest>".
std::string helper_image_repo();
std::string helper_image_reference();

/// The Binds entry mounting the helper volume read-only at /.containerssh.
std::string helper_bind(const std::string& volume);

/// `helper run [--winsize ROWSxCOLS] --`: what goes before a program's argv so that it starts with
/// its terminal size set (no --winsize when rows or cols is 0).
std::vector<std::string> helper_run_prefix(unsigned rows, unsigned cols);

/// Makes sure the helper's volume exists and holds the helper. The first call in a process (re)does
/// the whole installation (import the image if absent, create the volume, fill it if empty), so an
/// empty volume left by a crash is repaired; later calls only check that the volume is still
/// there (one inspect) and reinstall if someone removed it. Concurrent calls share one
/// installation. Thread-safe; `done` runs on a reactor thread with the volume's name.
class helper_installer : public std::enable_shared_from_this<helper_installer> {
 public:
  /// `instance_id` labels the short-lived container that fills the volume, so orphan reaping
  /// removes it if the server dies in between.
  helper_installer(std::shared_ptr<engine> e, std::string instance_id);
  void ensure(callback<std::string> done);
  /// The volume's name once an installation succeeded in this process ("" before).
  std::string installed() const;

 private:
  void install(callback<std::string> done);
  void step_volume();
  void step_fill();
  void finish(result<std::string> r);

  std::shared_ptr<engine> engine_;
  std::string instance_id_;
  mutable std::mutex mu_;
  bool installed_ = false;
  bool installing_ = false;
  std::vector<callback<std::string>> waiters_;
};

}  // namespace cssh::docker
