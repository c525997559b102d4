#!/usr/bin/env bash
# Installs the Debian 12 packages the host needs to build, run and test — only those missing.
# Safe to run again. Uses sudo when not root. Usage: scripts/setup.sh [--with-fuzz]
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libboost1.81-dev libboost-url1.81-dev libboost-program-options1.81-dev
  libssl-dev openssl ca-certificates
  nlohmann-json3-dev libyaml-cpp-dev libc-ares-dev
  libhiredis-dev redis-server   # the cluster engine's client, and the server its tests start
  libgtest-dev libgmock-dev libbenchmark-dev
  googletest   # its sources: the sanitizer build compiles GoogleTest itself (tests/CMakeLists.txt)
  python3 python3-websockets
  prometheus python3-prometheus-client
  clang-format-14 git
  dpkg-dev systemd init-system-helpers procps   # the .deb test: dpkg-shlibdeps, systemd-analyze, deb-systemd-helper, kill
)
if [[ "${1:-}" == "--with-fuzz" ]]; then
  packages+=(clang-14 libclang-rt-14-dev)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

as_root=()
if [[ $(id -u) -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  as_root=(sudo)
fi
echo "setup: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
