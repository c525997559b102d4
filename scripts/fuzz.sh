#!/usr/bin/env bash
# scripts/fuzz.sh SECONDS [TARGET...] — build the libFuzzer targets with clang (Debian's clang-14)
# into build-fuzz and run each for SECONDS (all of tests/fuzz/*_fuzz.cpp unless TARGETs such as
# "envelope" are named). Exits non-zero as soon as a target finds a crash; the input is left in
# build-fuzz/fuzz-artifacts/<name>/ — add it to tests/fuzz/corpus/<name>/ once fixed, so that the
# normal test run (fuzz_replay_<name>) keeps replaying it.
#
# The committed corpus is only read: new interesting inputs go to build-fuzz/fuzz-corpus/<name>/.
# Environment: APISTUDIO_FUZZ_BUILD_DIR (default build-fuzz), JOBS (default 2),
# CC / CXX (default clang-14 / clang++-14), FUZZ_SEED (default: a random seed per run; CI sets
# one so that what it tries is known beforehand, docs/security.md "Fuzzing").
set -euo pipefail

if [[ $# -lt 1 || ! $1 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 SECONDS [TARGET...]   e.g. $0 60, or $0 30 envelope http_request" >&2
  exit 2
fi
seconds=$1
shift

root=$(cd "$(dirname "$0")/.." && pwd)
build=${APISTUDIO_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${JOBS:-2}

if [[ $# -gt 0 ]]; then
  names=("$@")
else
  names=()
  for source in "$root"/tests/fuzz/*_fuzz.cpp; do
    base=$(basename "$source" .cpp)
    names+=("${base%_fuzz}")
  done
fi

cmake -S "$root" -B "$build" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="${CC:-clang-14}" -DCMAKE_CXX_COMPILER="${CXX:-clang++-14}" \
  -DAPISTUDIO_FUZZ=ON -DAPISTUDIO_BUILD_TESTS=OFF -DAPISTUDIO_BUILD_BENCH=OFF >/dev/null
targets=()
for name in "${names[@]}"; do targets+=("${name}_fuzz"); done
cmake --build "$build" --target "${targets[@]}" -j "$jobs"

status=0
for name in "${names[@]}"; do
  corpus="$root/tests/fuzz/corpus/$name"
  work="$build/fuzz-corpus/$name"
  artifacts="$build/fuzz-artifacts/$name/"
  mkdir -p "$work" "$artifacts"
  options=(-max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$artifacts")
  [[ -n "${FUZZ_SEED:-}" ]] && options+=(-seed="$FUZZ_SEED")
  [[ -f "$root/tests/fuzz/$name.dict" ]] && options+=(-dict="$root/tests/fuzz/$name.dict")
  echo "=== $name: ${seconds}s (corpus $corpus)"
  # The first directory receives new inputs; the committed corpus only seeds the run.
  if ! "$build/bin/${name}_fuzz" "${options[@]}" "$work" "$corpus"; then
    echo "=== $name: FAILED — reproducer in $artifacts" >&2
    status=1
    break
  fi
done
exit $status
