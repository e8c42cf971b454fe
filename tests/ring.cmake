# lib/ring: layout against the installed libxenvchan header, wrap-around,
# notification bits, hostile indices and orders, and a two-thread stress.

vmsg_add_test(ring_layout SOURCES ring/layout.c)
vmsg_add_test(ring_wrap SOURCES ring/wrap.c ring/ring_pair.c TIMEOUT 300)
vmsg_add_test(ring_notify SOURCES ring/notify.c ring/ring_pair.c)
vmsg_add_test(ring_hostile SOURCES ring/hostile.c ring/ring_pair.c)

find_package(Threads REQUIRED)
vmsg_add_test(ring_threads SOURCES ring/threads.c ring/ring_pair.c
              LIBS Threads::Threads TIMEOUT 900 LABELS stress)
