/* Leveled log lines, on stderr ("vmsgd: LEVEL: text") or to syslog
 * (facility daemon; error, warn, info and debug map to LOG_ERR,
 * LOG_WARNING, LOG_INFO and LOG_DEBUG); and the clock they and every
 * deadline go by. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* <syslog.h> names its priorities LOG_INFO and LOG_DEBUG as vmsgd.h names
 * its levels: take its values here, then let vmsgd.h have the names. */
static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
#undef LOG_INFO
#undef LOG_DEBUG

#include "vmsgd.h"
#include "vmsg_clock.h"

uint64_t vmsgd_now_ms(void)
{
	return vmsg__clock_ms();
}

int vmsgd_log_level = LOG_INFO;
static bool to_syslog;

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

void vmsgd_log_syslog(void)
{
	openlog("vmsgd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	to_syslog = true;
}

bool vmsgd_log_is_syslog(void)
{
	return to_syslog;
}

void vmsgd_log(int level, const char *fmt, ...)
{
	if (level > vmsgd_log_level || level < 0)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (to_syslog) {
		syslog(prio[level], "%s: %s", names[level], buf);
		return;
	}
	/* One write per line, so lines from a busy loop never interleave. */
	fprintf(stderr, "vmsgd: %s: %s\n", names[level], buf);
	fflush(stderr);
}
