#include "docker/guest_helper.hpp"

#include <openssl/evp.h>

#include <cstdio>
#include <map>

#include "common/log.hpp"
#include "docker/container_spec.hpp"
#include "docker/tar_archive.hpp"

// guest/helper_blob.cpp: the static helper binary, included at build time.
extern "C" const unsigned char cssh_guest_helper_begin[];
extern "C" const unsigned char cssh_guest_helper_end[];

namespace cssh::docker {

std::string_view helper_binary() {
  return {reinterpret_cast<const char*>(cssh_guest_helper_begin),
          static_cast<std::size_t>(cssh_guest_helper_end - cssh_guest_helper_begin)};
}

const std::string& helper_digest() {
  static const std::string digest = [] {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    auto bytes = helper_binary();
    EVP_Digest(bytes.data(), bytes.size(), md, &length, EVP_sha256(), nullptr);
    std::string hex;
    for (unsigned i = 0; i < 8 && i < length; ++i) {
      char two[3];
      std::snprintf(two, sizeof two, "%02x", md[i]);
      hex += two;
    }
    return hex;
  }();
  return digest;
}

std::string helper_volume_name() { return "containerssh-cpp-helper-" + helper_digest(); }
std::string helper_image_repo() { return "containerssh-cpp-helper"; }
std::string helper_image_reference() { return helper_image_repo() + ":" + helper_digest(); }

std::string helper_bind(const std::string& volume) { return volume + ":" + helper_directory + ":ro"; }

std::vector<std::string> helper_run_prefix(unsigned rows, unsigned cols) {
  std::vector<std::string> prefix{helper_path, "run"};
  if (rows > 0 && cols > 0) {
    prefix.push_back("--winsize");
    prefix.push_back(std::to_string(rows) + "x" + std::to_string(cols));
  }
  prefix.push_back("--");
  return prefix;
}

namespace {

/// Whether a volume's description carries our label with this helper's digest.
bool labelled_ours(const nlohmann::json& volume) {
  auto labels = volume.find("Labels");
  if (labels == volume.end() || !labels->is_object()) return false;
  auto digest = labels->find(label_helper);
  return digest != labels->end() && digest->is_string() && digest->get<std::string>() == helper_digest();
}

}  // namespace

helper_installer::helper_installer(std::shared_ptr<engine> e, std::string instance_id)
    : engine_(std::move(e)), instance_id_(std::move(instance_id)) {}

std::string helper_installer::installed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return installed_ ? helper_volume_name() : std::string();
}

void helper_installer::ensure(callback<std::string> done) {
  bool check_only = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    check_only = installed_ && !installing_;
  }
  if (!check_only) return install(std::move(done));
  auto self = shared_from_this();
  engine_->inspect_volume(helper_volume_name(), [self, done = std::move(done)](result<std::optional<nlohmann::json>> r) mutable {
    // An Engine that does not answer fails at once: the session says so, rather than wait twice.
    if (!r) return done(r.error());
    if (r.value() && labelled_ours(*r.value())) return done(helper_volume_name());
    // Removed (e.g. `docker volume prune` between sessions), or made again empty and unlabelled by
    // a container that mounted it meanwhile: the installation fills an empty volume.
    log::warning("HELPER_VOLUME_MISSING", "the guest helper's volume " + helper_volume_name() +
                                              (r.value() ? " is not the one this server made" : " was removed") +
                                              " while the server runs; installing the helper again");
    self->install(std::move(done));
  });
}

void helper_installer::install(callback<std::string> done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    waiters_.push_back(std::move(done));
    if (installing_) return;
    installing_ = true;
  }
  auto self = shared_from_this();
  engine_->image_exists(helper_image_reference(), [self](result<bool> present) {
    if (!present) return self->finish(present.error());
    if (present.value()) return self->step_volume();
    std::string tar = build_tar({tar_file{std::string(helper_directory + 1) + "/helper",
                                          std::string(helper_binary()), 0755, 0, 0}});
    self->engine_->import_image(helper_image_repo(), helper_digest(), std::move(tar), [self](result<void> r) {
      if (!r) return self->finish(r.error());
      log::info("HELPER_IMAGE_IMPORTED", "imported the guest helper's image " + helper_image_reference());
      self->step_volume();
    });
  });
}

void helper_installer::step_volume() {
  auto self = shared_from_this();
  engine_->create_volume(helper_volume_name(), {{label_managed, "true"}, {label_helper, helper_digest()}},
                         [self](result<void> r) {
                           if (!r) return self->finish(r.error());
                           self->step_fill();
                         });
}

/// Creating a container of the helper's image with the volume mounted makes the Engine copy the
/// image's /.containerssh into the volume when the volume is empty (and leaves it alone when
/// not). The container never starts; it is removed at once.
void helper_installer::step_fill() {
  nlohmann::json body{
      {"Image", helper_image_reference()},
      {"Cmd", {helper_path, "version"}},
      {"NetworkDisabled", true},
      {"Labels", {{label_managed, "true"}, {label_instance, instance_id_}}},
      {"HostConfig", {{"Binds", {helper_volume_name() + ":" + helper_directory}}}},
  };
  auto self = shared_from_this();
  engine_->create_container(body, "", [self](result<std::string> created) {
    if (!created) return self->finish(created.error());
    self->engine_->remove_container(created.value(), [self](result<void> removed) {
      if (!removed) return self->finish(removed.error());
      self->finish(helper_volume_name());
    });
  });
}

void helper_installer::finish(result<std::string> r) {
  std::vector<callback<std::string>> waiters;
  {
    std::lock_guard<std::mutex> lock(mu_);
    installing_ = false;
    if (r) installed_ = true;
    waiters.swap(waiters_);
  }
  if (!r) {
    failure f = r.error();
    f.message = "installing the guest helper (volume " + helper_volume_name() + ") failed: " + f.message;
    for (auto& w : waiters) w(f);
    return;
  }
  for (auto& w : waiters) w(r.value());
}

}  // namespace cssh::docker
