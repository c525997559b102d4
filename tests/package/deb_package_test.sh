#!/usr/bin/env bash
# The Debian packages as an operator gets them (cmake/packaging.cmake): build both with cpack,
# check their contents and control data with dpkg-deb, install them into a fresh dpkg root made
# here (never onto this machine), run the installed host from that root, upgrade over an edited
# config, verify the shipped systemd unit, remove and purge.
#
# Usage: deb_package_test.sh BUILD_DIR WORK_DIR CMAKE CPACK VERSION
set -euo pipefail

build_dir=$1
work=$2
cmake=$3
cpack=$4
version=$5

fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "== $*"; }

for tool in dpkg dpkg-deb dpkg-shlibdeps systemd-analyze deb-systemd-helper /bin/kill; do
  command -v "$tool" >/dev/null ||
    { echo "SKIP: $tool not found (scripts/setup.sh installs it)"; exit 77; }
done

rm -rf "$work"
mkdir -p "$work/out"

step "cpack -G DEB"
"$cpack" -G DEB --config "$build_dir/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1 ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }
host_deb=$work/out/apistudio-host_${version}_amd64.deb
sdk_deb=$work/out/apistudio-sdk-dev_${version}_all.deb
[[ -f $host_deb ]] || fail "no $(basename "$host_deb") in: $(ls "$work/out")"
[[ -f $sdk_deb ]] || fail "no $(basename "$sdk_deb") in: $(ls "$work/out")"

step "control data"
field() { dpkg-deb -f "$1" "$2"; }
[[ $(field "$host_deb" Package) == apistudio-host ]] || fail "host package name: $(field "$host_deb" Package)"
[[ $(field "$host_deb" Version) == "$version" ]] || fail "host version: $(field "$host_deb" Version)"
[[ $(field "$host_deb" Architecture) == amd64 ]] || fail "host architecture: $(field "$host_deb" Architecture)"
[[ $(field "$sdk_deb" Package) == apistudio-sdk-dev ]] || fail "sdk package name: $(field "$sdk_deb" Package)"
[[ $(field "$sdk_deb" Version) == "$version" ]] || fail "sdk version: $(field "$sdk_deb" Version)"
[[ $(field "$sdk_deb" Architecture) == all ]] || fail "sdk architecture: $(field "$sdk_deb" Architecture)"
depends=$(field "$host_deb" Depends)
echo "Depends: $depends"
# dpkg-shlibdeps' result: the libraries the binary and the plugins really link.
for lib in libc6 libstdc++6 libyaml-cpp libboost-program-options libssl3 libc-ares2; do
  [[ $depends == *"$lib"* ]] || fail "Depends does not name $lib: '$depends'"
done
[[ $(field "$sdk_deb" Depends) == *nlohmann-json3-dev* ]] || fail "sdk Depends: $(field "$sdk_deb" Depends)"

dpkg-deb -e "$host_deb" "$work/control"
[[ $(cat "$work/control/conffiles") == /etc/apistudio/apistudio.yaml ]] ||
  fail "conffiles: '$(cat "$work/control/conffiles")'"
for script in postinst prerm postrm; do
  [[ -x $work/control/$script ]] || fail "no executable $script in the control archive"
done

step "contents"
host_files=$(dpkg-deb -c "$host_deb" | awk '{print $6}')
sdk_files=$(dpkg-deb -c "$sdk_deb" | awk '{print $6}')
expect_file() { # LISTING PATH
  grep -qxF "./$2" <<<"$1" || fail "$2 missing from the package; it holds:"$'\n'"$1"
}
expect_file "$host_files" usr/bin/apistudio-host
for plugin in rate_limiter auth_header_injector debug_logger collaboration; do
  expect_file "$host_files" "usr/lib/apistudio/plugins/lib$plugin.so"
done
expect_file "$host_files" etc/apistudio/apistudio.yaml
expect_file "$host_files" lib/systemd/system/apistudio-host.service
expect_file "$host_files" usr/share/doc/apistudio-host/README.md
expect_file "$host_files" usr/share/doc/apistudio-host/configuration.md
expect_file "$sdk_files" usr/include/apistudio/plugin_abi.h
expect_file "$sdk_files" usr/include/apistudio/plugin.hpp
expect_file "$sdk_files" usr/lib/cmake/ApiStudioSdk/ApiStudioSdkConfig.cmake
expect_file "$sdk_files" usr/lib/cmake/ApiStudioSdk/ApiStudioSdkConfigVersion.cmake
# The SDK headers belong to apistudio-sdk-dev only, the host's files to apistudio-host only.
! grep -q '^\./usr/include/' <<<"$host_files" || fail "apistudio-host ships headers"
! grep -q 'apistudio-host\|plugins/lib' <<<"$sdk_files" || fail "apistudio-sdk-dev ships host files"
owners=$(dpkg-deb -c "$host_deb" | awk '{print $2}' | sort -u)
[[ $owners == root/root ]] || fail "files not owned by root: $owners"

step "install into a fresh root"
root=$work/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status" "$root/var/lib/dpkg/available"
# --instdir/--admindir keep every file in the root; the maintainer scripts run unchrooted with
# DPKG_ROOT set (the root has no shell), which they honour. The root holds no libraries, so the
# declared dependencies cannot be met there: --force-depends (this machine has them).
in_root_dpkg() {
  dpkg --instdir="$root" --admindir="$root/var/lib/dpkg" --log="$work/dpkg.log" \
    --force-script-chrootless --force-depends --force-not-root "$@"
}
in_root_dpkg -i "$host_deb" "$sdk_deb" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log" >&2; fail "dpkg -i into $root failed"; }
for pkg in apistudio-host apistudio-sdk-dev; do
  status=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Status}' "$pkg")
  [[ $status == "install ok installed" ]] || fail "$pkg status in the root: '$status'"
done
# The postinst enabled the unit the Debian way (deb-systemd-helper, inside DPKG_ROOT).
wants=$root/etc/systemd/system/multi-user.target.wants/apistudio-host.service
[[ -L $wants ]] || fail "postinst did not enable the unit ($wants missing)"
[[ $(readlink "$wants") == /lib/systemd/system/apistudio-host.service ]] ||
  fail "enablement link points at $(readlink "$wants")"

step "the installed host runs"
host=$root/usr/bin/apistudio-host
config=$root/etc/apistudio/apistudio.yaml
"$host" --version | tee "$work/version.txt"
grep -q "^apistudio-host $version " "$work/version.txt" || fail "--version does not say $version"
grep -qx 'plugin_dir: /usr/lib/apistudio/plugins *# the packaged plugins' "$config" ||
  fail "the packaged config does not point plugin_dir at /usr/lib/apistudio/plugins"
# The installed config with the installed plugins; only the root prefix differs from a real
# installation, hence --plugin-dir.
"$host" --config "$config" --plugin-dir "$root/usr/lib/apistudio/plugins" --check-config |
  tee "$work/check.txt"
grep -q "OK (4 plugin(s) loaded)" "$work/check.txt" || fail "--check-config did not load the 4 plugins"

step "the SDK's CMake package is found"
mkdir -p "$work/sdk_consumer"
cat >"$work/sdk_consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.20)
project(sdk_consumer LANGUAGES NONE)
find_package(ApiStudioSdk 1 REQUIRED)
get_target_property(includes apistudio::sdk INTERFACE_INCLUDE_DIRECTORIES)
message(STATUS "ApiStudioSdk ${ApiStudioSdk_VERSION} includes=${includes}")
CMAKE
"$cmake" -S "$work/sdk_consumer" -B "$work/sdk_consumer/build" -DCMAKE_FIND_ROOT_PATH="$root" \
  -DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$work/sdk_consumer.log" 2>&1 ||
  { cat "$work/sdk_consumer.log" >&2; fail "find_package(ApiStudioSdk) against the root failed"; }
grep -q "includes=$root/usr/include" "$work/sdk_consumer.log" ||
  { cat "$work/sdk_consumer.log" >&2; fail "the SDK package found is not the one installed in the root"; }

step "systemd-analyze verify"
# Verified inside the root, unchanged, so that ExecStart= resolves to the installed binary. The
# root gets what a real target has beside the package: systemd's own units (the targets the unit
# orders itself after) and kill(1) for ExecReload=.
mkdir -p "$root/usr/lib/systemd" "$root/bin"
cp -a "$(readlink -f /lib/systemd/system)" "$root/usr/lib/systemd/system"
cp "$(readlink -f /bin/kill)" "$root/bin/kill"
systemd-analyze verify --root="$root" /lib/systemd/system/apistudio-host.service \
  >"$work/verify.log" 2>&1 || { cat "$work/verify.log" >&2; fail "systemd-analyze verify rejected the unit"; }
if [[ -s $work/verify.log ]]; then cat "$work/verify.log" >&2; fail "systemd-analyze verify warned"; fi
unit=$root/lib/systemd/system/apistudio-host.service
for setting in DynamicUser=yes ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes \
  Restart=on-failure 'ExecReload=/bin/kill -HUP $MAINPID' \
  'ExecStart=/usr/bin/apistudio-host --config /etc/apistudio/apistudio.yaml'; do
  grep -qxF "$setting" "$unit" || fail "the unit lacks $setting"
done
nofile=$(sed -n 's/^LimitNOFILE=//p' "$unit")
((nofile >= 65536)) || fail "LimitNOFILE=$nofile is not raised"

step "an upgrade keeps the operator's edits"
sed -i 's/^  listen: .*/  listen: "127.0.0.1:58999"   # edited by the operator/' "$config"
in_root_dpkg -i "$host_deb" >"$work/upgrade.log" 2>&1 ||
  { cat "$work/upgrade.log" >&2; fail "reinstalling over an edited config failed"; }
grep -q '127.0.0.1:58999"   # edited by the operator' "$config" || fail "the upgrade replaced the edited config"
[[ ! -e $config.dpkg-new && ! -e $config.dpkg-old ]] || fail "the upgrade left .dpkg-new/.dpkg-old files"

step "remove keeps the config, purge deletes it"
in_root_dpkg --remove apistudio-host >"$work/remove.log" 2>&1 || { cat "$work/remove.log" >&2; fail "remove"; }
[[ ! -e $host && ! -e $root/usr/lib/apistudio/plugins/librate_limiter.so ]] || fail "remove left the binary or plugins"
[[ -f $config ]] || fail "remove deleted the conffile"
in_root_dpkg --purge apistudio-host >"$work/purge.log" 2>&1 || { cat "$work/purge.log" >&2; fail "purge"; }
[[ ! -e $config ]] || fail "purge kept the conffile"
[[ ! -e $wants ]] || fail "purge left the unit enabled"

echo "PASS"
