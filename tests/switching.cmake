# Engine-switching round trips (docs/engine-switching.md): a bare-metal
# program switched between the interpreter and KVM in memory, carried
# interp -> checkpoint -> kvm -> checkpoint -> interp, or run on the auto
# engine, must print exactly what an unswitched interpreter run prints and,
# where marked mem=1, leave the same guest RAM (memory.hash). Label "kvm"
# (skipped with 77 without /dev/kvm); tests/switching/compare.sh runs them.
set(switching_compare ${CMAKE_CURRENT_SOURCE_DIR}/switching/compare.sh)
set(switching_lua ${CMAKE_CURRENT_SOURCE_DIR}/lua/switching.lua)
# name program mem scenario args...
set(switching_cases
  "every_ring3 ring3 mem=1 every 10"
  "every_ports_mmio ports_mmio mem=1 every 1"
  "every_exceptions exceptions mem=1 every 1"
  "every_sse_x87 sse_x87 mem=0 every 1"
  "every_engine_switch engine_switch mem=1 every 20000"
  "every_phases phases mem=0 every 3000"
  "chain_ring3 ring3 mem=1 chain 40 80"
  "chain_engine_switch engine_switch mem=1 chain 50000 150000"
  "chain_phases phases mem=1 chain 5000 6000"
  "auto_phases phases mem=0 auto 8 1000 0 6"
  "every_syscall_loop syscall_loop mem=1 every 5")
foreach(case ${switching_cases})
  separate_arguments(words UNIX_COMMAND "${case}")
  list(POP_FRONT words name program)
  add_test(NAME switching_${name}
    COMMAND ${switching_compare} $<TARGET_FILE:tandem> ${switching_lua}
      $<TARGET_FILE:guest_${program}> ${words})
  set_tests_properties(switching_${name} PROPERTIES LABELS kvm TIMEOUT 120 SKIP_RETURN_CODE 77)
endforeach()

# Debian's kernel (scripts/fetch-guest) booted across engines: checkpoints
# at 300 and 1000 ms carry it from the interpreter to KVM, and at 400 and
# 1050 ms back. A few minutes.
add_test(NAME switching_linux_chain
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/switching/linux.sh $<TARGET_FILE:tandem> ${CMAKE_BINARY_DIR}
    points=300,400,1000,1050)
# The CI round trip (label kvm, a few minutes): interp -> checkpoint -> kvm at
# 300 ms, kvm -> checkpoint -> interp at 400 ms, then in-memory switches
# every 50 ms from 600 to 900 ms, and the interpreter finishes /init's list.
add_test(NAME switching_linux_roundtrip
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/switching/linux.sh $<TARGET_FILE:tandem> ${CMAKE_BINARY_DIR}
    points=300,400 every=50,600,900)
set_tests_properties(switching_linux_roundtrip PROPERTIES LABELS kvm TIMEOUT 600
  SKIP_RETURN_CODE 77)
set_tests_properties(switching_linux_chain PROPERTIES LABELS "kvm;long" TIMEOUT 900
  SKIP_RETURN_CODE 77)
# The whole boot on the auto engine (in CI: about 20 s here): the kernel on
# the interpreter, the awk loop on KVM; on kvm_pvm its SYSCALLs there need
# the repair of kvm/kvm_pvm.c.
add_test(NAME switching_linux_auto
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/switching/linux.sh $<TARGET_FILE:tandem> ${CMAKE_BINARY_DIR}
    engine=auto)
set_tests_properties(switching_linux_auto PROPERTIES LABELS kvm TIMEOUT 600 SKIP_RETURN_CODE 77)
