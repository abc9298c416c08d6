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
    # The same program entered at its 64-bit entry through the tandem ELF
    # boot protocol (guest/elfboot loads it inside QEMU).
    add_test(NAME guest_qemu_elf_${name}
      COMMAND ${CMAKE_SOURCE_DIR}/guest/run-qemu --elf $<TARGET_FILE:${target}>)
    set_tests_properties(guest_qemu_${name} guest_qemu_elf_${name} PROPERTIES LABELS guest
      TIMEOUT 60 ENVIRONMENT "QEMU_TIMEOUT=50")
  endforeach()
  # The harness must notice a failing program: elfboot without a module
  # prints a FAIL line and exits with the fail code.
  add_test(NAME guest_qemu_harness_sees_fail
    COMMAND ${CMAKE_SOURCE_DIR}/guest/run-qemu $<TARGET_FILE:guest_elfboot>)
  set_tests_properties(guest_qemu_harness_sees_fail PROPERTIES LABELS guest TIMEOUT 60
    WILL_FAIL TRUE ENVIRONMENT "QEMU_TIMEOUT=50")
endif()

# Debian's kernel + a guest/mkinitramfs initramfs under QEMU (~15 s): needs
# scripts/fetch-guest; skipped (code 77) when the cache is empty.
if(QEMU_SYSTEM_X86_64)
  add_test(NAME guest_qemu_linux_initramfs
    COMMAND ${CMAKE_SOURCE_DIR}/guest/test-linux-qemu ${CMAKE_BINARY_DIR})
  set_tests_properties(guest_qemu_linux_initramfs PROPERTIES LABELS "guest;long"
    TIMEOUT 400 SKIP_RETURN_CODE 77)
endif()

# tandemctl rejects bad arguments before touching any port (safe on a host).
add_test(NAME guest_tandemctl_bad_engine COMMAND tandemctl switch sideways)
add_test(NAME guest_tandemctl_bad_code COMMAND tandemctl exit 12x)
add_test(NAME guest_tandemctl_no_command COMMAND tandemctl)
set_tests_properties(guest_tandemctl_bad_engine PROPERTIES LABELS guest
  PASS_REGULAR_EXPRESSION "switch needs 'kvm' or 'interp', got 'sideways'")
set_tests_properties(guest_tandemctl_bad_code PROPERTIES LABELS guest
  PASS_REGULAR_EXPRESSION "exit needs a 32-bit integer CODE, got '12x'")
set_tests_properties(guest_tandemctl_no_command PROPERTIES LABELS guest
  PASS_REGULAR_EXPRESSION "usage: tandemctl COMMAND")
