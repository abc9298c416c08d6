# KVM lockstep oracle (docs/lockstep.md): the interpreter against KVM
# single-step at CPL 0, on the bare-metal programs and the start of the
# Debian kernel. Label "lockstep": CI-sized bounds; "long": deep runs.
add_executable(lockstep0 ${CMAKE_CURRENT_SOURCE_DIR}/lockstep0/lockstep0.c
  ${CMAKE_CURRENT_SOURCE_DIR}/lockstep0/compare.c)
target_link_libraries(lockstep0 PRIVATE tandem_core)
