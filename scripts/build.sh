#!/usr/bin/env bash
# Configures and builds the server and its tests with CMake + Ninja (RelWithDebInfo, ccache).
# Usage: scripts/build.sh [extra cmake configure args, e.g. -DCSSH_SANITIZE=ON]
# Environment: CSSH_BUILD_DIR (default ./build), CSSH_BUILD_TYPE (default RelWithDebInfo),
#              CSSH_BUILD_JOBS (default: ninja's choice).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${CSSH_BUILD_DIR:-$ROOT/build}
BUILD_TYPE=${CSSH_BUILD_TYPE:-RelWithDebInfo}

configure_args=(-S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE")
# Choose the generator only for a fresh build directory; CMake refuses to switch it later.
if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  configure_args+=(-G Ninja)
fi
if command -v ccache >/dev/null 2>&1; then
  configure_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  # The precompiled headers (CMakeLists.txt) are cached only when ccache may ignore their
  # defines and time stamps.
  export CCACHE_SLOPPINESS=${CCACHE_SLOPPINESS:-pch_defines,time_macros,include_file_mtime,include_file_ctime}
else
  echo "build: ccache not found; building without it" >&2
fi

echo "build: configuring $BUILD_DIR ($BUILD_TYPE)"
cmake "${configure_args[@]}" "$@"

build_args=(--build "$BUILD_DIR")
if [[ -n "${CSSH_BUILD_JOBS:-}" ]]; then
  build_args+=(--parallel "$CSSH_BUILD_JOBS")
fi
echo "build: building"
cmake "${build_args[@]}"

if [[ -x "$BUILD_DIR/containerssh" ]]; then
  echo "build: server binary: $BUILD_DIR/containerssh"
else
  echo "build: done (no server binary in this tree, e.g. the fuzz tree)"
fi
