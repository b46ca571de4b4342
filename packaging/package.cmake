# packaging/package.cmake - what `cmake --install` puts where, and the
# Debian package cpack builds from it (cpack -G DEB in the build folder;
# tests/package/deb.sh builds, unpacks and runs it). Included from the
# top CMakeLists.txt.
#
# Layout (Debian's): /usr/bin/capscreen and capscreen-uplink,
# /usr/share/capscreen/{models,web,scripts}, /etc/capscreen/capscreen.conf
# and the care protocol /etc/capscreen/care-protocol.json (conffiles), /lib/systemd/system/capscreen.service, docs under
# /usr/share/doc/capscreen. The maintainer scripts (packaging/debian/)
# make the capscreen user, /var/lib/capscreen (0750, capscreen's) and a
# random admin token.
include(GNUInstallDirs)

install(TARGETS capscreen-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(TARGET capscreen-uplink)
  install(TARGETS capscreen-uplink RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(FILES ${PROJECT_SOURCE_DIR}/models/bleeding-xgb.json
              ${PROJECT_SOURCE_DIR}/models/polyp-unet.bin
              ${PROJECT_SOURCE_DIR}/models/MODEL_CARD.md
              ${PROJECT_SOURCE_DIR}/models/MODEL_CARD-polyp.md
        DESTINATION ${CMAKE_INSTALL_DATADIR}/capscreen/models)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/capscreen/web)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/backup.sh ${PROJECT_SOURCE_DIR}/scripts/restore.sh
  ${PROJECT_SOURCE_DIR}/scripts/store-location.sh
        DESTINATION ${CMAKE_INSTALL_DATADIR}/capscreen/scripts)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/capscreen.conf
              ${PROJECT_SOURCE_DIR}/etc/care-protocol.json DESTINATION /etc/capscreen)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/capscreen.service DESTINATION /lib/systemd/system)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/deploy.md
              ${PROJECT_SOURCE_DIR}/docs/server.md ${PROJECT_SOURCE_DIR}/docs/api.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME capscreen)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "capscreen maintainers <capscreen@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "capsule-camera bowel screening: study uploads, live triage, reading workstation")
set(CPACK_PACKAGE_DESCRIPTION
    "capscreen receives capsule-camera studies from home hubs (tus uploads), triages every frame as it arrives (bleeding, exposure, blur, polyps) and serves the reading workstation. The package runs `capscreen serve` as a hardened systemd service.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
# The shared libraries' packages (libpq5, libsqlite3-0, ...), from the
# binaries themselves; adduser for the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# backup.sh and restore.sh: pg_dump/pg_restore/psql, or python3 for SQLite.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql, postgresql-client, python3, haproxy")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_WARN_ON_ABSOLUTE_INSTALL_DESTINATION OFF)
include(CPack)
