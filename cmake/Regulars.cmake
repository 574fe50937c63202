# Helpers in the spirit of Abseil's absl_cc_library / LevelDB's leveldb_test().

# regulars_library(NAME SRCS ... DEPS ... [PRIVATE_DEPS ...])
# One static library per module; `regulars_<name>` target, include root is src/.
function(regulars_library name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(regulars_${name} STATIC ${ARG_SRCS})
  target_include_directories(regulars_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(regulars_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# regulars_test(NAME SRCS ... DEPS ... [LABELS ...])
# A GoogleTest binary registered with CTest. Tests that touch a database run on every backend
# the environment offers (see store/testing.h).
function(regulars_test name)
  cmake_parse_arguments(ARG "" "" "SRCS;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SRCS})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  add_test(NAME ${name} COMMAND ${name} --gtest_brief=1)
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()
