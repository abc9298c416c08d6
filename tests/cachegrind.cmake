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

# The cachegrind oracle run by tandem (docs/timing.md): the static user
# program linux_workload.c under cachegrind on the host and as a Linux
# process on the interpreter in cachegrind counting mode; equal counts. No
# libc, no PIE, no stack protector (its canary is read through FS), no REP
# string instructions (the test checks), one ELF the guest and valgrind both
# run.
set(CG_LINUX_WORKLOAD ${CMAKE_CURRENT_BINARY_DIR}/cachegrind/cg_workload)
add_custom_command(OUTPUT ${CG_LINUX_WORKLOAD}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_CURRENT_BINARY_DIR}/cachegrind
  COMMAND ${CMAKE_C_COMPILER} -O1 -static -nostdlib -fno-pie -no-pie -ffreestanding
          -fno-stack-protector -fno-tree-loop-distribute-patterns -fcf-protection=none
          -fno-asynchronous-unwind-tables -Wl,--build-id=none -Wall -Wextra
          -I${CMAKE_SOURCE_DIR}/guest/include -o ${CG_LINUX_WORKLOAD}
          ${CMAKE_CURRENT_SOURCE_DIR}/cachegrind/linux_workload.c
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cachegrind/linux_workload.c
          ${CMAKE_SOURCE_DIR}/guest/include/tandemctl.h
  COMMENT "Building the cachegrind-oracle Linux workload")
add_custom_target(cachegrind_linux_workload ALL DEPENDS ${CG_LINUX_WORKLOAD})
if(DEFINED ENV{TANDEM_CACHE})
  set(CG_KERNEL_CACHE "$ENV{TANDEM_CACHE}")
else()
  set(CG_KERNEL_CACHE "${CMAKE_SOURCE_DIR}/cache")
endif()
add_test(NAME cachegrind_linux
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/cachegrind/linux.sh ${CG_LINUX_WORKLOAD}
          $<TARGET_FILE:tandem> $<TARGET_FILE:tandemctl> ${CMAKE_SOURCE_DIR} ${CG_KERNEL_CACHE}
          ${CMAKE_CURRENT_BINARY_DIR}/cachegrind/linux)
set_tests_properties(cachegrind_linux PROPERTIES LABELS linux SKIP_RETURN_CODE 77 TIMEOUT 1200
  FIXTURES_REQUIRED debian_kernel)
