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

# What the default initramfs's /init prints when every command worked (also
# tests/linux_kvm.cmake).
set(LINUX_INIT_EXPECT
  "Linux version 6\\.1"
  "TANDEM: init started"
  "^Linux \\(none\\) 6\\.1.*x86_64"
  "model name.*tandem x86-64 virtual CPU"
  "^checksum 36212$"
  "TANDEM: commands done, failures 0")
add_test(NAME linux_boot_interp
  COMMAND ${CMAKE_SOURCE_DIR}/tests/linux/check-boot
          $<TARGET_FILE:tandem> run ${CMAKE_SOURCE_DIR}/configs/pc.lua --quiet
          --outdir ${CMAKE_BINARY_DIR}/linux-interp
          -- engine=interp initrd=${CMAKE_BINARY_DIR}/guest/initramfs.cpio.gz seconds=30
          --expect ${LINUX_INIT_EXPECT})
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

# The main job (scripts/demo, docs/roi.md): the kernel boots on engine=auto
# without a timing model; at the initramfs's `tandemctl roi begin` the run
# checkpoints, times the region on the interpreter with the default caches
# and prints the summary; then the checkpoint is restored with a 64 KiB L1D,
# which re-runs only the region.
add_test(NAME linux_roi_initramfs_build
  COMMAND ${CMAKE_SOURCE_DIR}/guest/mkinitramfs -o ${CMAKE_BINARY_DIR}/guest/roi.cpio.gz
          -t $<TARGET_FILE:tandemctl> -f ${CMAKE_SOURCE_DIR}/guest/roi.commands)
set_tests_properties(linux_roi_initramfs_build PROPERTIES FIXTURES_SETUP linux_roi_guest
  FIXTURES_REQUIRED debian_kernel LABELS linux TIMEOUT 900)
add_test(NAME linux_roi_clean COMMAND ${CMAKE_COMMAND} -E rm -rf ${CMAKE_BINARY_DIR}/linux-roi)
set_tests_properties(linux_roi_clean PROPERTIES FIXTURES_SETUP linux_roi_guest LABELS linux)
add_test(NAME linux_roi_main_job
  COMMAND ${CMAKE_SOURCE_DIR}/tests/linux/check-boot
          $<TARGET_FILE:tandem> run ${CMAKE_SOURCE_DIR}/configs/roi.lua
          --outdir ${CMAKE_BINARY_DIR}/linux-roi
          -- initrd=${CMAKE_BINARY_DIR}/guest/roi.cpio.gz seconds=30
          --expect
          "TANDEM: init started"
          "checkpoint written to .*linux-roi/roi-ckpt"
          "^118880$"
          "region of interest summary"
          "^boot \\(engine auto\\): .* s host, .* s simulated"
          "^ROI on the interpreter with caches L1I 32K, L1D 32K, L2 256K"
          "^  instructions [0-9,]+, cycles [0-9,]+, IPC 0\\.[0-9]+"
          "^  MPKI: L1I [0-9.]+  L1D [0-9.]+  L2 [0-9.]+"
          "^stats: .*linux-roi/stats.txt"
          "^checkpoint at ROI begin: .*linux-roi/roi-ckpt"
          "TANDEM: commands done, failures 0")
set_tests_properties(linux_roi_main_job PROPERTIES
  FIXTURES_REQUIRED linux_roi_guest FIXTURES_SETUP linux_roi_ckpt LABELS linux TIMEOUT 1200
  PASS_REGULAR_EXPRESSION "check-boot: PASS")
add_test(NAME linux_roi_restore_l1d64k
  COMMAND ${CMAKE_SOURCE_DIR}/tests/linux/check-boot
          $<TARGET_FILE:tandem> run ${CMAKE_SOURCE_DIR}/configs/roi.lua
          --outdir ${CMAKE_BINARY_DIR}/linux-roi/l1d64K
          -- checkpoint=${CMAKE_BINARY_DIR}/linux-roi/roi-ckpt l1d=64K
          --expect
          "restored .*linux-roi/roi-ckpt"
          "^118880$"
          "^restored from .*roi-ckpt"
          "^ROI on the interpreter with caches L1I 32K, L1D 64K, L2 256K"
          "^  MPKI: L1I [0-9.]+  L1D [0-9.]+"
          "TANDEM: commands done, failures 0")
set_tests_properties(linux_roi_restore_l1d64k PROPERTIES
  FIXTURES_REQUIRED linux_roi_ckpt LABELS linux TIMEOUT 600 PASS_REGULAR_EXPRESSION "check-boot: PASS")
