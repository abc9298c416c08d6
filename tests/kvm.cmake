# KVM engine tests (label "kvm"): they need /dev/kvm and report
# "SKIPPED: <reason>" with exit code 77 (a ctest skip) when it is unusable.
file(GLOB KVM_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/kvm/test_*.c)
foreach(src ${KVM_TESTS})
  get_filename_component(name ${src} NAME_WE)
  add_executable(${name} ${src} ${CMAKE_CURRENT_SOURCE_DIR}/kvm/kvm_testlib.c
    ${CMAKE_CURRENT_SOURCE_DIR}/unit/testlib.c)
  target_link_libraries(${name} PRIVATE tandem_core PkgConfig::CHECK)
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit
    ${CMAKE_CURRENT_SOURCE_DIR}/kvm)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS kvm SKIP_RETURN_CODE 77
    ENVIRONMENT "CK_DEFAULT_TIMEOUT=60")
endforeach()

# bench/kvm-native builds and runs this (a benchmark, never a test).
add_executable(kvm_native_bench ${CMAKE_SOURCE_DIR}/bench/kvm_native.c)
target_link_libraries(kvm_native_bench PRIVATE tandem_core)

# Bare-metal guest programs (guest/tests) on tandem's KVM engine with the
# real devices: the ones kvm_pvm runs without the interpreter fallback
# (docs/kvm.md lists what the others hit). Each must print its PASS line and
# end the run with status 0.
foreach(prog hello ports_mmio lapic_timer ioapic_uart)
  add_test(NAME kvm_guest_${prog}
    COMMAND sh -c "[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo \"SKIPPED: /dev/kvm is not usable\"; exit 77; }
out=$(\"$0\" run --quiet --outdir \"$1\" \"$2\" -- program=\"$3\" 2>&1); rc=$?; echo \"$out\"
[ $rc -eq 0 ] && echo \"$out\" | grep -q \"TEST ${prog}: PASS\""
      $<TARGET_FILE:tandem> ${CMAKE_BINARY_DIR}/kvm-guest-${prog}
      ${CMAKE_SOURCE_DIR}/configs/baremetal.lua $<TARGET_FILE:guest_${prog}>)
  set_tests_properties(kvm_guest_${prog} PROPERTIES LABELS kvm SKIP_RETURN_CODE 77 TIMEOUT 60)
endforeach()
