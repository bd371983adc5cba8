# libnomad_muse, built by cargo out of source (Corrosion's conventions):
# cargo's target folder lives in the CMake binary folder, the build type picks
# the cargo profile, and the libraries are staged into ${NOMAD_MUSE_LIB_DIR}
# under the names they are installed with. Nothing is written into the source
# tree (build.rs only rewrites include/nomad_muse.h when the C ABI changed).
find_program(CARGO cargo REQUIRED)

# A CARGO_TARGET_DIR set in the environment wins (CI points it at the
# workspace target/ that `cargo test --release --workspace` just filled, so
# tract and candle are not compiled a second time).
if(NOT "$ENV{CARGO_TARGET_DIR}" STREQUAL "")
  set(NOMAD_MUSE_DEFAULT_CARGO_TARGET_DIR "$ENV{CARGO_TARGET_DIR}")
else()
  set(NOMAD_MUSE_DEFAULT_CARGO_TARGET_DIR "${CMAKE_CURRENT_BINARY_DIR}/cargo")
endif()
set(NOMAD_MUSE_CARGO_TARGET_DIR "${NOMAD_MUSE_DEFAULT_CARGO_TARGET_DIR}" CACHE PATH
  "cargo's target folder for libnomad_muse (default: $ENV{CARGO_TARGET_DIR}, else <build>/cargo)")
get_filename_component(NOMAD_MUSE_CARGO_TARGET_DIR "${NOMAD_MUSE_CARGO_TARGET_DIR}" ABSOLUTE
  BASE_DIR "${CMAKE_BINARY_DIR}")

# The tests need the training binary (it exports the fixture models). Building
# it with exactly the package selection of `cargo test --workspace`
# (workspace, all targets) resolves dependency features the same way, so the
# tract and candle builds that run made are reused instead of rebuilt (one
# build per feature resolution: about 7 minutes each on 2 cores). A host that
# shares a target folder with such a build can ask for the same selection.
if(NOT NOMAD_MUSE_CARGO_SELECTION)
  if(NOMAD_MUSE_BUILD_TESTS)
    set(NOMAD_MUSE_CARGO_SELECTION --workspace --all-targets)
  else()
    set(NOMAD_MUSE_CARGO_SELECTION -p nomad-muse-sys)
  endif()
endif()
# Also accepted as one string (-DNOMAD_MUSE_CARGO_SELECTION="--workspace --all-targets").
list(JOIN NOMAD_MUSE_CARGO_SELECTION " " NOMAD_MUSE_CARGO_SELECTION_TEXT)
separate_arguments(NOMAD_MUSE_CARGO_SELECTION UNIX_COMMAND "${NOMAD_MUSE_CARGO_SELECTION_TEXT}")

# Build type -> cargo profile: Debug -> dev (target/debug), anything else ->
# release (target/release), or dist (fat LTO) with NOMAD_MUSE_DIST for a
# single-config release build. Multi-config generators decide per configuration.
option(NOMAD_MUSE_DIST "Build libnomad_muse with cargo's dist profile (fat LTO: a smaller library, less resident code; slow links)" OFF)
get_property(NOMAD_MUSE_MULTI_CONFIG GLOBAL PROPERTY GENERATOR_IS_MULTI_CONFIG)
if(NOMAD_MUSE_MULTI_CONFIG)
  set(NOMAD_MUSE_CARGO_PROFILE "$<IF:$<CONFIG:Debug>,dev,release>")
  set(NOMAD_MUSE_CARGO_PROFILE_DIR "$<IF:$<CONFIG:Debug>,debug,release>")
  set(NOMAD_MUSE_LIB_DIR "${CMAKE_CURRENT_BINARY_DIR}/lib/$<CONFIG>")
elseif(CMAKE_BUILD_TYPE STREQUAL "Debug")
  set(NOMAD_MUSE_CARGO_PROFILE dev)
  set(NOMAD_MUSE_CARGO_PROFILE_DIR debug)
  set(NOMAD_MUSE_LIB_DIR "${CMAKE_CURRENT_BINARY_DIR}/lib")
elseif(NOMAD_MUSE_DIST)
  set(NOMAD_MUSE_CARGO_PROFILE dist)
  set(NOMAD_MUSE_CARGO_PROFILE_DIR dist)
  set(NOMAD_MUSE_LIB_DIR "${CMAKE_CURRENT_BINARY_DIR}/lib")
else()
  set(NOMAD_MUSE_CARGO_PROFILE release)
  set(NOMAD_MUSE_CARGO_PROFILE_DIR release)
  set(NOMAD_MUSE_LIB_DIR "${CMAKE_CURRENT_BINARY_DIR}/lib")
endif()
# Where cargo puts its outputs (the training binary, for the tests).
set(NOMAD_MUSE_TARGET_DIR "${NOMAD_MUSE_CARGO_TARGET_DIR}/${NOMAD_MUSE_CARGO_PROFILE_DIR}")

# File names: the static archive, and on ELF systems the shared library as
# real file + SONAME link + development link (libnomad_muse.so.0.1.0 ->
# libnomad_muse.so.0 -> libnomad_muse.so); build.rs sets the SONAME.
set(NOMAD_MUSE_STATIC_NAME "${CMAKE_STATIC_LIBRARY_PREFIX}nomad_muse${CMAKE_STATIC_LIBRARY_SUFFIX}")
set(NOMAD_MUSE_SHARED_LINK_NAME "${CMAKE_SHARED_LIBRARY_PREFIX}nomad_muse${CMAKE_SHARED_LIBRARY_SUFFIX}")
if(CMAKE_SYSTEM_NAME MATCHES "Linux|BSD|Android")
  set(NOMAD_MUSE_SONAME "${NOMAD_MUSE_SHARED_LINK_NAME}.${PROJECT_VERSION_MAJOR}")
  set(NOMAD_MUSE_SHARED_REAL_NAME "${NOMAD_MUSE_SHARED_LINK_NAME}.${PROJECT_VERSION}")
else()
  set(NOMAD_MUSE_SONAME "${NOMAD_MUSE_SHARED_LINK_NAME}")
  set(NOMAD_MUSE_SHARED_REAL_NAME "${NOMAD_MUSE_SHARED_LINK_NAME}")
endif()

# build.rs packs the functions a host runs at the start of the shared
# library's .text (README, "Memory"); its linker script does the same for a
# host linking the static archive (GNU ld, lld). Off for linkers without
# linker-script INSERT (gold, mold).
if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
  option(NOMAD_MUSE_HOT_TEXT "Link static hosts with the library's hot-code linker script (less resident code)" ON)
else()
  set(NOMAD_MUSE_HOT_TEXT OFF)
endif()
set(NOMAD_MUSE_HOT_TEXT_NAME nomad_muse_hot_text.ld)

set(NOMAD_MUSE_STAGE_COMMANDS
  COMMAND "${CMAKE_COMMAND}" -E make_directory "${NOMAD_MUSE_LIB_DIR}"
  COMMAND "${CMAKE_COMMAND}" -E copy_if_different
    "${NOMAD_MUSE_TARGET_DIR}/${NOMAD_MUSE_STATIC_NAME}" "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_STATIC_NAME}"
  COMMAND "${CMAKE_COMMAND}" -E copy_if_different
    "${NOMAD_MUSE_TARGET_DIR}/${NOMAD_MUSE_SHARED_LINK_NAME}" "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_SHARED_REAL_NAME}")
if(NOMAD_MUSE_HOT_TEXT)
  list(APPEND NOMAD_MUSE_STAGE_COMMANDS
    COMMAND "${CMAKE_COMMAND}" -E copy_if_different
      "${NOMAD_MUSE_TARGET_DIR}/${NOMAD_MUSE_HOT_TEXT_NAME}" "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_HOT_TEXT_NAME}")
endif()
if(NOT NOMAD_MUSE_SONAME STREQUAL NOMAD_MUSE_SHARED_REAL_NAME)
  list(APPEND NOMAD_MUSE_STAGE_COMMANDS
    COMMAND "${CMAKE_COMMAND}" -E create_symlink
      "${NOMAD_MUSE_SHARED_REAL_NAME}" "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_SONAME}"
    COMMAND "${CMAKE_COMMAND}" -E create_symlink
      "${NOMAD_MUSE_SONAME}" "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_SHARED_LINK_NAME}")
endif()

# Ninja needs the staged files declared (genexes in BYPRODUCTS need CMake 3.20).
if(NOT NOMAD_MUSE_MULTI_CONFIG)
  set(NOMAD_MUSE_BYPRODUCTS BYPRODUCTS
    "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_STATIC_NAME}" "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_SHARED_REAL_NAME}")
  if(NOMAD_MUSE_HOT_TEXT)
    list(APPEND NOMAD_MUSE_BYPRODUCTS "${NOMAD_MUSE_LIB_DIR}/${NOMAD_MUSE_HOT_TEXT_NAME}")
  endif()
endif()

# Always ask cargo: it knows whether anything changed (a no-op build is quick).
add_custom_target(nomad_muse_cargo ALL
  COMMAND "${CMAKE_COMMAND}" -E env "CARGO_TARGET_DIR=${NOMAD_MUSE_CARGO_TARGET_DIR}"
    "${CARGO}" build --profile "${NOMAD_MUSE_CARGO_PROFILE}" ${NOMAD_MUSE_CARGO_SELECTION}
  ${NOMAD_MUSE_STAGE_COMMANDS}
  WORKING_DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}"
  ${NOMAD_MUSE_BYPRODUCTS}
  COMMENT "cargo build --profile ${NOMAD_MUSE_CARGO_PROFILE} ${NOMAD_MUSE_CARGO_SELECTION_TEXT} (target folder ${NOMAD_MUSE_CARGO_TARGET_DIR})"
  USES_TERMINAL
  VERBATIM)
