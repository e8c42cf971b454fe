/* Fuzz target: vmsgd's handling of its guests' control channels
 * (dom0/vmsgd/session.c: accept, Hello, Offer, Open, ServeResult, Closed,
 * bad input, rate limits, resets, deadlines), with three guests
 * (domains 1, 2, 3) whose side of each control channel is the fuzz
 * input, under a fixed policy (below).
 *
 * session.c is included with vmsg_xen_serve redirected to an in-memory
 * platform (fuzz_peer.h): vmsgd serves each control channel on a page
 * the harness attaches to as the guest. Everything in session.c runs as
 * in the daemon, in a real libuv loop (libvmsg-uv's poll handles watch an
 * eventfd per guest, which the harness writes when the guest kicks).
 * The broker (broker.c) and the direct transport (direct.c) are vmsgd's
 * own. Not here: xenstore (the session_ops mark nothing), and relay and
 * bridge ends (their transports fail at start, saying so; a relayed open
 * then fails as a provider's failure would): those need a second channel
 * end.
 *
 * Input: operations [domain: 1][op: 1]...:
 *   0 a control message built from the input: [kind: 1] picks Hello,
 *     Offer, Open, ServeResult, Closed or Error, its fields follow
 *     (service names from a small table, so that the policy matches);
 *   1 a raw message: [type: 2][len: 2][bytes];
 *   2 the guest breaks the ring (rewrites an index) or its live byte;
 *   3 the guest kicks vmsgd: its channel's fd polls readable at the next
 *     loop turn and vmsgd handles it (libvmsg-uv, as in the daemon);
 *   4 the guest reads what vmsgd sent: each message must decode with the
 *     guest library's codec (lib/wire), a cross-check of vmsgd's
 *     protobuf-c output;
 *   5 [ms: 4] time passes (up to ~7 minutes), then vmsgd's timer runs
 *     (deadlines: opens not answered, lingering channels);
 *   6 the domain dies (session_gone), or comes back if it had.
 * vmsgd's clock (vmsgd_now_ms) is the harness's: it starts at the same
 * value in every run and moves a millisecond per operation and as op 5
 * says, so deadlines and rate limits are reached, and replays repeat.
 * Leaks are checked at the end of each run, after session_close_all. */
#define _GNU_SOURCE
#include <time.h>
int fuzz_clock_gettime(clockid_t clk, struct timespec *ts);
#define clock_gettime fuzz_clock_gettime
#include "../dom0/vmsgd/session.c"
#undef clock_gettime

#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_peer.h"
#include "vmsg_pbwire.h"

#define NDOM 3

static struct fuzz_peer peers[NDOM + 1]; /* by domid */
static int efd[NDOM + 1];
static uv_loop_t loop;
static struct policy pol;
static uint64_t now_ms;

int fuzz_clock_gettime(clockid_t clk, struct timespec *ts)
{
	(void)clk;
	ts->tv_sec = (time_t)(now_ms / 1000u);
	ts->tv_nsec = (long)(now_ms % 1000u) * 1000000L;
	return 0;
}

static const char policy_text[] =
	"[service echo]\n"
	"offer = 1\nopen = 2,3\nmode = direct\nmax_channels_per_domain = 3\n"
	"[service relay]\n"
	"offer = 2\nopen = 1,3\nmode = relayed\nring_size = 4096\n"
	"[service any]\n"
	"offer = *\nopen = *\nmode = direct\nmax_channels_per_domain = 2\n";

int fuzz_xen_serve(vmsg_chan **out, uint16_t client_domid, const char *path,
		   const struct vmsg_chan_opts *o);
int fuzz_xen_serve(vmsg_chan **out, uint16_t client_domid, const char *path,
		   const struct vmsg_chan_opts *o)
{
	struct fuzz_peer *fp;

	(void)path;
	CHECK(client_domid >= 1 && client_domid <= NDOM);
	fp = &peers[client_domid];
	fuzz_peer_init_server(fp);
	fp->fd = efd[client_domid];
	return vmsg_chan_serve(out, &fp->plat, o);
}

/* The Xen world of a session (struct session_ops, as xs.c's), with the
 * control channel served in memory. */
static int fuzz_serve(struct session *s, vmsg_chan **out, char *path,
		      size_t cap)
{
	struct vmsg_chan_opts o;

	snprintf(path, cap, VMSG_CTL_PATH_PREFIX "/%u", (unsigned)s->domid);
	vmsg_chan_opts_init(&o);
	o.max_msg = VMSG_CTL_MSG_MAX;
	return fuzz_xen_serve(out, s->domid, path, &o);
}

static int fuzz_mark(struct session *s, bool on)
{
	(void)s;
	(void)on;
	return 0;
}

static void fuzz_chan_path(struct vmsgd *d, uint16_t provider, uint32_t id,
			   char *buf, size_t cap)
{
	(void)d;
	snprintf(buf, cap, "/local/domain/%u/data/vmsg/svc/%u",
		 (unsigned)provider, id);
}

static const struct session_ops fuzz_ops = {
	.serve = fuzz_serve,
	.mark = fuzz_mark,
	.chan_path = fuzz_chan_path,
	.respawn = true,
};

/* ---- the transports: direct is vmsgd's own (direct.c); relays and
 * bridges need a second channel end, so theirs fail at start, saying so
 * (a relayed open then fails as a provider's failure would). */

static int no_start(struct vmsgd *d, struct channel *c, void *arg, char *why,
		    size_t cap)
{
	(void)d;
	(void)c;
	(void)arg;
	snprintf(why, cap, "no relays or bridges in the fuzz harness");
	return -ENOTSUP;
}

static const struct transport fuzz_relay = {
	.name = "relayed", .metric = "relayed", .holds_end = true,
	.asks_provider = true, .serve_dom0 = true, .start = no_start,
};
static const struct transport fuzz_bridge_in = {
	.name = "bridge-in", .metric = "bridge_in", .holds_end = true,
	.asks_provider = true, .serve_dom0 = true, .start = no_start,
};
static const struct transport fuzz_bridge_out = {
	.name = "bridge-out", .metric = "bridge_out", .holds_end = true,
	.start = no_start,
};
static const struct transport *const transports[CHM_COUNT] = {
	[CHM_DIRECT] = &direct_transport,
	[CHM_RELAYED] = &fuzz_relay,
	[CHM_BRIDGE_IN] = &fuzz_bridge_in,
	[CHM_BRIDGE_OUT] = &fuzz_bridge_out,
};

/* ---- the guests --------------------------------------------------------- */

static const char *const names[] = {"echo", "relay", "any", "nope",
				    "bad name", ""};

static const char *name_of(struct fuzz_in *in)
{
	return names[fuzz_u8(in) % (sizeof(names) / sizeof(names[0]))];
}

/* A control message the guest library could send (and Error, which it
 * would not after the greeting), its fields from the input. */
static void send_built(struct fuzz_peer *fp, struct fuzz_in *in)
{
	uint8_t buf[VMSG_PBW_WIRE_MAX];
	const struct vmsg_pbw_desc *d;
	uint16_t type;
	union {
		struct vmsg_pbw_hello hello;
		struct vmsg_pbw_offer offer;
		struct vmsg_pbw_open open;
		struct vmsg_pbw_serve_result sr;
		struct vmsg_pbw_closed closed;
		struct vmsg_pbw_error error;
	} m;
	int n;

	memset(&m, 0, sizeof(m));
	switch (fuzz_u8(in) % 6) {
	case 0:
		type = VMSG_TYPE_HELLO;
		d = &vmsg__pbw_hello_desc;
		m.hello.version = fuzz_u8(in) & 1 ? VMSG_PROTO_VERSION : fuzz_u32(in);
		m.hello.features = fuzz_u8(in);
		m.hello.max_msg = fuzz_u32(in);
		snprintf(m.hello.name, sizeof(m.hello.name), "%s", name_of(in));
		break;
	case 1:
		type = VMSG_TYPE_SVC_OFFER;
		d = &vmsg__pbw_offer_desc;
		m.offer.req_id = fuzz_u8(in);
		snprintf(m.offer.service, sizeof(m.offer.service), "%s", name_of(in));
		break;
	case 2:
		type = VMSG_TYPE_SVC_OPEN;
		d = &vmsg__pbw_open_desc;
		m.open.req_id = fuzz_u8(in);
		snprintf(m.open.service, sizeof(m.open.service), "%s", name_of(in));
		m.open.timeout_ms = fuzz_u8(in) & 1 ? 0 : fuzz_u32(in);
		break;
	case 3:
		type = VMSG_TYPE_SVC_SERVE_RESULT;
		d = &vmsg__pbw_serve_result_desc;
		m.sr.serve_id = fuzz_u8(in);
		m.sr.code = fuzz_u8(in) & 1 ? 0 : (int32_t)fuzz_u32(in);
		snprintf(m.sr.text, sizeof(m.sr.text), "%s", name_of(in));
		break;
	case 4:
		type = VMSG_TYPE_SVC_CLOSED;
		d = &vmsg__pbw_closed_desc;
		m.closed.channel_id = fuzz_u8(in);
		break;
	default:
		type = VMSG_TYPE_ERROR;
		d = &vmsg__pbw_error_desc;
		m.error.code = (int32_t)fuzz_u32(in);
		break;
	}
	n = vmsg__pbw_encode(d, &m, buf, sizeof(buf));
	CHECK(n >= 0);
	(void)fuzz_peer_send(fp, type, buf, (size_t)n);
}

/* The guest reads what vmsgd sent: every message is one vmsgd may send
 * and decodes with the guest's codec. */
static void guest_reads(struct fuzz_peer *fp)
{
	struct vmsg_frame f;

	if (!fp->attached)
		return;
	for (int i = 0; i < 1024 && vmsg_frame_peek(&fp->end, &f) > 0; i++) {
		const struct vmsg_pbw_desc *d = NULL;
		union {
			struct vmsg_pbw_hello hello;
			struct vmsg_pbw_error error;
			struct vmsg_pbw_result result;
			struct vmsg_pbw_opened opened;
			struct vmsg_pbw_serve serve;
			struct vmsg_pbw_closed closed;
			struct vmsg_pbw_spare spare;
		} m;
		uint8_t copy[VMSG_PBW_WIRE_MAX];
		/* vmsgd's control messages are small: one frame each. */
		CHECK(f.flags == 0 && f.len <= sizeof(copy));
		memcpy(copy, f.data, f.len);
		switch (f.type) {
		case VMSG_TYPE_HELLO: d = &vmsg__pbw_hello_desc; break;
		case VMSG_TYPE_ERROR: d = &vmsg__pbw_error_desc; break;
		case VMSG_TYPE_SVC_RESULT: d = &vmsg__pbw_result_desc; break;
		case VMSG_TYPE_SVC_OPENED: d = &vmsg__pbw_opened_desc; break;
		case VMSG_TYPE_SVC_SERVE: d = &vmsg__pbw_serve_desc; break;
		case VMSG_TYPE_SVC_CLOSED: d = &vmsg__pbw_closed_desc; break;
		case VMSG_TYPE_SVC_SPARE: d = &vmsg__pbw_spare_desc; break;
		}
		CHECK(d != NULL);
		CHECK(vmsg__pbw_decode(d, &m, copy, f.len) == 0);
		(void)vmsg_frame_release(&fp->end, &f);
	}
}

/* A guest whose session serves a fresh page (at start, after a reset)
 * connects to it at once. */
static void guests_attach(struct vmsgd *d)
{
	for (uint16_t dom = 1; dom <= NDOM; dom++) {
		struct session *s = session_find(d, dom);
		if (s && s->chan && !s->closing && peers[dom].page &&
		    !peers[dom].attached)
			CHECK(fuzz_peer_attach(&peers[dom]) == 0);
	}
}

static void setup(void)
{
	int fd = memfd_create("vmsgd-fuzz-policy", 0);
	char path[64], err[256];

	CHECK(fd >= 0);
	CHECK(write(fd, policy_text, sizeof(policy_text) - 1) ==
	      (ssize_t)sizeof(policy_text) - 1);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (policy_load(path, &pol, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	close(fd);
	CHECK(uv_loop_init(&loop) == 0);
	for (int i = 1; i <= NDOM; i++)
		CHECK((efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) >= 0);
	vmsgd_log_level = getenv("FUZZ_VERBOSE") ? LOG_DEBUG : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct fuzz_in in = {data, size};
	struct vmsgd d;

	if (!ready) {
		setup();
		ready = true;
	}
	now_ms = 1000000;
	memset(&d, 0, sizeof(d));
	d.loop = &loop;
	d.pol = pol; /* read only here */
	/* One in-memory guest per domain: no spare control channel for a
	 * domain's next process (tests/vmsgd/vmsgd_multiproc has those). */
	d.pol.limits.max_sessions = 1;
	CHECK(uv_timer_init(&loop, &d.backoff) == 0);
	d.backoff.data = &d;
	d.sops = &fuzz_ops;
	CHECK(broker_init(&d, &session_notify, transports) == 0);
	for (uint16_t dom = 1; dom <= NDOM; dom++)
		CHECK(session_new(&d, dom, 0, 0) == 0);
	guests_attach(&d);

	while (fuzz_in_left(&in)) {
		uint16_t dom = 1 + fuzz_u8(&in) % NDOM;
		struct fuzz_peer *fp = &peers[dom];
		struct session *s = session_find(&d, dom);
		uint8_t op = fuzz_u8(&in) % 7;
		size_t n;
		const uint8_t *p;

		if (op == 6) {
			if (!s)
				(void)session_new(&d, dom, 0, 0);
			else
				session_gone(&d, dom);
		} else if (!s || !fp->attached) {
			/* No channel to act on. */
		} else if (op == 0) {
			send_built(fp, &in);
		} else if (op == 1) {
			uint16_t type = fuzz_u16(&in);
			p = fuzz_bytes(&in, fuzz_u16(&in), &n);
			(void)fuzz_peer_send(fp, type, p, n);
		} else if (op == 2) {
			uint8_t what = fuzz_u8(&in);
			if (what & 1)
				fp->page->left.prod += fuzz_u32(&in);
			else
				fp->page->cli_live = what >> 1 & 3;
		} else if (op == 3) {
			/* The guest kicks: the loop turn below finds the fd
			 * readable and libvmsg-uv handles the channel. */
			uint64_t one = 1;
			CHECK(write(efd[dom], &one, sizeof one) == sizeof one);
		} else if (op == 4) {
			guest_reads(fp);
		} else {
			now_ms += fuzz_u32(&in) % 420000u;
			sessions_tick(&d);
		}
		now_ms++;
		/* What a loop iteration does besides: the channels' wake-ups
		 * (libvmsg-uv), closes and re-serves, the backlog of guests
		 * over their budget. */
		uv_run(&loop, UV_RUN_NOWAIT);
		guests_attach(&d);
	}
	d.stopping = true;
	session_close_all(&d);
	uv_close((uv_handle_t *)&d.backoff, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(d.sessions == NULL && broker_channels(&d) == NULL);
	broker_free(&d); /* the services left (leaks are checked) */
	for (int i = 1; i <= NDOM; i++)
		fuzz_peer_fini(&peers[i]);
	return 0;
}
