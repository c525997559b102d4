#!/usr/bin/env bash
# Builds the Debian packages from a release build: build/apistudio-host_<version>_amd64.deb and
# build/apistudio-sdk-dev_<version>_all.deb (cmake/packaging.cmake). Install with
#   sudo apt install ./build/apistudio-host_*.deb
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
cd build
cpack -G DEB
ls -1 "$PWD"/apistudio-*.deb
