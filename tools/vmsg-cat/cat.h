/* vmsg-cat: netcat for channels. Private header shared by its files:
 * opts.c parses the command line, open.c makes the channel, service.c
 * offers and opens named services through vmsgd, pump.c copies stdin to
 * the channel and the channel to stdout, main.c ties them up.
 * docs/vmsg-cat.md is the user's manual. */
#ifndef VMSG_CAT_H
#define VMSG_CAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/chan.h>

#define CAT_EXIT_OK 0
#define CAT_EXIT_FAIL 1  /* setup failed, the channel broke, I/O error */
#define CAT_EXIT_USAGE 2 /* bad command line */
#define CAT_EXIT_SIGNAL 128 /* + the signal that stopped us */

#define CAT_DEFAULT_TYPE 0x100u

enum cat_backend { CAT_NONE, CAT_UNIX, CAT_XEN, CAT_SERVICE };

struct cat_opts {
	bool listen;            /* else connect (--offer: listen) */
	enum cat_backend backend;
	const char *unix_path;  /* --unix */
	int domid;              /* --domid: the peer's domain (-1 unset) */
	int my_domid;           /* --my-domid (-1: ask xenstore) */
	const char *xs_path;    /* --path */
	const char *port;       /* --port */
	const char *service;    /* --service or --offer NAME */
	char **cmd;             /* --offer NAME -- CMD...: run per consumer */
	bool framed;            /* else raw */
	uint16_t type;          /* --type, framed sends */
	uint32_t ring;          /* --ring (0: the library's default) */
	size_t max_msg;         /* --max-msg (0: the library's default) */
	int timeout_ms;         /* --timeout (-1: forever) */
	int linger_ms;          /* --linger (-1: until the peer closes) */
	bool verbose;
};

/* Parse argv into *o. Prints help and returns 0 for --help with *exit_now
 * set; on a bad command line prints the problem and the usage to stderr
 * and returns CAT_EXIT_USAGE. */
int cat_parse(struct cat_opts *o, int argc, char **argv, bool *exit_now);

/* Print a message prefixed with "vmsg-cat: " and a newline to stderr. */
void cat_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Same, only with --verbose. */
void cat_info(const struct cat_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The text for a negative errno: vmsg_strerror(), or libc's for codes
 * vmsg does not name (-ESRCH from a dead Xen domain, say). */
const char *cat_strerror(int err);

/* A printable name of the channel's address ("unix:PATH",
 * "xen:domN:PATH"), for messages. */
const char *cat_addr(const struct cat_opts *o);

/* Serve (and wait for the client, while `*stop` stays 0, polling
 * `stop_fd` too) or connect, as *o says. 0 and *out on success; on failure
 * a message has been printed and the exit status is returned. */
int cat_open(const struct cat_opts *o, vmsg_chan **out, int stop_fd,
	     volatile int *stop);

/* Wait for a served channel's client while `*stop` stays 0 (polling
 * `stop_fd` too): vmsg_chan_accept()'s result, -EINTR when stopped. */
int cat_accept(const struct cat_opts *o, vmsg_chan *c, int stop_fd,
	       volatile int *stop);

/* Copy in_fd to the channel and the channel to out_fd until both
 * directions end (see docs/vmsg-cat.md). The channel stays the caller's
 * to close. Returns the exit status. */
int cat_pump(const struct cat_opts *o, vmsg_chan *c, int in_fd, int out_fd,
	     int stop_fd, volatile int *stop);

/* --service NAME: open it through vmsgd and copy stdin/stdout; --offer
 * NAME: offer it and serve consumers (one on stdin/stdout, or each with
 * its own run of o->cmd). Returns the exit status. */
int cat_service(const struct cat_opts *o, int stop_fd, volatile int *stop);

#endif
