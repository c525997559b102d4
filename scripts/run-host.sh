#!/usr/bin/env bash
# The README's first command: install what is missing, build, start the host with the shipped
# config on 127.0.0.1:58123. Extra arguments go to apistudio-host.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
exec build/bin/apistudio-host --config config/apistudio.yaml "$@"
