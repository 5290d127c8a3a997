// containerssh: an SSH server that gives every user a fresh Docker container.

#include <cstdio>
#include <cstring>
#include <string>

#include "app/healthcheck_command.hpp"
#include "app/server.hpp"
#include "common/log.hpp"
#include "config/loader.hpp"

#ifndef CSSH_VERSION
#define CSSH_VERSION "0.1.0"
#endif

namespace {

void print_help() {
  std::printf(
      "Usage: containerssh --config FILE\n"
      "       containerssh --healthcheck [--config FILE]\n"
      "\n"
      "An SSH server that launches a fresh Docker container for every SSH session,\n"
      "compatible with ContainerSSH's configuration file and webhooks.\n"
      "\n"
      "Options:\n"
      "  --config FILE   YAML configuration file (ContainerSSH layout)\n"
      "  --healthcheck   ask the running server's health endpoint (health.client.url,\n"
      "                  default http://127.0.0.1:7000/); exit 0 if healthy, 1 if not\n"
      "  --version       print the version and exit\n"
      "  --help          print this help and exit\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path;
  bool healthcheck = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      print_help();
      return 0;
    }
    if (arg == "--version") {
      std::printf("containerssh %s\n", CSSH_VERSION);
      return 0;
    }
    if (arg == "--healthcheck") {
      healthcheck = true;
    } else if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(9);
    } else {
      std::fprintf(stderr, "containerssh: unknown argument \"%s\" (try --help)\n", arg.c_str());
      return 2;
    }
  }
  if (healthcheck && config_path.empty()) return cssh::app::run_healthcheck(cssh::config::health_config{});
  if (config_path.empty()) {
    std::fprintf(stderr, "containerssh: --config FILE is required (try --help)\n");
    return 2;
  }
  auto loaded = cssh::config::load_from_file(config_path);
  if (!loaded) {
    std::fprintf(stderr, "containerssh: invalid configuration in %s:\n%s\n", config_path.c_str(),
                 loaded.error().message.c_str());
    return 1;
  }
  if (healthcheck) return cssh::app::run_healthcheck(loaded->health);
  return cssh::app::run_server(std::move(loaded.value()));
}
