#!/usr/bin/env bash
# The README's second command: install what is missing, build, run every test with CTest.
# Usage: scripts/test.sh [preset]   (release by default; asan-ubsan for the sanitizer build)
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
scripts/setup.sh
scripts/build.sh "$preset"
ctest --preset "$preset" --parallel 2
