# Bare-metal guest programs (guest/tests/*.c) on tandem's own engines: each
# program runs with engine=interp (label "unit": fast) and engine=kvm (label
# "kvm", skipped with 77 when /dev/kvm is unusable). tests/baremetal/run.sh
# requires both the "TEST <name>: PASS" line and exit status 0.
get_property(baremetal_programs GLOBAL PROPERTY TANDEM_GUEST_PROGRAMS)
# memwalk (the cycle-accounting workload) is a long memory-bound ring-0
# loop: on KVM hosts that emulate ring 0 (kvm_pvm) it outlasts the run's
# limit, so it runs on the interpreter only.
foreach(target ${baremetal_programs})
  string(REGEX REPLACE "^guest_" "" name ${target})
  set(engines interp kvm)
  if(name STREQUAL memwalk)
    set(engines interp)
  endif()
  foreach(engine ${engines})
    add_test(NAME baremetal_${engine}_${name}
      COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/baremetal/run.sh $<TARGET_FILE:tandem> ${CMAKE_SOURCE_DIR}
        $<TARGET_FILE:${target}> ${name} ${engine})
    if(engine STREQUAL kvm)
      set(labels kvm)
    else()
      set(labels unit)
    endif()
    set_tests_properties(baremetal_${engine}_${name} PROPERTIES LABELS ${labels}
      TIMEOUT 60 SKIP_RETURN_CODE 77)
  endforeach()
endforeach()

# The same programs switching between KVM and the interpreter every 500 us
# of simulated time (tests/baremetal/switch.sh): the output must equal a
# KVM-only run's. lapic_timer's counts depend on host timing under KVM, so it
# only has to pass. Label "kvm".
foreach(target ${baremetal_programs})
  string(REGEX REPLACE "^guest_" "" name ${target})
  if(name STREQUAL memwalk)
    continue()
  endif()
  set(compare exact)
  if(name STREQUAL lapic_timer)
    set(compare pass-only)
  endif()
  add_test(NAME baremetal_switch_${name}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/baremetal/switch.sh $<TARGET_FILE:tandem> ${CMAKE_SOURCE_DIR}
      $<TARGET_FILE:${target}> ${name} 500000 ${compare})
  set_tests_properties(baremetal_switch_${name} PROPERTIES LABELS kvm TIMEOUT 120
    SKIP_RETURN_CODE 77)
endforeach()

# A triple fault under each on_shutdown/on_reset setting (shutdown.sh), on
# both engines.
foreach(engine interp kvm)
  add_test(NAME baremetal_${engine}_triple_fault
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/baremetal/shutdown.sh $<TARGET_FILE:tandem> ${CMAKE_SOURCE_DIR}
      $<TARGET_FILE:guest_triple_fault> ${engine})
  if(engine STREQUAL kvm)
    set(labels kvm)
  else()
    set(labels unit)
  endif()
  set_tests_properties(baremetal_${engine}_triple_fault PROPERTIES LABELS ${labels}
    TIMEOUT 60 SKIP_RETURN_CODE 77 PASS_REGULAR_EXPRESSION "shutdown.sh: PASS")
endforeach()

# ud_cpl0 with the fallback engine running one instruction per hand-over:
# an intercepted #UD must still reach the guest's handler exactly once when
# the interpreter stops right after delivering it (kvm/kvm_pvm.c).
add_test(NAME baremetal_kvm_ud_cpl0_fallback1
  COMMAND $<TARGET_FILE:tandem> run ${CMAKE_SOURCE_DIR}/configs/baremetal.lua --quiet
    --set system.cpu0.fallback_insts=1 -- program=$<TARGET_FILE:guest_ud_cpl0> engine=kvm)
set_tests_properties(baremetal_kvm_ud_cpl0_fallback1 PROPERTIES LABELS kvm TIMEOUT 60
  PASS_REGULAR_EXPRESSION "TEST ud_cpl0: PASS"
  SKIP_REGULAR_EXPRESSION "/dev/kvm does not exist|permission denied opening /dev/kvm")
