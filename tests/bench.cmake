# vmsg-bench: the histogram's unit test, a smoke run of every subcommand on
# every transport with tiny counts (the host ones, and those on the
# simulated Xen: skipped in a build without the simulator, a failure in a
# build with it), bench/run-all --quick into a temporary directory, and
# bench/run-all's verdicts on crafted results. No speed is asserted.
vmsg_add_test(bench_hist SOURCES bench/hist_test.c ${CMAKE_SOURCE_DIR}/bench/hist.c
              LIBS m)
target_include_directories(bench_hist PRIVATE ${CMAKE_SOURCE_DIR}/bench)

find_program(VMSG_PYTHON3 python3)
if(VMSG_PYTHON3 AND TARGET vmsg-bench)
  set(BENCH_SCHEMA ${CMAKE_SOURCE_DIR}/bench/results.schema.json)
  add_test(NAME bench_smoke
           COMMAND ${VMSG_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/bench/smoke.py
                   $<TARGET_FILE:vmsg-bench> ${BENCH_SCHEMA} --no-sim)
  set_tests_properties(bench_smoke PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77)
  # vmsg over the xen backend, its raw byte stream and Debian's
  # libxenvchan, each side under `xensim run`; every vmsg-bench run starts
  # its own simulator (found in this build tree) and stops it. Where this
  # build has the simulator, a sim transport vmsg-bench calls unavailable
  # (say, it did not find xensim) fails the test instead of skipping it.
  set(BENCH_EXPECT_SIM)
  if(TARGET xensim)
    set(BENCH_EXPECT_SIM --expect-sim)
  endif()
  add_test(NAME bench_smoke_sim
           COMMAND ${VMSG_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/bench/smoke.py
                   $<TARGET_FILE:vmsg-bench> ${BENCH_SCHEMA} --sim-only
                   ${BENCH_EXPECT_SIM})
  set_tests_properties(bench_smoke_sim PROPERTIES TIMEOUT 400
                       SKIP_RETURN_CODE 77 LABELS sim)
  add_test(NAME bench_run_all_smoke
           COMMAND ${VMSG_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/bench/run_all_smoke.py
                   ${CMAKE_SOURCE_DIR}/bench/run-all $<TARGET_FILE:vmsg-bench>
                   ${BENCH_SCHEMA} ${CMAKE_SOURCE_DIR}/docs/benchmarks.md)
  set_tests_properties(bench_run_all_smoke PROPERTIES TIMEOUT 600
                       SKIP_RETURN_CODE 77)
endif()
# The met/missed logic of bench/run-all on known figures (run-all --from
# crafted results: nothing is measured, no gnuplot or vmsg-bench needed).
if(VMSG_PYTHON3)
  add_test(NAME bench_run_all_verdicts
           COMMAND ${VMSG_PYTHON3}
                   ${CMAKE_CURRENT_SOURCE_DIR}/bench/run_all_verdicts.py
                   ${CMAKE_SOURCE_DIR}/bench/run-all)
  set_tests_properties(bench_run_all_verdicts PROPERTIES TIMEOUT 120)
  # The block, network and drop-in result sets (bench/resultset.py):
  # records into sets the schema checks, the targets' verdicts on known
  # figures, and an edited figure in their docs sections caught.
  add_test(NAME bench_resultsets
           COMMAND ${VMSG_PYTHON3}
                   ${CMAKE_CURRENT_SOURCE_DIR}/bench/resultsets.py
                   ${CMAKE_SOURCE_DIR})
  set_tests_properties(bench_resultsets PROPERTIES TIMEOUT 60)
endif()
