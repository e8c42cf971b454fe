/* Helpers for the xenstore daemon tests: start vmsg-xenstored in a fresh
 * temporary directory, run Debian's xenstore-utils or libxenstore as a
 * given domain (by pointing XENSTORED_PATH at that domain's socket), and
 * stop the daemon, checking it exits cleanly and removes its sockets. */
#ifndef XS_HARNESS_H
#define XS_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

struct xs_handle;

struct xsh {
	char dir[256];
	pid_t pid;
};

/* Starts the daemon (argv[1] of the test: its path). Aborts on failure. */
void xsh_start(struct xsh *h, const char *bin);
/* The same with more options (NULL-terminated; NULL for none). */
void xsh_start_args(struct xsh *h, const char *bin, const char *const *extra);
/* SIGTERM, wait, assert exit status 0 and that no socket is left; removes
 * the directory. */
void xsh_stop(struct xsh *h);
/* DIR/domN.sock, in a static buffer. */
const char *xsh_sock(const struct xsh *h, unsigned domid);
/* Exits 77 (skip) unless Debian's xenstore-utils are installed. */
void xsh_need_utils(void);
/* Runs argv (NULL-terminated) as domain `domid`; stdout goes to out (NUL-
 * terminated, truncated to cap). Returns the exit status, -1 if killed. */
int xsh_run(const struct xsh *h, unsigned domid, char *out, size_t cap,
	    const char *const *argv);
/* libxenstore connection as domain `domid`. Aborts on failure. */
struct xs_handle *xsh_open(const struct xsh *h, unsigned domid);
/* Waits (up to 30 s) for the next watch event; returns xs_read_watch's
 * vector (free() it) or aborts on timeout. */
char **xsh_next_event(struct xs_handle *xs);
/* true if the file exists. */
int xsh_exists(const char *path);

#endif
