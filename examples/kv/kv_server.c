/* vmsg-kv-server: the key-value service appliance. Offers `kv` (typed
 * protobuf-c requests, kv.proto) and `kv.text` (text lines on a byte
 * stream, kv_text.h) through vmsgd and serves every channel from one poll
 * loop. Clients are untrusted: see kv_conn.c. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmsg/version.h>
#include <vmsg/service.h>

#include "kv_conn.h"

#define KV_MAX_CONNS 64

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: vmsg-kv-server [OPTIONS]\n"
"Serve a bounded in-memory key-value store through vmsgd (run it in a\n"
"guest domain; the policy must let this domain offer the services).\n"
"\n"
"  -s, --service NAME       typed service name (default kv)\n"
"  -t, --text-service NAME  text-line service name (default kv.text)\n"
"      --no-text            do not offer the text service\n"
"  -k, --max-keys N         keys the store holds at most (default %d)\n"
"  -w, --wait MS            how long to wait for vmsgd (default 10000)\n"
"  -q, --quiet              log errors only\n"
"  -V, --version            the version\n"
"  -h, --help               this text\n"
"\n"
"Limits: keys 1..%d bytes of A-Z a-z 0-9 . _ : / @ -, values up to %d\n"
"bytes, %d keys per list page, %d channels at a time.\n"
"Text service lines: put KEY VALUE | get KEY | del KEY | list [AFTER]\n"
"(answers: ok ... | error TEXT).\n"
"A vmsgd restart does not stop the server: its library reconnects and\n"
"offers the services again by itself.\n"
"Exit status: 0 after SIGTERM/SIGINT, 1 vmsgd unreachable at start or\n"
"an offer refused, 2 bad usage.\n",
		KV_KEYS_DEFAULT, KV_KEY_MAX, KV_VALUE_MAX, KV_LIST_PAGE,
		KV_MAX_CONNS);
}

struct server {
	vmsg_ctl *ctl;
	struct kv_store store;
	struct kv_conn *conns[KV_MAX_CONNS];
	int n;
	const char *text_service; /* NULL: not offered */
	int quiet;
	struct vmsg_arena arena;
	unsigned char arena_buf[KV_ARENA_SIZE];
};

#define LOG(sv, ...)                                          \
	do {                                                  \
		if (!(sv)->quiet) {                           \
			fprintf(stderr, "vmsg-kv-server: " __VA_ARGS__); \
			fputc('\n', stderr);                  \
		}                                             \
	} while (0)

static void drop(struct server *sv, int i, int why)
{
	struct kv_conn *k = sv->conns[i];
	unsigned long n = k->text ? k->t.lines : k->requests;
	if (why == 0)
		LOG(sv, "channel %u: dom%u: closing (%lu requests)",
		    k->channel_id, k->domid, n);
	else if (why == -EPIPE)
		LOG(sv, "channel %u: dom%u closed (%lu requests)",
		    k->channel_id, k->domid, n);
	else
		fprintf(stderr, "vmsg-kv-server: channel %u: dom%u dropped: %s\n",
			k->channel_id, k->domid, vmsg_strerror(why));
	vmsg_service_close(sv->ctl, k->c);
	kv_out_free(&k->out);
	free(k);
	sv->conns[i] = sv->conns[--sv->n];
}

/* Take every channel vmsgd has brokered. Returns 0 or a fatal error. */
static int accept_all(struct server *sv)
{
	for (;;) {
		vmsg_chan *c;
		struct vmsg_service_peer peer;
		int r = vmsg_service_accept(sv->ctl, &c, &peer, 0);
		if (r == -EAGAIN)
			return 0;
		if (r < 0)
			return r;
		struct kv_conn *k = sv->n < KV_MAX_CONNS ? calloc(1, sizeof *k)
							 : NULL;
		if (!k) {
			fprintf(stderr, "vmsg-kv-server: channel %u from dom%u "
				"refused: %d channels open\n", peer.channel_id,
				peer.domid, sv->n);
			vmsg_service_close(sv->ctl, c);
			continue;
		}
		k->c = c;
		k->domid = peer.domid;
		k->channel_id = peer.channel_id;
		k->text = sv->text_service &&
			  strcmp(peer.service, sv->text_service) == 0;
		kv_text_init(&k->t);
		sv->conns[sv->n++] = k;
		LOG(sv, "channel %u: dom%u opened %s", k->channel_id, k->domid,
		    peer.service);
	}
}

static int offer(struct server *sv, const char *name)
{
	int r = vmsg_service_offer(sv->ctl, name, 10000);
	if (r < 0)
		fprintf(stderr, "vmsg-kv-server: offer '%s': %s%s%s\n", name,
			vmsg_strerror(r), *vmsg_ctl_error(sv->ctl) ? ": " : "",
			vmsg_ctl_error(sv->ctl));
	return r;
}

/* Work first, then poll: a channel's fd turns readable only after a
 * non-blocking call on it returned -EAGAIN (that call asked the peer for
 * the kick), so every fd must have been drained once before we sleep. */
static int run(struct server *sv, const sigset_t *orig)
{
	while (!stop_signal) {
		int r = accept_all(sv);
		if (r < 0) {
			fprintf(stderr, "vmsg-kv-server: vmsgd: %s\n",
				r == -EPIPE ? "went away" : vmsg_strerror(r));
			return r;
		}
		int busy = 0;
		for (int i = 0; i < sv->n; i++) {
			struct kv_conn *k = sv->conns[i];
			(void)vmsg_chan_ack(k->c);
			r = kv_conn_step(k, &sv->store, &sv->arena);
			if (r < 0)
				drop(sv, i--, r);
			else
				busy |= r;
		}
		struct pollfd p[KV_MAX_CONNS + 1];
		p[0] = (struct pollfd){.fd = vmsg_ctl_fd(sv->ctl), .events = POLLIN};
		if (p[0].fd < 0) { /* made at the first call, which can fail */
			fprintf(stderr, "vmsg-kv-server: vmsg_ctl_fd: %s\n",
				vmsg_strerror(p[0].fd));
			return p[0].fd;
		}
		for (int i = 0; i < sv->n; i++)
			p[1 + i] = (struct pollfd){.fd = vmsg_chan_fd(sv->conns[i]->c),
						   .events = POLLIN};
		const struct timespec zero = {0, 0};
		/* Signals are blocked except inside ppoll: none is missed. */
		if (ppoll(p, (nfds_t)sv->n + 1, busy ? &zero : NULL, orig) < 0 &&
		    errno != EINTR)
			return -errno;
	}
	LOG(sv, "signal %d: stopping (%zu keys, %d channels)", (int)stop_signal,
	    sv->store.n, sv->n);
	return 0;
}

int main(int argc, char **argv)
{
	static struct server sv;
	const char *service = "kv";
	long max_keys = KV_KEYS_DEFAULT, wait_ms = 10000;
	sv.text_service = "kv.text";
	static const struct option opts[] = {
		{"service", required_argument, NULL, 's'},
		{"text-service", required_argument, NULL, 't'},
		{"no-text", no_argument, NULL, 'T'},
		{"max-keys", required_argument, NULL, 'k'},
		{"wait", required_argument, NULL, 'w'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int o;
	char *end;
	while ((o = getopt_long(argc, argv, "s:t:k:w:qhV", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			service = optarg;
			break;
		case 't':
			sv.text_service = optarg;
			break;
		case 'T':
			sv.text_service = NULL;
			break;
		case 'k':
			max_keys = strtol(optarg, &end, 10);
			if (*end || max_keys < 1 || max_keys > KV_KEYS_LIMIT) {
				fprintf(stderr, "vmsg-kv-server: --max-keys: "
					"1..%d\n", KV_KEYS_LIMIT);
				return 2;
			}
			break;
		case 'w':
			wait_ms = strtol(optarg, &end, 10);
			if (*end || wait_ms < 0 || wait_ms > 3600000) {
				fprintf(stderr, "vmsg-kv-server: --wait: "
					"0..3600000 ms\n");
				return 2;
			}
			break;
		case 'q':
			sv.quiet = 1;
			break;
		case 'V':
			printf("vmsg-kv-server %s\n", vmsg_version());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "try 'vmsg-kv-server --help'\n");
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vmsg-kv-server: unexpected argument '%s'\n"
			"try 'vmsg-kv-server --help'\n", argv[optind]);
		return 2;
	}
	if (!vmsg_service_name_ok(service) ||
	    (sv.text_service && !vmsg_service_name_ok(sv.text_service))) {
		fprintf(stderr, "vmsg-kv-server: service names are 1..%d bytes "
			"of A-Z a-z 0-9 . _ -\n", VMSG_SERVICE_NAME_MAX);
		return 2;
	}

	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	vmsg_arena_init(&sv.arena, sv.arena_buf, sizeof sv.arena_buf);
	kv_store_init(&sv.store, (size_t)max_keys);
	int r = vmsg_ctl_open(&sv.ctl, (int)wait_ms);
	if (r < 0) {
		fprintf(stderr, "vmsg-kv-server: cannot reach vmsgd: %s\n",
			vmsg_ctl_strerror(r));
		return 1;
	}
	int status = 1;
	if (offer(&sv, service) < 0)
		goto out;
	if (sv.text_service && offer(&sv, sv.text_service) < 0)
		goto out;
	LOG(&sv, "dom%d: offering %s%s%s", vmsg_ctl_domid(sv.ctl), service,
	    sv.text_service ? " and " : "",
	    sv.text_service ? sv.text_service : "");
	status = run(&sv, &orig) < 0 ? 1 : 0;
out:
	while (sv.n > 0)
		drop(&sv, 0, 0);
	vmsg_ctl_close(sv.ctl);
	kv_store_free(&sv.store);
	return status;
}
