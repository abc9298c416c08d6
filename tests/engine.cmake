# Engine tests on the machine of tests/kvm/kvm_testlib.c: the interpreter
# as a full-system engine (label "unit", no /dev/kvm needed) and switching
# between engines (label "kvm", skipped with 77 without /dev/kvm).
foreach(name test_interp_engine test_engine_switch)
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/engine/${name}.c
    ${CMAKE_CURRENT_SOURCE_DIR}/kvm/kvm_testlib.c ${CMAKE_CURRENT_SOURCE_DIR}/unit/testlib.c)
  target_link_libraries(${name} PRIVATE tandem_core PkgConfig::CHECK)
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit
    ${CMAKE_CURRENT_SOURCE_DIR}/kvm ${CMAKE_CURRENT_SOURCE_DIR}/engine)
  add_test(NAME ${name} COMMAND ${name})
endforeach()
set_tests_properties(test_interp_engine PROPERTIES LABELS unit ENVIRONMENT "CK_DEFAULT_TIMEOUT=60")
set_tests_properties(test_engine_switch PROPERTIES LABELS kvm SKIP_RETURN_CODE 77
  ENVIRONMENT "CK_DEFAULT_TIMEOUT=120")

# sim.run{for_insts=, for_host_ms=, for_host_s=} (tests/lua/run_limits.lua).
add_test(NAME run_limits_interp COMMAND tandem run ${CMAKE_CURRENT_SOURCE_DIR}/lua/run_limits.lua
  --quiet -- program=$<TARGET_FILE:guest_phases> engine=interp)
set_tests_properties(run_limits_interp PROPERTIES LABELS unit TIMEOUT 60
  PASS_REGULAR_EXPRESSION "run limits: PASS")
add_test(NAME run_limits_kvm COMMAND tandem run ${CMAKE_CURRENT_SOURCE_DIR}/lua/run_limits.lua
  --quiet -- program=$<TARGET_FILE:guest_phases> engine=kvm)
set_tests_properties(run_limits_kvm PROPERTIES LABELS kvm TIMEOUT 60
  PASS_REGULAR_EXPRESSION "run limits: PASS")
