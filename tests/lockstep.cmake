# Lockstep suite: the interpreter against the real CPU (ptrace single-step).
# Label "lockstep": bounded runs per instruction group; "long": >= 1e6
# instructions per group.
add_executable(lockstep
  ${CMAKE_CURRENT_SOURCE_DIR}/lockstep/lockstep.c
  ${CMAKE_CURRENT_SOURCE_DIR}/lockstep/gen.c
  ${CMAKE_CURRENT_SOURCE_DIR}/lockstep/desc.c
  ${CMAKE_CURRENT_SOURCE_DIR}/lockstep/workloads.c
  ${CMAKE_CURRENT_SOURCE_DIR}/lockstep/workloads_fp.c)
target_link_libraries(lockstep PRIVATE tandem_core)
# Integer-only code, so every workload instruction is one the engine runs;
# never instrumented by sanitizers (the interpreter runs it on raw memory).
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/lockstep/workloads.c
  PROPERTIES COMPILE_OPTIONS "-mgeneral-regs-only;-O2;-fno-builtin;-fno-tree-loop-distribute-patterns;-fno-sanitize=all")
# SSE2 and x87 code, still without library calls.
set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/lockstep/workloads_fp.c
  PROPERTIES COMPILE_OPTIONS "-O2;-fno-math-errno;-fno-tree-loop-distribute-patterns;-fno-sanitize=all")

set(LOCKSTEP_GROUPS alu shift muldiv bit string stack control misc sse x87 mmx mixed)
foreach(group ${LOCKSTEP_GROUPS})
  add_test(NAME lockstep_${group} COMMAND lockstep gen ${group} 20000 1)
  set_tests_properties(lockstep_${group} PROPERTIES LABELS lockstep TIMEOUT 300)
  add_test(NAME lockstep_long_${group} COMMAND lockstep gen ${group} 1000000 7)
  set_tests_properties(lockstep_long_${group} PROPERTIES LABELS "lockstep;long" TIMEOUT 7200)
endforeach()
add_test(NAME lockstep_workloads COMMAND lockstep work)
set_tests_properties(lockstep_workloads PROPERTIES LABELS lockstep TIMEOUT 600)
# LAR/LSL/VERR/VERW at CPL 3: this CPU against the interpreter over the host
# kernel's GDT as Linux defines it (tests/lockstep/desc.c says why not ptrace).
add_test(NAME lockstep_desc COMMAND lockstep desc)
set_tests_properties(lockstep_desc PROPERTIES LABELS lockstep TIMEOUT 120
  PASS_REGULAR_EXPRESSION ", 0 divergences")

# Decoder against capstone over millions of random byte strings.
add_test(NAME decode_capstone_long COMMAND test_decode_capstone)
set_tests_properties(decode_capstone_long PROPERTIES LABELS long TIMEOUT 3600
  ENVIRONMENT "DECODE_CASES=5000000;CK_DEFAULT_TIMEOUT=3600")
