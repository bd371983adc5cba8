# The two targets a host links, in this build tree (cmake/nomad_museConfig.cmake.in
# defines the same two for an installed copy):
#   nomad_muse::nomad_muse  the static library (the name hosts have used so far)
#   nomad_muse::shared      the shared library (SONAME libnomad_muse.so.<major>)

# What the static archive needs from the system (Rust's std and tract).
find_package(Threads REQUIRED)
set(NOMAD_MUSE_STATIC_SYSTEM_LIBS Threads::Threads ${CMAKE_DL_LIBS} m)
# tract ships hand-written assembly kernels without a GNU-stack note. The
# archive holds whole crates: without --gc-sections a host keeps every
# unused function of them (measured: generation_loop 12.4 MB of code and
# 22.5 MB peak RSS; with it 16.3-16.9 MB RSS). rustc links its own programs so.
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  set(NOMAD_MUSE_STATIC_LINK_OPTIONS "LINKER:-z,noexecstack" "LINKER:--gc-sections")
else()
  set(NOMAD_MUSE_STATIC_LINK_OPTIONS "")
endif()

add_library(nomad_muse_static STATIC IMPORTED GLOBAL)
add_library(nomad_muse_shared SHARED IMPORTED GLOBAL)
if(NOMAD_MUSE_MULTI_CONFIG)
  foreach(config IN LISTS CMAKE_CONFIGURATION_TYPES)
    string(TOUPPER "${config}" config_upper)
    set(lib_dir "${CMAKE_CURRENT_BINARY_DIR}/lib/${config}")
    set_target_properties(nomad_muse_static PROPERTIES
      IMPORTED_LOCATION_${config_upper} "${lib_dir}/${NOMAD_MUSE_STATIC_NAME}")
    set_target_properties(nomad_muse_shared PROPERTIES
      IMPORTED_LOCATION_${config_upper} "${lib_dir}/${NOMAD_MUSE_SHARED_REAL_NAME}"
      IMPORTED_SONAME_${config_upper} "${NOMAD_MUSE_SONAME}")
  endforeach()
else()
  set_target_properties(nomad_muse_static PROPERTIES
    IMPORTED_LOCATION "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_STATIC_NAME}")
  set_target_properties(nomad_muse_shared PROPERTIES
    IMPORTED_LOCATION "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_SHARED_REAL_NAME}"
    IMPORTED_SONAME "${NOMAD_MUSE_SONAME}")
endif()

set_target_properties(nomad_muse_static nomad_muse_shared PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${CMAKE_CURRENT_SOURCE_DIR}/include")
target_link_libraries(nomad_muse_static INTERFACE ${NOMAD_MUSE_STATIC_SYSTEM_LIBS})
target_link_options(nomad_muse_static INTERFACE ${NOMAD_MUSE_STATIC_LINK_OPTIONS})
if(NOMAD_MUSE_HOT_TEXT)
  target_link_options(nomad_muse_static INTERFACE "LINKER:-T,${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_HOT_TEXT_NAME}")
  # A new hot-function list changes the script, not the archive: hosts
  # relink when either changes.
  set_property(TARGET nomad_muse_static APPEND PROPERTY
    INTERFACE_LINK_DEPENDS "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_HOT_TEXT_NAME}")
endif()
add_dependencies(nomad_muse_static nomad_muse_cargo)
add_dependencies(nomad_muse_shared nomad_muse_cargo)

add_library(nomad_muse::nomad_muse ALIAS nomad_muse_static)
add_library(nomad_muse::shared ALIAS nomad_muse_shared)
