# What `cmake --install` puts where, and the .deb CPack makes of it (`cpack -G DEB` in
# the build directory). Paths are Debian's: programs in /usr/bin, the unit in
# /lib/systemd/system, the user and directories made by systemd-sysusers and
# systemd-tmpfiles, docs and example configs in /usr/share/doc/gongji.
include(GNUInstallDirs)
set(PKG_DIR ${PROJECT_SOURCE_DIR}/deploy/package)

set(GONGJI_PROGRAMS gongji-node gongji gongji-load gongji-gateway gongji-admin)
install(TARGETS ${GONGJI_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# A man page per program, from its own --help.
set(MAN_SUMMARY_gongji-node "serve one region's medical-insurance mutual aid")
set(MAN_SUMMARY_gongji "operate and query gongji nodes")
set(MAN_SUMMARY_gongji-load "load a region's opening persons and balances into a stopped node's store")
set(MAN_SUMMARY_gongji-gateway "HTTP/JSON gateway for hospitals' HIS, as the national platform's interface")
set(MAN_SUMMARY_gongji-admin "back up, verify and restore a node's data directory")
foreach(prog ${GONGJI_PROGRAMS})
  set(page ${CMAKE_BINARY_DIR}/man/${prog}.1.gz)
  add_custom_command(OUTPUT ${page}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
    COMMAND sh ${PKG_DIR}/man-page.sh $<TARGET_FILE:${prog}> ${prog} "${MAN_SUMMARY_${prog}}" ${page}
    DEPENDS ${prog} ${PKG_DIR}/man-page.sh VERBATIM)
  list(APPEND GONGJI_MAN_PAGES ${page})
endforeach()
add_custom_target(man_pages ALL DEPENDS ${GONGJI_MAN_PAGES})
install(FILES ${GONGJI_MAN_PAGES} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES ${PROJECT_SOURCE_DIR}/deploy/gongji-node@.service ${PROJECT_SOURCE_DIR}/deploy/gongji-gateway@.service
  DESTINATION /lib/systemd/system)
install(FILES ${PKG_DIR}/gongji.sysusers DESTINATION lib/sysusers.d RENAME gongji.conf)
install(FILES ${PKG_DIR}/gongji.tmpfiles DESTINATION lib/tmpfiles.d RENAME gongji.conf)

set(DOC_DIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/gongji)
file(GLOB GONGJI_DOCS ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${GONGJI_DOCS} ${PKG_DIR}/copyright DESTINATION ${DOC_DIR})
file(GLOB GONGJI_EXAMPLES ${PROJECT_SOURCE_DIR}/deploy/cluster/*.ini ${PROJECT_SOURCE_DIR}/deploy/gateway/*.ini)
install(FILES ${GONGJI_EXAMPLES} DESTINATION ${DOC_DIR}/examples)
# Debian wants a changelog for every package.
set(CHANGELOG ${CMAKE_BINARY_DIR}/changelog.Debian.gz)
add_custom_command(OUTPUT ${CHANGELOG}
  COMMAND sh -c "printf 'gongji (%s-1) stable; urgency=medium\\n\\n  * Release %s.\\n\\n -- gongji maintainers <maintainers@gongji.example.org>  Fri, 04 Dec 2026 00:00:00 +0800\\n' ${PROJECT_VERSION} ${PROJECT_VERSION} | gzip -9n > ${CHANGELOG}"
  VERBATIM)
add_custom_target(debian_changelog ALL DEPENDS ${CHANGELOG})
install(FILES ${CHANGELOG} DESTINATION ${DOC_DIR})

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gongji)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "gongji maintainers <maintainers@gongji.example.org>")
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "medical-insurance personal-account mutual aid, one node per region")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "gongji keeps one coordinating region's personal accounts, family bindings and
journal in LMDB and settles mutual-aid bills across regions and provinces with
the other regions' nodes, over nng with TLS. Hospitals reach it through an
HTTP/JSON gateway speaking the national platform's interface.")
set(CPACK_DEBIAN_PACKAGE_SECTION misc)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${PKG_DIR}/postinst;${PKG_DIR}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)
set(CPACK_STRIP_FILES TRUE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
