# Cycle accounting on the interpreter (tests/timing/determinism.sh): a
# timed bare-metal run gives bit-identical stats twice, and the model drives
# the CPU's cycles; memwalk also checks its ROI dump. Label "unit" (a few
# seconds at most). exceptions: the delivery cost of exceptions.
foreach(name ring3 sse_x87 memwalk exceptions)
  add_test(NAME timing_determinism_${name}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/timing/determinism.sh $<TARGET_FILE:tandem> ${CMAKE_SOURCE_DIR}
      $<TARGET_FILE:guest_${name}> ${name})
  set_tests_properties(timing_determinism_${name} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()

# The Debian boot of tests/linux.cmake with the timing model on
# (configs/pc.lua timing=1): the same checks, label "linux" (about 75 CPU
# seconds, several minutes on a loaded host).
add_test(NAME linux_boot_interp_timing
  COMMAND ${CMAKE_SOURCE_DIR}/tests/linux/check-boot
          $<TARGET_FILE:tandem> run ${CMAKE_SOURCE_DIR}/configs/pc.lua --quiet
          --outdir ${CMAKE_BINARY_DIR}/linux-interp-timing
          -- engine=interp initrd=${CMAKE_BINARY_DIR}/guest/initramfs.cpio.gz seconds=30 timing=1
          --expect
          "Linux version 6\\.1"
          "TANDEM: init started"
          "^checksum 36212$"
          "TANDEM: commands done, failures 0")
set_tests_properties(linux_boot_interp_timing PROPERTIES
  FIXTURES_REQUIRED linux_guest LABELS linux TIMEOUT 1200 PASS_REGULAR_EXPRESSION "check-boot: PASS")

# The main job's flow (configs/roi_run.lua) on memwalk: checkpoint at ROI
# begin, timed ROI, restore with the same and with a bigger L1D.
add_test(NAME timing_roi_checkpoint
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/timing/roi.sh $<TARGET_FILE:tandem> ${CMAKE_SOURCE_DIR}
    $<TARGET_FILE:guest_memwalk>)
set_tests_properties(timing_roi_checkpoint PROPERTIES LABELS unit TIMEOUT 300)
