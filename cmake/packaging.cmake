# Debian packages, built from a configured and built tree with CPack:
#   cd build && cpack -G DEB          (or scripts/package.sh)
# gives apistudio-host_<version>_amd64.deb (install component "host") and
# apistudio-sdk-dev_<version>_all.deb (component "sdk", the rules in sdk/CMakeLists.txt).
#
# The host component uses the Debian layout, whatever CMAKE_INSTALL_PREFIX is: the packaged
# configuration must name the directory the plugins are really installed in, and the unit the
# path of the binary, so the layout is fixed here rather than left to the prefix:
#   /usr/bin/apistudio-host                  the binary
#   /usr/lib/apistudio/plugins/lib<name>.so  the shipped plugins
#   /etc/apistudio/apistudio.yaml            the configuration (a conffile)
#   /lib/systemd/system/apistudio-host.service
#   /usr/share/doc/apistudio-host/           README.md and docs/*.md
# (Building the .deb is the supported way to install the host; scripts/run-host.sh runs it from
# the source tree.)

set(APISTUDIO_PACKAGE_PREFIX /usr)
set(APISTUDIO_PACKAGE_PLUGIN_DIR lib/apistudio/plugins)
set(APISTUDIO_PACKAGE_CONFIG_DIR /etc/apistudio)
set(APISTUDIO_PACKAGE_UNIT_DIR /lib/systemd/system)
set(APISTUDIO_PACKAGE_DOC_DIR share/doc/apistudio-host)

# The packaged configuration is config/apistudio.yaml with plugin_dir pointing at the installed
# plugins instead of ../build/plugins: generated, so that the two never drift. Re-generated
# whenever config/apistudio.yaml changes (CMAKE_CONFIGURE_DEPENDS); a source file whose
# plugin_dir line has moved or changed shape fails the configure instead of shipping a config
# that points at a build tree.
set(apistudio_source_config ${PROJECT_SOURCE_DIR}/config/apistudio.yaml)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${apistudio_source_config})
file(READ ${apistudio_source_config} apistudio_config_text)
set(apistudio_plugin_dir_line_regex "\nplugin_dir:[^\n]*")
string(REGEX MATCHALL "${apistudio_plugin_dir_line_regex}" apistudio_plugin_dir_lines "${apistudio_config_text}")
list(LENGTH apistudio_plugin_dir_lines apistudio_plugin_dir_line_count)
if(NOT apistudio_plugin_dir_line_count EQUAL 1)
  message(FATAL_ERROR "${apistudio_source_config}: expected exactly one top-level 'plugin_dir:' "
    "line to rewrite for the package, found ${apistudio_plugin_dir_line_count}")
endif()
string(REGEX REPLACE "${apistudio_plugin_dir_line_regex}"
  "\nplugin_dir: ${APISTUDIO_PACKAGE_PREFIX}/${APISTUDIO_PACKAGE_PLUGIN_DIR}   # the packaged plugins"
  apistudio_packaged_config_text "${apistudio_config_text}")
set(apistudio_packaged_config ${PROJECT_BINARY_DIR}/packaging/apistudio.yaml)
# Written through a copy so that an unchanged result keeps its time stamp.
file(WRITE ${apistudio_packaged_config}.new "${apistudio_packaged_config_text}")
file(COPY_FILE ${apistudio_packaged_config}.new ${apistudio_packaged_config} ONLY_IF_DIFFERENT)
file(REMOVE ${apistudio_packaged_config}.new)

# dpkg treats only the files listed in "conffiles" as configuration: an upgrade then keeps the
# operator's edits (and asks, or keeps theirs, when the package's copy changed too).
file(WRITE ${PROJECT_BINARY_DIR}/packaging/conffiles "${APISTUDIO_PACKAGE_CONFIG_DIR}/apistudio.yaml\n")

install(TARGETS rate_limiter auth_header_injector debug_logger collaboration
  LIBRARY DESTINATION ${APISTUDIO_PACKAGE_PLUGIN_DIR} COMPONENT host)
install(FILES ${apistudio_packaged_config} DESTINATION ${APISTUDIO_PACKAGE_CONFIG_DIR}
  COMPONENT host)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/systemd/apistudio-host.service
  DESTINATION ${APISTUDIO_PACKAGE_UNIT_DIR} COMPONENT host)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${APISTUDIO_PACKAGE_DOC_DIR}
  COMPONENT host)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION ${APISTUDIO_PACKAGE_DOC_DIR}
  COMPONENT host FILES_MATCHING PATTERN "*.md")
foreach(plugin IN ITEMS rate_limiter auth_header_injector debug_logger collaboration)
  install(FILES ${PROJECT_SOURCE_DIR}/plugins/${plugin}/README.md
    DESTINATION ${APISTUDIO_PACKAGE_DOC_DIR}/plugins RENAME ${plugin}.md COMPONENT host)
endforeach()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME apistudio-host)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "API Studio")
set(CPACK_PACKAGE_CONTACT "API Studio maintainers <apistudio@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX ${APISTUDIO_PACKAGE_PREFIX})
set(CPACK_COMPONENTS_ALL host sdk)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

set(CPACK_DEBIAN_HOST_PACKAGE_NAME apistudio-host)
set(CPACK_COMPONENT_HOST_DESCRIPTION "API Studio WebSocket proxy host
Proxies WebSocket sessions from API Studio clients to upstream servers, with plugins
(rate limiting, header injection, collaboration, debug logging) loaded from
/usr/lib/apistudio/plugins and configured in /etc/apistudio/apistudio.yaml.
Runs as the systemd service apistudio-host.")
# Depends: computed by dpkg-shlibdeps from the libraries the binary and the plugins link.
set(CPACK_DEBIAN_HOST_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_HOST_PACKAGE_CONTROL_EXTRA
  ${PROJECT_BINARY_DIR}/packaging/conffiles
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)

set(CPACK_DEBIAN_SDK_PACKAGE_NAME apistudio-sdk-dev)
set(CPACK_DEBIAN_SDK_PACKAGE_ARCHITECTURE all)
set(CPACK_DEBIAN_SDK_PACKAGE_SECTION libdevel)
# The C++ layer (apistudio/plugin.hpp) includes <nlohmann/json.hpp>; plugins build with CMake.
set(CPACK_DEBIAN_SDK_PACKAGE_DEPENDS "nlohmann-json3-dev (>= 3.10)")
set(CPACK_DEBIAN_SDK_PACKAGE_SUGGESTS "cmake (>= 3.20)")
set(CPACK_COMPONENT_SDK_DESCRIPTION "API Studio Host plugin SDK (headers and CMake package)
The C ABI and the C++ layer for API Studio Host plugins, with the CMake package
ApiStudioSdk: find_package(ApiStudioSdk) and apistudio_add_plugin() build a plugin
out of tree.")

include(CPack)
