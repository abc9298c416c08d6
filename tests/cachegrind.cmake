# The cachegrind oracle test: a small static user program, traced by
# valgrind's lackey and simulated by cachegrind; tandem's caches replaying
# the trace must report cachegrind's miss counts exactly. The program is
# built with the plain compiler (no sanitizers: valgrind runs it).
set(CG_WORKLOAD ${CMAKE_CURRENT_BINARY_DIR}/cachegrind/workload)
add_custom_command(OUTPUT ${CG_WORKLOAD}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/cachegrind
  COMMAND ${CMAKE_C_COMPILER} -O1 -static -o ${CG_WORKLOAD}
          ${CMAKE_CURRENT_SOURCE_DIR}/cachegrind/workload.c
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cachegrind/workload.c
  COMMENT "Building the cachegrind-oracle workload")
add_custom_target(cachegrind_workload ALL DEPENDS ${CG_WORKLOAD})
add_test(NAME cachegrind_oracle
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cachegrind/oracle.sh ${CG_WORKLOAD}
          $<TARGET_FILE:tandem> ${CMAKE_CURRENT_BINARY_DIR}/cachegrind/run)
set_tests_properties(cachegrind_oracle PROPERTIES LABELS unit SKIP_RETURN_CODE 77 TIMEOUT 120)
