# KVM lockstep oracle (docs/lockstep.md): the interpreter against KVM
# single-step at CPL 0, on the bare-metal programs and the start of the
# Debian kernel. Label "lockstep": CI-sized bounds; "long": deep runs.
add_executable(lockstep0 ${CMAKE_CURRENT_SOURCE_DIR}/lockstep0/lockstep0.c
  ${CMAKE_CURRENT_SOURCE_DIR}/lockstep0/compare.c)
target_link_libraries(lockstep0 PRIVATE tandem_core)

# The programs that run without a divergence (within the bound, or to their
# end, or to their first return to CPL 3).
foreach(prog hello ports_mmio lapic_timer ioapic_uart exceptions ring3 sse_x87 phases memwalk)
  add_test(NAME lockstep0_${prog}
    COMMAND lockstep0 --max 20000 elf $<TARGET_FILE:guest_${prog}>)
  set_tests_properties(lockstep0_${prog} PROPERTIES LABELS "lockstep;kvm" SKIP_RETURN_CODE 77
    TIMEOUT 120 PASS_REGULAR_EXPRESSION "lockstep0: PASS")
endforeach()
add_test(NAME lockstep0_engine_switch
  COMMAND lockstep0 --max 20000 elf $<TARGET_FILE:guest_engine_switch>)
set_tests_properties(lockstep0_engine_switch PROPERTIES LABELS "lockstep;kvm" SKIP_RETURN_CODE 77
  TIMEOUT 120 PASS_REGULAR_EXPRESSION "lockstep0: PASS")
add_test(NAME lockstep0_long_engine_switch
  COMMAND lockstep0 --max 2000000 --ram-every 10000 elf $<TARGET_FILE:guest_engine_switch>)
set_tests_properties(lockstep0_long_engine_switch PROPERTIES LABELS "long;kvm" SKIP_RETURN_CODE 77
  TIMEOUT 3600 PASS_REGULAR_EXPRESSION "lockstep0: PASS")
# The start of the Debian kernel from the loader's entry state (needs
# scripts/fetch-guest: skipped without the kernel; the initramfs is optional,
# these bounds end before it is unpacked): the first 1e6 instructions in CI
# (issue #6's bound; 2.5 minutes on a quiet host, 8.5 at load 12:
# docs/lockstep.md "Speed"), 1e7 in the long run.
foreach(run "lockstep0_linux;1000000;lockstep;1800" "lockstep0_long_linux;10000000;long;14400")
  list(GET run 0 name)
  list(GET run 1 bound)
  list(GET run 2 label)
  list(GET run 3 timeout)
  add_test(NAME ${name}
    COMMAND sh -c "[ -r \"$1\" ] || { echo \"SKIPPED: $1 missing (scripts/fetch-guest)\"; exit 77; }
initrd=\"$2\"; [ -r \"$initrd\" ] || initrd=
exec \"$0\" --mem 512M --max $3 --ram-every 100000 linux \"$1\" \"$initrd\""
      $<TARGET_FILE:lockstep0> ${CMAKE_SOURCE_DIR}/cache/vmlinuz
      ${CMAKE_BINARY_DIR}/guest/initramfs.cpio.gz ${bound})
  set_tests_properties(${name} PROPERTIES LABELS "${label};kvm" SKIP_RETURN_CODE 77
    TIMEOUT ${timeout} PASS_REGULAR_EXPRESSION "lockstep0: PASS")
endforeach()
