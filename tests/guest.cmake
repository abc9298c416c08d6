# Bare-metal guest programs (guest/tests/*.c) run under QEMU, the reference
# machine: each must print "TEST <name>: PASS" and exit with the pass code.
# Label "guest". Runs under tandem's own engines are added next to these.
find_program(QEMU_SYSTEM_X86_64 qemu-system-x86_64)
get_property(guest_programs GLOBAL PROPERTY TANDEM_GUEST_PROGRAMS)
if(NOT QEMU_SYSTEM_X86_64)
  message(WARNING "qemu-system-x86_64 not found (scripts/setup installs it): guest programs are built but not run")
else()
  foreach(target ${guest_programs})
    string(REGEX REPLACE "^guest_" "" name ${target})
    add_test(NAME guest_qemu_${name}
      COMMAND ${CMAKE_SOURCE_DIR}/guest/run-qemu $<TARGET_FILE:${target}>)
    set_tests_properties(guest_qemu_${name} PROPERTIES LABELS guest TIMEOUT 60
      ENVIRONMENT "QEMU_TIMEOUT=50")
  endforeach()
endif()
