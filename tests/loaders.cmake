# The Linux loader test reads Debian's kernel. A fixture test fetches it
# first (scripts/fetch-kernel, idempotent), so a failed fetch fails loudly
# instead of the kernel tests skipping. The cache is <source>/cache unless
# TANDEM_CACHE is set when configuring.
if(DEFINED ENV{TANDEM_CACHE})
  set(TANDEM_KERNEL_CACHE "$ENV{TANDEM_CACHE}")
else()
  set(TANDEM_KERNEL_CACHE "${CMAKE_SOURCE_DIR}/cache")
endif()
add_test(NAME fetch_kernel COMMAND ${CMAKE_SOURCE_DIR}/scripts/fetch-kernel)
set_tests_properties(fetch_kernel PROPERTIES
  FIXTURES_SETUP debian_kernel
  ENVIRONMENT "TANDEM_CACHE=${TANDEM_KERNEL_CACHE}"
  TIMEOUT 600)
set_tests_properties(test_linux_loader PROPERTIES FIXTURES_REQUIRED debian_kernel)
set_property(TEST test_linux_loader APPEND PROPERTY ENVIRONMENT
  "TANDEM_KERNEL=${TANDEM_KERNEL_CACHE}/vmlinuz")

# End to end: a bare-metal guest program (guest/tests/hello.c) started by
# each loader that can start it, on the KVM engine: the ELF64 entry of the
# tandem ELF boot protocol, and the Multiboot a.out-kludge entry. Without
# /dev/kvm the tests report SKIPPED.
if(TARGET guest_hello)
  foreach(loader ElfLoader MultibootLoader)
    add_test(NAME loader_boots_hello_${loader}
      COMMAND tandem run ${CMAKE_CURRENT_SOURCE_DIR}/loaders/boot-program.lua --outdir
              ${CMAKE_CURRENT_BINARY_DIR}/loader_boots_hello_${loader}
              -- loader=${loader} kernel=$<TARGET_FILE:guest_hello>)
    set_tests_properties(loader_boots_hello_${loader} PROPERTIES LABELS kvm TIMEOUT 60
      PASS_REGULAR_EXPRESSION "TEST hello: PASS"
      SKIP_REGULAR_EXPRESSION "/dev/kvm does not exist")
  endforeach()
endif()
