# Runs at install time (from install.cmake), after CMAKE_INSTALL_PREFIX is final: CPack installs
# with prefix /usr whatever the build's prefix. Needs GRIDSHIFT_SOURCE_DIR and
# GRIDSHIFT_BINARY_DIR. DESTDIR is added by file(INSTALL) itself.
#  - the units, whose /usr/sbin/gridshiftd and /etc/gridshift follow the prefix (GNU rule:
#    prefix /usr keeps its configuration in /etc);
#  - <datadir>/gridshift/config.yaml: config.example.yaml with the service's paths, the file
#    the .deb's postinst copies to /etc/gridshift/config.yaml;
#  - <sysconfdir>/gridshift/config.yaml, the same, only when absent.
set(prefix "${CMAKE_INSTALL_PREFIX}")
if(prefix STREQUAL "/usr")
  set(etc_dir "/etc/gridshift")
else()
  set(etc_dir "${prefix}/etc/gridshift")
endif()
set(data_dir "${prefix}/share/gridshift")
# A directory per run: installs into different DESTDIRs may run at once (the test suite does).
string(RANDOM LENGTH 12 run_id)
set(staging "${GRIDSHIFT_BINARY_DIR}/service-files/${run_id}")
set(public_file OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)

foreach(unit gridshiftd.service gridshiftd.socket)
  file(READ "${GRIDSHIFT_SOURCE_DIR}/systemd/${unit}" text)
  string(REPLACE "/usr/sbin/gridshiftd" "${prefix}/sbin/gridshiftd" text "${text}")
  string(REPLACE "/etc/gridshift" "${etc_dir}" text "${text}")
  file(WRITE "${staging}/${unit}" "${text}")
  file(INSTALL "${staging}/${unit}" DESTINATION "${prefix}/lib/systemd/system"
       PERMISSIONS ${public_file})
endforeach()

# The example runs from a source tree (./var, data/); the service's file uses the FHS places
# the unit grants it. The install test checks no relative path is left.
file(READ "${GRIDSHIFT_SOURCE_DIR}/config.example.yaml" text)
string(REPLACE "\nstate_dir: ./var\n" "\nstate_dir: /var/lib/gridshift\n" text "${text}")
string(REPLACE "path: ./var/gridshift.sock" "path: /run/gridshift/gridshift.sock" text "${text}")
string(REPLACE "file: data/gcp-regions.csv" "file: ${data_dir}/gcp-regions.csv" text "${text}")
file(WRITE "${staging}/config.yaml"
     "# Installed by gridshift: config.example.yaml with the service's paths\n"
     "# (/var/lib/gridshift, /run/gridshift, ${data_dir}).\n${text}")
file(INSTALL "${staging}/config.yaml" DESTINATION "${data_dir}" PERMISSIONS ${public_file})

if(EXISTS "$ENV{DESTDIR}${etc_dir}/config.yaml")
  message(STATUS "Keeping existing: $ENV{DESTDIR}${etc_dir}/config.yaml")
else()
  file(INSTALL "${staging}/config.yaml" DESTINATION "${etc_dir}" PERMISSIONS ${public_file})
endif()

file(REMOVE_RECURSE "${staging}")
