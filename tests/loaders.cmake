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
