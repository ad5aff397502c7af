# Install layout of the service (docs/operations.md): systemd units, sysusers/tmpfiles snippets, man
# pages, operations docs, and the service's config (the example with FHS paths), which
# `cmake --install` also puts in <sysconfdir>/gridshift/config.yaml when none is there yet.
include(GNUInstallDirs)

set(GRIDSHIFT_SYSTEMD_DIR "${CMAKE_CURRENT_LIST_DIR}/../systemd")

# Units and config depend on the prefix in force at install time: see the script.
install(CODE "
  set(GRIDSHIFT_SOURCE_DIR \"${PROJECT_SOURCE_DIR}\")
  set(GRIDSHIFT_BINARY_DIR \"${PROJECT_BINARY_DIR}\")
  include(\"${CMAKE_CURRENT_LIST_DIR}/install_service_files.cmake\")
")

install(FILES "${GRIDSHIFT_SYSTEMD_DIR}/gridshift.sysusers" DESTINATION lib/sysusers.d
        RENAME gridshift.conf)
install(FILES "${GRIDSHIFT_SYSTEMD_DIR}/gridshift.tmpfiles" DESTINATION lib/tmpfiles.d
        RENAME gridshift.conf)

install(FILES docs/gridshiftd.8 DESTINATION "${CMAKE_INSTALL_MANDIR}/man8")
install(FILES docs/gridshift.1 DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
install(FILES docs/operations.md docs/configuration.md DESTINATION "${CMAKE_INSTALL_DOCDIR}")
# The drop-in that lets local jobs run as their owners (docs/operations.md, "Local jobs"): an
# example to copy into /etc/systemd/system/gridshiftd.service.d/, not enabled by default.
install(FILES "${GRIDSHIFT_SYSTEMD_DIR}/local-jobs.conf" DESTINATION "${CMAKE_INSTALL_DATADIR}/gridshift/systemd")
# The Grafana dashboard for gridshiftd's /metrics (docs/operations.md, "Monitoring").
install(FILES packaging/grafana/gridshift-dashboard.json
        DESTINATION "${CMAKE_INSTALL_DATADIR}/gridshift/grafana")
