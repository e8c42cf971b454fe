# The shared freestanding helpers of lib/util.
#   util_fmt   the formatter prints, cuts and counts as libc's snprintf
vmsg_add_test(util_fmt SOURCES util/fmt_test.c)
