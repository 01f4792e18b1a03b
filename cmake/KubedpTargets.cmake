# The few functions that declare every kubedp target, so a new one is a line.

# kubedp_library(NAME SOURCES ... DEPS ...): a static library rooted at src/.
function(kubedp_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/bpf/include)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()

# kubedp_test(NAME LABEL unit|bpf|e2e SOURCES ... DEPS ...): a GoogleTest binary
# registered with CTest under its label. bpf and e2e tests need root.
function(kubedp_test name)
  cmake_parse_arguments(ARG "" "LABEL;TIMEOUT" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main GTest::gmock)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS ${ARG_LABEL} TIMEOUT ${ARG_TIMEOUT})
  if(NOT ARG_LABEL STREQUAL "unit")
    # Kernel-touching tests share namespaces, bpffs and the CPU: never in parallel.
    set_tests_properties(${name} PROPERTIES RUN_SERIAL TRUE FIXTURES_REQUIRED kubedp_kernel)
  endif()
endfunction()
