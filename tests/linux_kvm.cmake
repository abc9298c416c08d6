# Debian's kernel booted on the KVM engine alone (docs/linux-on-kvm.md): the
# same initramfs and checks (LINUX_INIT_EXPECT) as linux_boot_interp
# (tests/linux.cmake). On hardware KVM this takes seconds; on a kvm_pvm host, whose ring 0 is
# emulated, the boot relies on the interpreter fallback for what kvm_pvm
# cannot execute (emulation failures, intercepted #UDs) and takes
# hours (docs/linux-on-kvm.md: timer ticks on a wall clock), hence the label
# "long" and the 4-hour limit. Guest time there follows the host TSC, so
# the simulated-time limit is generous. Skipped without /dev/kvm.
add_test(NAME linux_boot_kvm
  COMMAND ${CMAKE_SOURCE_DIR}/tests/linux/check-boot
          $<TARGET_FILE:tandem> run ${CMAKE_SOURCE_DIR}/configs/pc.lua --quiet
          --outdir ${CMAKE_BINARY_DIR}/linux-kvm
          -- engine=kvm initrd=${CMAKE_BINARY_DIR}/guest/initramfs.cpio.gz seconds=20000
          --expect ${LINUX_INIT_EXPECT})
set_tests_properties(linux_boot_kvm PROPERTIES
  FIXTURES_REQUIRED linux_guest LABELS "kvm;long" TIMEOUT 14400
  PASS_REGULAR_EXPRESSION "check-boot: PASS"
  SKIP_REGULAR_EXPRESSION "/dev/kvm does not exist|permission denied opening /dev/kvm")
