# The Debian package: after `cmake --build`, `cpack` in the build directory writes
# gridshift_<version>_<arch>.deb. It packages what is built: neither `cpack` nor the install
# target rebuilds everything first (CMAKE_SKIP_INSTALL_ALL_DEPENDENCY), so packaging stays fast
# in the test suite and never compiles unrelated targets.
# The maintainer scripts (packaging/debian) create the gridshift user, the directories and
# /etc/gridshift/config.yaml when absent; the package itself ships no file under /etc, so an
# operator's config is never a dpkg conffile prompt on upgrade.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)
set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "gridshift")
set(CPACK_PACKAGE_VENDOR "gridshift")
set(CPACK_PACKAGE_CONTACT "gridshift maintainers <gridshift@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
    "gridshiftd queues ML training jobs and starts each in the Google Cloud region and at the\n time with the lowest expected carbon intensity that meets its deadline.")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME "DEB-DEFAULT")
set(CPACK_DEBIAN_PACKAGE_SECTION "admin")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd, sqlite3")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_CURRENT_LIST_DIR}/../packaging/debian/postinst"
    "${CMAKE_CURRENT_LIST_DIR}/../packaging/debian/prerm"
    "${CMAKE_CURRENT_LIST_DIR}/../packaging/debian/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# cmake --install's copy of the example to /etc is for plain installs; the package leaves it
# to postinst.
set(CPACK_PRE_BUILD_SCRIPTS "${CMAKE_CURRENT_LIST_DIR}/cpack_drop_etc_config.cmake")
include(CPack)
