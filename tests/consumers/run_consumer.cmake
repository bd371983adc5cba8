# Configures, builds and runs one consumer project from scratch:
#   cmake -DSOURCE_DIR=<project> -DBINARY_DIR=<build> -DGENERATOR=<gen> -DOPTIONS=<-D...;...>
#         -DRUN=<one_bar args> [-DFORBID=<regex>] -P run_consumer.cmake
# OPTIONS and RUN may come '|'-separated (add_test splits arguments at ';').
# FORBID fails the test when the build output matches it (the FetchContent
# consumer must reuse the cargo artefacts, not compile tract again).
# Not `ctest --build-and-test`: it exports CC into the build, and cargo
# rebuilds every C-compiling dependency (tract-linalg and all of tract above
# it) when CC differs from the build that filled the target folder.
string(REPLACE "|" ";" OPTIONS "${OPTIONS}")
string(REPLACE "|" ";" RUN "${RUN}")
file(REMOVE_RECURSE "${BINARY_DIR}")
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -G "${GENERATOR}" ${OPTIONS}
  RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "configuring ${SOURCE_DIR} failed")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BINARY_DIR}"
  OUTPUT_VARIABLE build_log ERROR_VARIABLE build_log RESULT_VARIABLE failed)
message("${build_log}")
if(failed)
  message(FATAL_ERROR "building ${SOURCE_DIR} failed")
endif()
if(FORBID AND build_log MATCHES "${FORBID}")
  message(FATAL_ERROR "the build output matches `${FORBID}`: ${CMAKE_MATCH_0}")
endif()
execute_process(COMMAND "${BINARY_DIR}/one_bar" ${RUN} RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "one_bar failed (${failed})")
endif()
