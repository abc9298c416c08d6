# The Debian kernel boots to the busybox init on the interpreter, runs the
# initramfs command list (uname -a, /proc/cpuinfo, a computation) and ends
# the run through tandemctl with the number of failed commands. A fixture
# fetches the guest software and builds the initramfs first, so a failed
# fetch fails loudly.
add_test(NAME linux_initramfs_build
  COMMAND ${CMAKE_SOURCE_DIR}/guest/mkinitramfs -o ${CMAKE_BINARY_DIR}/guest/initramfs.cpio.gz
          -t $<TARGET_FILE:tandemctl>)
# The fetch itself is the debian_kernel fixture (tests/loaders.cmake).
set_tests_properties(linux_initramfs_build PROPERTIES FIXTURES_SETUP linux_guest
  FIXTURES_REQUIRED debian_kernel LABELS linux TIMEOUT 900)

add_test(NAME linux_boot_interp
  COMMAND ${CMAKE_SOURCE_DIR}/tests/linux/check-boot
          $<TARGET_FILE:tandem> run ${CMAKE_SOURCE_DIR}/configs/pc.lua --quiet
          --outdir ${CMAKE_BINARY_DIR}/linux-interp
          -- engine=interp initrd=${CMAKE_BINARY_DIR}/guest/initramfs.cpio.gz seconds=30
          --expect
          "Linux version 6\\.1"
          "TANDEM: init started"
          "^Linux \\(none\\) 6\\.1.*x86_64"
          "model name.*tandem x86-64 virtual CPU"
          "^checksum 36212$"
          "TANDEM: commands done, failures 0")
set_tests_properties(linux_boot_interp PROPERTIES
  FIXTURES_REQUIRED linux_guest LABELS linux TIMEOUT 1200 PASS_REGULAR_EXPRESSION "check-boot: PASS")

# The same kernel powering itself off through ACPI (busybox poweroff -f ->
# the FADT sleep control register -> AcpiPM -> the run ends with status 0).
add_test(NAME linux_poweroff_initramfs_build
  COMMAND ${CMAKE_SOURCE_DIR}/guest/mkinitramfs -o ${CMAKE_BINARY_DIR}/guest/poweroff.cpio.gz
          -t $<TARGET_FILE:tandemctl> -c "uname -a" -c "poweroff -f")
set_tests_properties(linux_poweroff_initramfs_build PROPERTIES FIXTURES_SETUP linux_poweroff_guest
  FIXTURES_REQUIRED debian_kernel LABELS linux TIMEOUT 900)
add_test(NAME linux_poweroff_interp
  COMMAND ${CMAKE_SOURCE_DIR}/tests/linux/check-boot
          $<TARGET_FILE:tandem> run ${CMAKE_SOURCE_DIR}/configs/pc.lua
          --outdir ${CMAKE_BINARY_DIR}/linux-poweroff
          -- engine=interp initrd=${CMAKE_BINARY_DIR}/guest/poweroff.cpio.gz seconds=30
          --expect
          "TANDEM: init started"
          "reboot: Power down"
          "guest powered off \\(ACPI S5\\)")
set_tests_properties(linux_poweroff_interp PROPERTIES
  FIXTURES_REQUIRED linux_poweroff_guest LABELS linux TIMEOUT 1200 PASS_REGULAR_EXPRESSION "check-boot: PASS")
