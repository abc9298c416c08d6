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
