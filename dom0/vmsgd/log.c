/* Leveled log lines on stderr: "vmsgd: LEVEL: text". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmsgd.h"

int vmsgd_log_level = LOG_INFO;

static const char *const names[] = {"error", "warn", "info", "debug"};

const char *vmsgd_log_level_name(int level)
{
	return level >= 0 && level <= LOG_DEBUG ? names[level] : "?";
}

int vmsgd_log_level_parse(const char *s)
{
	for (int i = 0; i <= LOG_DEBUG; i++)
		if (s && !strcmp(s, names[i]))
			return i;
	return -1;
}

void vmsgd_log(int level, const char *fmt, ...)
{
	if (level > vmsgd_log_level)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* One write per line, so lines from a busy loop never interleave. */
	fprintf(stderr, "vmsgd: %s: %s\n", names[level], buf);
	fflush(stderr);
}
