#!/usr/bin/env bash
# Builds sdk/examples/template_plugin the way a third-party author would: install the SDK
# component of a configured host build into a fresh prefix, then configure and build the template
# out of tree against that prefix alone. Also checks the package's version rule (SameMajorVersion)
# and that the plugin exports only its two entry points.
#
# usage: build_template_plugin.sh HOST_BUILD_DIR SOURCE_DIR WORK_DIR [CMAKE]
# result: WORK_DIR/build/libtemplate_plugin.so
set -euo pipefail

host_build=$1
source_dir=$2
work=$3
cmake=${4:-cmake}

fail() { echo "build_template_plugin: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

"$cmake" --install "$host_build" --component sdk --prefix "$prefix"

# What the package must contain, and nothing of the host.
for header in plugin_abi.h plugin.hpp settings_error.hpp settings.hpp; do
  [[ -f $prefix/include/apistudio/$header ]] || fail "missing include/apistudio/$header"
done
config_dir=$(dirname "$(find "$prefix" -name ApiStudioSdkConfig.cmake -print -quit)")
[[ -n $config_dir && $config_dir != . ]] || fail "no ApiStudioSdkConfig.cmake installed"
for f in ApiStudioSdkConfigVersion.cmake ApiStudioSdkTargets.cmake apistudio_plugin_exports.map; do
  [[ -f $config_dir/$f ]] || fail "missing $f next to ApiStudioSdkConfig.cmake"
done
grep -q 'apistudio::sdk' "$config_dir/ApiStudioSdkTargets.cmake" ||
  fail "ApiStudioSdkTargets.cmake does not define apistudio::sdk"
if find "$prefix" -name 'apistudio-host' -o -name '*.a' -o -name 'lib*.so' | grep -q .; then
  fail "the sdk component installs more than the SDK: $(find "$prefix" -type f)"
fi

# The template, out of tree, with only the installed prefix to find the SDK.
"$cmake" -S "$source_dir/sdk/examples/template_plugin" -B "$work/build" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_PACKAGE_NO_SYSTEM_PACKAGE_REGISTRY=ON
"$cmake" --build "$work/build" -j2
plugin=$work/build/libtemplate_plugin.so
[[ -f $plugin ]] || fail "no $plugin after the build"

# Exactly the two entry points are exported (hidden visibility and the version script that
# apistudio_add_plugin applies): not even libstdc++'s weak template instantiations.
exports=$(nm -D --defined-only "$plugin" | awk 'NF == 3 {print $3}' | sed 's/@.*//' | sort -u)
expected=$(printf '%s\n' apistudio_plugin_abi_version apistudio_plugin_descriptor_v1)
if [[ $exports != "$expected" ]]; then
  fail "libtemplate_plugin.so exports more than its entry points:"$'\n'"$exports"
fi

# SameMajorVersion: asking for another major must fail, asking for 1.0 must succeed.
probe() {
  local version=$1 dir=$work/probe-$1
  mkdir -p "$dir"
  cat >"$dir/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(probe LANGUAGES NONE)
find_package(ApiStudioSdk $version REQUIRED)
CMAKE
  "$cmake" -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$prefix" >"$dir/log" 2>&1
}
probe 1.0 || fail "find_package(ApiStudioSdk 1.0) failed: $(cat "$work/probe-1.0/log")"
if probe 2; then fail "find_package(ApiStudioSdk 2) accepted a 1.x SDK"; fi
if probe 0.9; then fail "find_package(ApiStudioSdk 0.9) accepted a 1.x SDK"; fi

echo "build_template_plugin: OK: $plugin"
