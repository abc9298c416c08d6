# Cycle accounting on the interpreter (tests/timing/determinism.sh): a
# timed bare-metal run gives bit-identical stats twice, and the model drives
# the CPU's cycles; memwalk also checks its ROI dump. Label "unit" (a few
# seconds at most).
foreach(name ring3 sse_x87 memwalk)
  add_test(NAME timing_determinism_${name}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/timing/determinism.sh $<TARGET_FILE:tandem> ${CMAKE_SOURCE_DIR}
      $<TARGET_FILE:guest_${name}> ${name})
  set_tests_properties(timing_determinism_${name} PROPERTIES LABELS unit TIMEOUT 60)
endforeach()
