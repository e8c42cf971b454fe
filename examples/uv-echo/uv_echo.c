/* uv-echo: an echo service on a libuv loop through libvmsg-uv (vmsg/uv.h).
 *
 * Serves one host-backend channel per --listen PATH, all on one loop:
 * every message comes back with its type. An echo that does not fit the
 * client's ring leaves its message unconsumed, which pauses that channel
 * (and only that one) until the ring has room: no queue grows in this
 * process whatever the clients do. When a client leaves, its channel is
 * published again for the next one. SIGINT or SIGTERM stops it, printing
 * what each channel carried.
 *
 *   uv-echo --listen /tmp/a --listen /tmp/b
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include <vmsg/host.h>
#include <vmsg/uv.h>
#include <vmsg/version.h>

#define MAX_CHANNELS 16

struct echo_chan {
	const char *path;
	vmsg_chan *c;
	vmsg_uv *u;
	unsigned long clients;
	unsigned long long messages, bytes;
};

static struct echo_chan chans[MAX_CHANNELS];
static unsigned nchans;
static uv_loop_t *loop;
static int status;
static bool stopping;

static void start(struct echo_chan *e);

static void on_connected(vmsg_uv *u)
{
	struct echo_chan *e = vmsg_uv_data(u);
	e->clients++;
	fprintf(stderr, "uv-echo: %s: client %lu connected\n", e->path,
		e->clients);
}

static void on_message(vmsg_uv *u, const struct vmsg_msg *m)
{
	struct echo_chan *e = vmsg_uv_data(u);
	int r = vmsg_chan_send(e->c, m->type, m->data, m->len, 0, 0);
	if (r == -EAGAIN) {
		/* Leave it unconsumed: the channel pauses until the echo
		 * may fit (the send asked the client for that kick). */
		vmsg_uv_want_writable(u);
		return;
	}
	if (r < 0) {
		/* The client is gone or broke the channel: `closed` follows
		 * once what it sent is read; drop this one. */
		(void)vmsg_chan_release(e->c);
		return;
	}
	e->messages++;
	e->bytes += m->len;
	(void)vmsg_chan_release(e->c);
}

static void on_writable(vmsg_uv *u)
{
	vmsg_uv_resume(u);
}

static void on_dropped(vmsg_uv *u, int err)
{
	struct echo_chan *e = vmsg_uv_data(u);
	fprintf(stderr, "uv-echo: %s: a message was dropped: %s\n", e->path,
		vmsg_strerror(err));
}

/* The adapter is closed: publish the channel again for the next client. */
static void on_stopped(vmsg_uv *u)
{
	struct echo_chan *e = vmsg_uv_data(u);
	e->u = NULL;
	if (stopping)
		return;
	int r = vmsg_chan_reopen(e->c);
	if (r < 0) {
		fprintf(stderr, "uv-echo: %s: cannot serve again: %s\n",
			e->path, vmsg_strerror(r));
		status = 1;
		return;
	}
	start(e);
}

static void on_closed(vmsg_uv *u, int err)
{
	struct echo_chan *e = vmsg_uv_data(u);
	fprintf(stderr, "uv-echo: %s: client %lu %s\n", e->path, e->clients,
		err == -EPIPE ? "left" : vmsg_strerror(err));
	vmsg_uv_close(u, on_stopped);
}

static const struct vmsg_uv_callbacks callbacks = {
	.connected = on_connected,
	.message = on_message,
	.writable = on_writable,
	.dropped = on_dropped,
	.closed = on_closed,
};

static void start(struct echo_chan *e)
{
	int r = vmsg_uv_start(&e->u, loop, e->c, &callbacks, e);
	if (r < 0) {
		fprintf(stderr, "uv-echo: %s: %s\n", e->path, vmsg_strerror(r));
		status = 1;
	}
}

static void on_signal(uv_signal_t *h, int signum)
{
	(void)signum;
	stopping = true;
	for (unsigned i = 0; i < nchans; i++)
		if (chans[i].u)
			vmsg_uv_close(chans[i].u, on_stopped);
	uv_close((uv_handle_t *)h, NULL);
	uv_close((uv_handle_t *)h->data, NULL); /* the other signal */
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: uv-echo --listen PATH [--listen PATH...]\n"
"\n"
"An echo service on a libuv loop (libvmsg-uv, vmsg/uv.h): serves a\n"
"host-backend channel at each PATH (up to %d), one client at a time\n"
"each, all from one thread; every message goes back with its type.\n"
"SIGINT or SIGTERM stops it.\n"
"\n"
"  -l, --listen PATH   serve a channel at PATH (a UNIX socket path)\n"
"  -V, --version       the version\n"
"  -h, --help          this text\n", MAX_CHANNELS);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "l:hV", opts, NULL)) != -1) {
		switch (o) {
		case 'l':
			if (nchans == MAX_CHANNELS) {
				fprintf(stderr, "uv-echo: at most %d --listen\n",
					MAX_CHANNELS);
				return 2;
			}
			chans[nchans++].path = optarg;
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("uv-echo %s\n", vmsg_version()); return 0;
		default: fprintf(stderr, "try 'uv-echo --help'\n"); return 2;
		}
	}
	if (nchans == 0 || optind != argc) {
		fprintf(stderr, "uv-echo: %s\ntry 'uv-echo --help'\n",
			optind != argc ? "unexpected argument"
				       : "give at least one --listen PATH");
		return 2;
	}
	loop = uv_default_loop();
	for (unsigned i = 0; i < nchans; i++) {
		int r = vmsg_host_serve(&chans[i].c, chans[i].path, NULL);
		if (r < 0) {
			fprintf(stderr, "uv-echo: listen on %s: %s\n",
				chans[i].path, vmsg_strerror(r));
			return 1;
		}
		start(&chans[i]);
	}
	uv_signal_t sigint, sigterm;
	uv_signal_init(loop, &sigint);
	uv_signal_init(loop, &sigterm);
	sigint.data = &sigterm;
	sigterm.data = &sigint;
	uv_signal_start(&sigint, on_signal, SIGINT);
	uv_signal_start(&sigterm, on_signal, SIGTERM);
	fprintf(stderr, "uv-echo: serving %u channel(s)\n", nchans);
	uv_run(loop, UV_RUN_DEFAULT);
	for (unsigned i = 0; i < nchans; i++) {
		printf("uv-echo: %s: %lu clients, %llu messages, %llu bytes "
		       "echoed\n", chans[i].path, chans[i].clients,
		       chans[i].messages, chans[i].bytes);
		vmsg_chan_close(chans[i].c);
	}
	uv_loop_close(loop);
	return status;
}
