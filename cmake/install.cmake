# `cmake --install`: the header, both libraries (with their SONAME links), a
# CMake package (nomad_museConfig.cmake + nomad_museConfigVersion.cmake) and
# nomad_muse.pc. Every file locates the prefix relative to itself, so an
# installed tree can be moved (`cmake --install build --prefix <anywhere>`).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(NOMAD_MUSE_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/nomad_muse")

install(FILES "${CMAKE_CURRENT_SOURCE_DIR}/include/nomad_muse.h" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_STATIC_NAME}" DESTINATION "${CMAKE_INSTALL_LIBDIR}")
install(PROGRAMS "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_SHARED_REAL_NAME}" DESTINATION "${CMAKE_INSTALL_LIBDIR}")
if(NOT NOMAD_MUSE_SONAME STREQUAL NOMAD_MUSE_SHARED_REAL_NAME)
  # The staged symlinks are installed as symlinks.
  install(FILES "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_SONAME}" "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_SHARED_LINK_NAME}"
    DESTINATION "${CMAKE_INSTALL_LIBDIR}")
endif()

if(NOMAD_MUSE_HOT_TEXT)
  install(FILES "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_HOT_TEXT_NAME}" DESTINATION "${CMAKE_INSTALL_LIBDIR}")
  # Resolved where the package is found (the installed tree can move).
  set(NOMAD_MUSE_CONFIG_HOT_TEXT_OPTION "LINKER:-T,\${nomad_muse_LIBRARY_DIR}/${NOMAD_MUSE_HOT_TEXT_NAME}")
else()
  set(NOMAD_MUSE_CONFIG_HOT_TEXT_OPTION "")
endif()
# The config file's target definitions need the link interface as text.
set(NOMAD_MUSE_CONFIG_STATIC_LIBS "Threads::Threads;${CMAKE_DL_LIBS};m")
configure_package_config_file(cmake/nomad_museConfig.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/nomad_museConfig.cmake"
  INSTALL_DESTINATION "${NOMAD_MUSE_CMAKE_DIR}"
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
# 0.x follows the same rule: a host asking for 0.1 accepts 0.1.* and later 0.*.
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/nomad_museConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMajorVersion)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/nomad_museConfig.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/nomad_museConfigVersion.cmake"
  DESTINATION "${NOMAD_MUSE_CMAKE_DIR}")

# pkg-config: the prefix is found from the .pc file's own folder.
file(RELATIVE_PATH NOMAD_MUSE_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" NOMAD_MUSE_PC_TO_PREFIX "${NOMAD_MUSE_PC_TO_PREFIX}")
set(NOMAD_MUSE_PC_LIBS_PRIVATE "-lpthread")
foreach(lib IN LISTS CMAKE_DL_LIBS ITEMS m)
  string(APPEND NOMAD_MUSE_PC_LIBS_PRIVATE " -l${lib}")
endforeach()
if(NOMAD_MUSE_HOT_TEXT)
  string(APPEND NOMAD_MUSE_PC_LIBS_PRIVATE " -Wl,-T,\${libdir}/${NOMAD_MUSE_HOT_TEXT_NAME}")
endif()
configure_file(cmake/nomad_muse.pc.in "${CMAKE_CURRENT_BINARY_DIR}/nomad_muse.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/nomad_muse.pc" DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
