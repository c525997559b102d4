#!/usr/bin/env bash
# scripts/check-format.sh [SOURCE_DIR] — fails when a C/C++ source is not formatted as
# .clang-format says (clang-format-14, Debian's). Run by CTest (test "formatting") and so by CI.
# To fix: scripts/check-format.sh --fix, or clang-format-14 -i FILE.
set -euo pipefail
fix=false
if [[ "${1:-}" == "--fix" ]]; then
  fix=true
  shift
fi
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$root"
clang_format=${CLANG_FORMAT:-clang-format-14}
command -v "$clang_format" >/dev/null || { echo "check-format: $clang_format not found (scripts/setup.sh installs it)" >&2; exit 1; }

# The tracked sources in a checkout; the same folders by name in an unpacked tarball.
if git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git -C "$root" ls-files -- '*.cpp' '*.hpp' '*.h' '*.c')
else
  mapfile -t files < <(find host sdk plugins tests bench -type f \
    \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.c' \) | sort)
fi
if $fix; then
  "$clang_format" -i "${files[@]}"
  echo "check-format: formatted ${#files[@]} files"
  exit 0
fi
if "$clang_format" --dry-run -Werror "${files[@]}"; then
  echo "check-format: ${#files[@]} files formatted as .clang-format says"
else
  echo "check-format: the files above are not formatted; run scripts/check-format.sh --fix" >&2
  exit 1
fi
