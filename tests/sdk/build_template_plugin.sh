#!/usr/bin/env bash
# Builds the SDK's examples the way a third-party author would: configure sdk/ as a project of its
# own, install it into a fresh prefix, then configure and build every sdk/examples/<name>/ that
# has a CMakeLists.txt out of tree against that prefix alone, and run the example's own tests if
# it has any. Also checks what the package holds (every SDK header, nothing of the host), that the
# host build's "sdk" install component holds the same, the package's version rule
# (SameMajorVersion), and that every plugin exports only its two entry points.
#
# usage: build_template_plugin.sh HOST_BUILD_DIR SOURCE_DIR WORK_DIR [CMAKE [CTEST]]
# result: WORK_DIR/build/<example>/, e.g. WORK_DIR/build/template_plugin/libtemplate_plugin.so
set -euo pipefail

host_build=$1
source_dir=$2
work=$3
cmake=${4:-cmake}
# Unless told, the ctest that comes with the cmake given.
if [[ -n ${5:-} ]]; then
  ctest=$5
elif [[ $cmake == */* ]]; then
  ctest=$(dirname "$cmake")/ctest
else
  ctest=ctest
fi

fail() { echo "build_template_plugin: $*" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix

# The SDK on its own: nothing of the host is configured, nothing is compiled.
"$cmake" -S "$source_dir/sdk" -B "$work/sdk-build"
"$cmake" --install "$work/sdk-build" --prefix "$prefix"

# What a package must contain, and nothing else; sets config_dir.
check_package() {
  local package=$1 what=$2 header
  # Every file under sdk/include/apistudio, subfolders included, installed unchanged.
  while IFS= read -r header; do
    cmp -s "$source_dir/sdk/include/$header" "$package/include/$header" ||
      fail "$what: include/$header missing or different from sdk/include/$header"
  done < <(cd "$source_dir/sdk/include" && find apistudio -type f)
  config_dir=$(dirname "$(find "$package" -name ApiStudioSdkConfig.cmake -print -quit)")
  [[ -n $config_dir && $config_dir != . ]] || fail "$what: no ApiStudioSdkConfig.cmake installed"
  local f
  for f in ApiStudioSdkConfigVersion.cmake ApiStudioSdkTargets.cmake \
    apistudio_plugin_exports.map; do
    [[ -f $config_dir/$f ]] || fail "$what: missing $f next to ApiStudioSdkConfig.cmake"
  done
  grep -q 'apistudio::sdk' "$config_dir/ApiStudioSdkTargets.cmake" ||
    fail "$what: ApiStudioSdkTargets.cmake does not define apistudio::sdk"
  # Nothing of the host: no binary, and no file outside the headers and the package folder.
  if find "$package" -name 'apistudio-host' -o -name '*.a' -o -name 'lib*.so' | grep -q .; then
    fail "$what: installs more than the SDK: $(find "$package" -type f)"
  fi
  local extra
  extra=$(find "$package" -type f ! -path "$package/include/apistudio/*" ! -path "$config_dir/*")
  [[ -z $extra ]] || fail "$what: installs files that are not the SDK's:"$'\n'"$extra"
}

check_package "$prefix" "the SDK installed on its own"
sdk_config_dir=$config_dir

# The host build's "sdk" component is the other documented way in: the same package.
"$cmake" --install "$host_build" --component sdk --prefix "$work/host-prefix"
check_package "$work/host-prefix" "the host's sdk component"
diff -r "$prefix/include" "$work/host-prefix/include" >&2 ||
  fail "the host's sdk component installs other headers than the SDK on its own"
# (The generated .cmake files differ in ways that do not matter, e.g. the version file's dead
# pointer-size branch, where the host knows CMAKE_SIZEOF_VOID_P: the probes below check both.)
cmp -s "$sdk_config_dir/apistudio_plugin_exports.map" "$config_dir/apistudio_plugin_exports.map" ||
  fail "the host's sdk component installs another apistudio_plugin_exports.map"

# SameMajorVersion: asking for another major must fail, asking for 1.0 must succeed; for the SDK
# installed on its own and for the host's component alike.
probe() {
  local package=$1 version=$2 dir
  dir=$work/probe-$(basename "$1")-$2
  mkdir -p "$dir"
  cat >"$dir/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.20)
project(probe LANGUAGES NONE)
find_package(ApiStudioSdk $version REQUIRED)
CMAKE
  "$cmake" -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$package" >"$dir/log" 2>&1
}
for package in "$prefix" "$work/host-prefix"; do
  probe "$package" 1.0 || fail "find_package(ApiStudioSdk 1.0) failed in $package:" \
    "$(cat "$work/probe-$(basename "$package")-1.0/log")"
  if probe "$package" 2; then fail "find_package(ApiStudioSdk 2) accepted $package's 1.x"; fi
  if probe "$package" 0.9; then fail "find_package(ApiStudioSdk 0.9) accepted $package's 1.x"; fi
done

# Exactly the two entry points are exported (hidden visibility and the version script that
# apistudio_add_plugin applies): not even libstdc++'s weak template instantiations.
check_exports() {
  local plugin=$1 exports expected
  exports=$(nm -D --defined-only "$plugin" | awk 'NF == 3 {print $3}' | sed 's/@.*//' | sort -u)
  expected=$(printf '%s\n' apistudio_plugin_abi_version apistudio_plugin_descriptor_v1)
  if [[ $exports != "$expected" ]]; then
    fail "$plugin exports more or less than its two entry points:"$'\n'"$exports"
  fi
}

# Every example, out of tree, with only the installed prefix to find the SDK.
examples=0
for example_dir in "$source_dir"/sdk/examples/*/; do
  [[ -f $example_dir/CMakeLists.txt ]] || continue
  example=$(basename "$example_dir")
  build=$work/build/$example
  examples=$((examples + 1))
  "$cmake" -S "$example_dir" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON \
    -DCMAKE_FIND_PACKAGE_NO_SYSTEM_PACKAGE_REGISTRY=ON
  "$cmake" --build "$build" -j2

  # The SDK came from the prefix, not from the source tree.
  found=$(sed -n 's/^ApiStudioSdk_DIR:[A-Z]*=//p' "$build/CMakeCache.txt")
  [[ $found -ef $sdk_config_dir ]] ||
    fail "$example: found the SDK in '$found', not in the installed $sdk_config_dir"
  # Nor its headers: an include path into sdk/include would hide a header the package lacks.
  if grep -oE -- '-(I|isystem ?)[^ "]+' "$build/compile_commands.json" |
    sed -E 's/^-(I|isystem ?)//' | xargs -r realpath -m -- |
    grep -qxF "$(realpath "$source_dir/sdk/include")"; then
    fail "$example: compiles against $source_dir/sdk/include instead of the installed headers"
  fi

  plugins=$(find "$build" -name 'lib*.so' -type f ! -path '*/CMakeFiles/*')
  # Every example is a plugin: a build without one put it somewhere this check would not look.
  [[ -n $plugins ]] || fail "$example: no lib*.so in $build after the build"
  while IFS= read -r plugin; do check_exports "$plugin"; done <<<"$plugins"

  # The example's own tests (enable_testing() and add_test()), if it has any.
  if [[ -f $build/CTestTestfile.cmake ]] &&
    ! "$ctest" --test-dir "$build" -N | grep -q '^Total Tests: 0$'; then
    "$ctest" --test-dir "$build" --output-on-failure --no-tests=error --timeout 120 ||
      fail "$example: its tests failed (ctest --test-dir $build)"
  fi
done
((examples > 0)) || fail "no sdk/examples/*/CMakeLists.txt found under $source_dir"

# The SDK's own tests (sdk/tests/<name>/: the fake host's), against the installed prefix too.
for suite_dir in "$source_dir"/sdk/tests/*/; do
  [[ -f $suite_dir/CMakeLists.txt ]] || continue
  suite=$(basename "$suite_dir")
  build=$work/sdk-tests/$suite
  "$cmake" -S "$suite_dir" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON -DCMAKE_FIND_PACKAGE_NO_SYSTEM_PACKAGE_REGISTRY=ON
  "$cmake" --build "$build" -j2
  "$ctest" --test-dir "$build" --output-on-failure --no-tests=error --timeout 120 ||
    fail "sdk/tests/$suite: its tests failed (ctest --test-dir $build)"
done

echo "build_template_plugin: OK: $examples example(s) in $work/build"
