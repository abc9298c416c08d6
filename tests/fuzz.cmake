# The checkpoint-reader fuzz corpus replayed as a unit test (also under
# ASan+UBSan in CI); -DTANDEM_FUZZ=ON with clang adds the libFuzzer binary.
add_executable(fuzz_checkpoint_replay ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_checkpoint.c)
target_link_libraries(fuzz_checkpoint_replay PRIVATE tandem_core)
file(GLOB FUZZ_CORPUS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/*)
add_test(NAME fuzz_checkpoint_corpus COMMAND fuzz_checkpoint_replay ${FUZZ_CORPUS})
set_tests_properties(fuzz_checkpoint_corpus PROPERTIES LABELS unit)
if(TANDEM_FUZZ)
  add_executable(fuzz_checkpoint ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_checkpoint.c)
  target_compile_definitions(fuzz_checkpoint PRIVATE TANDEM_LIBFUZZER)
  target_compile_options(fuzz_checkpoint PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_checkpoint PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz_checkpoint PRIVATE tandem_core)
endif()
