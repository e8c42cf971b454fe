# vmsg-bench: the histogram's unit test and a smoke run of every subcommand
# on every transport with tiny counts (no speed is asserted).
vmsg_add_test(bench_hist SOURCES bench/hist_test.c ${CMAKE_SOURCE_DIR}/bench/hist.c
              LIBS m)
target_include_directories(bench_hist PRIVATE ${CMAKE_SOURCE_DIR}/bench)

find_program(VMSG_PYTHON3 python3)
if(VMSG_PYTHON3 AND TARGET vmsg-bench)
  add_test(NAME bench_smoke
           COMMAND ${VMSG_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/bench/smoke.py
                   $<TARGET_FILE:vmsg-bench> ${CMAKE_SOURCE_DIR}/bench/results.schema.json)
  set_tests_properties(bench_smoke PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
endif()
