/* dropin_hostile: a hostile peer against a libxenvchan program, on
 * Debian's libxenvchan and on the drop-in, side by side.
 *
 * The victim is a plain libxenvchan program (built against Debian's
 * header, run on either library through LD_LIBRARY_PATH) in blocking
 * mode, as vchan-socket-proxy's client is. The hostile peer is a vmsg raw
 * channel (this binary, linked with vmsg's internals) that connects
 * normally, lets the victim start a blocking read or write, then writes
 * something impossible into the shared page and kicks the victim's event
 * channel (twice, 100 ms apart, so a sleeping victim looks again):
 *   rx prod ahead   the victim's receive prod more than a ring ahead of cons
 *   rx prod behind  its receive prod behind its cons
 *   tx cons ahead   the cons of the ring it writes ahead of its prod
 *   tx cons behind  that cons more than a ring behind its prod
 *   live garbage    the peer's live byte a value no state has (7)
 *   rx ahead, recv  rx prod ahead under a blocking recv (all or nothing)
 *   tx ahead, send  tx cons ahead under a blocking send (the ring filled
 *                   first by a non-blocking write)
 * and first a control round, where the peer honestly writes 100 bytes to a
 * victim reading: both libraries must return them (so a hang counted
 * below is the attack's doing, not the harness's).
 * each with the victim as server and as client. The drop-in must end every
 * call with -1 and errno EPROTO (and is_open 0) within HANG_MS; Debian's
 * library is measured the same way and its hangs counted (the victim is
 * then killed). The table is printed. */
#include "dropin_util.h"

#include <libxenvchan.h>

#include <vmsg/xen.h>

#include "vmsg_barrier.h"
#include "vmsg_chan_internal.h"

#define HANG_MS 3000
#define PATH_FMT "/local/domain/0/data/vchan/1/hostile-%d"

enum attack { HONEST, RX_AHEAD, RX_BEHIND, TX_AHEAD, TX_BEHIND, LIVE_BAD,
	      RX_AHEAD_RECV, TX_AHEAD_SEND, N_ATTACKS };
static const char *const attack_name[] = { "none (control)", "rx prod ahead", "rx prod behind",
					    "tx cons ahead", "tx cons behind",
					    "live garbage", "rx ahead, recv",
					    "tx ahead, send" };

/* ---- the victim: a libxenvchan program -------------------------------- */

static int victim(int server, const char *path, enum attack a, int out_fd)
{
	struct libxenvchan *c;
	static char buf[65536];

	if (server)
		c = libxenvchan_server_init(NULL, 1, path, 0, 0);
	else
		c = libxenvchan_client_init(NULL, 0, path);
	if (!c) {
		sim_say(out_fd, "setup failed %d", errno);
		return 1;
	}
	while (libxenvchan_is_open(c) == 2)
		libxenvchan_wait(c);
	c->blocking = 1;
	sim_say(out_fd, "ready");
	int r;
	errno = 0;
	if (a == TX_AHEAD || a == TX_BEHIND) {
		r = libxenvchan_write(c, buf, sizeof(buf)); /* fills the ring */
	} else if (a == RX_AHEAD_RECV) {
		r = libxenvchan_recv(c, buf, 100); /* the all-or-nothing calls */
	} else if (a == TX_AHEAD_SEND) {
		c->blocking = 0;
		libxenvchan_write(c, buf, sizeof(buf)); /* fills the ring */
		c->blocking = 1;
		r = libxenvchan_send(c, buf, 100);
	} else {
		r = libxenvchan_read(c, buf, sizeof(buf));
	}
	int e = errno;
	sim_say(out_fd, "result %d %d %d", r, r < 0 ? e : 0, libxenvchan_is_open(c));
	libxenvchan_close(c);
	return 0;
}

/* ---- the hostile peer: vmsg internals --------------------------------- */

static int hostile(int server, const char *path, enum attack a, int in_fd, int out_fd)
{
	char line[64];
	vmsg_chan *c;
	struct vmsg_chan_opts o;
	int r;

	vmsg_chan_opts_init(&o);
	o.rx_ring_size = 1024;
	o.tx_ring_size = 2048;
	if (server)
		r = vmsg_xen_serve(&c, 1, path, &o);
	else
		r = vmsg_xen_connect(&c, 0, path, &o, SIM_WAIT_MS);
	if (r < 0) {
		sim_say(out_fd, "setup failed %d", r);
		return 1;
	}
	sim_say(out_fd, "up");
	if (server)
		ASSERT_EQ(vmsg_chan_accept(c, SIM_WAIT_MS), 0);
	sim_expect(in_fd, "go", line, sizeof(line));
	usleep(100000); /* the victim is asleep in its call by now */
	struct vmsg_ring_end *e = vmsg__chan_ring(c);
	struct vmsg_platform *p = vmsg__chan_platform(c);
	/* Our tx ring is the victim's rx ring, our rx ring its tx ring. */
	uint32_t txp = e->tx.idx, rxc = e->rx.idx;
	switch (a) {
	case HONEST:
		ASSERT_EQ(vmsg_chan_write(c, "0123456789012345678901234567890123456789"
					     "0123456789012345678901234567890123456789"
					     "01234567890123456789", 100, 0), 100);
		break;
	case RX_AHEAD:
	case RX_AHEAD_RECV:
		vmsg__store_release(&e->tx.sh->prod, txp + e->tx.size + 100);
		break;
	case RX_BEHIND:
		vmsg__store_release(&e->tx.sh->prod, txp - 100);
		break;
	case TX_AHEAD: /* the victim filled our rx ring: prod = rxc + size */
	case TX_AHEAD_SEND:
		vmsg__store_release(&e->rx.sh->cons, rxc + 3 * e->rx.size);
		break;
	case TX_BEHIND:
		vmsg__store_release(&e->rx.sh->cons, rxc - 2 * e->rx.size);
		break;
	case LIVE_BAD:
		vmsg__store_release(e->live, (uint8_t)7);
		break;
	default:
		break;
	}
	vmsg__mb();
	for (int i = 0; i < 2; i++) {
		p->ops->notify(p);
		usleep(100000);
	}
	sim_expect(in_fd, "end", line, sizeof(line));
	return 0; /* exits without closing: the page stays as it is */
}

/* ---- the driver ------------------------------------------------------- */

struct outcome {
	int hang;
	int ret, err, open;
};

static void fmt(char *s, size_t n, const struct outcome *o)
{
	if (o->hang)
		snprintf(s, n, "HANG (> %d ms)", HANG_MS);
	else if (o->ret < 0)
		snprintf(s, n, "-1 %s, is_open %d",
			 o->err == EPROTO ? "EPROTO" : strerror(o->err), o->open);
	else
		snprintf(s, n, "%d, is_open %d", o->ret, o->open);
}

static struct outcome play(const char *self, enum lib l, int victim_server,
			   enum attack a, int n)
{
	char path[128], sa[8], aa[8], v_out[16], h_in[16], h_out[16], line[128];
	int vp[2], hin[2], hout[2];
	struct outcome oc = { 0 };

	snprintf(path, sizeof(path), PATH_FMT, n);
	snprintf(sa, sizeof(sa), "%d", victim_server);
	snprintf(aa, sizeof(aa), "%d", (int)a);
	sim_pipe(vp);
	sim_pipe(hin);
	sim_pipe(hout);
	snprintf(v_out, sizeof(v_out), "%d", vp[1]);
	snprintf(h_in, sizeof(h_in), "%d", hin[0]);
	snprintf(h_out, sizeof(h_out), "%d", hout[1]);
	/* The server is domain 0, the client domain 1. */
	int vdom = victim_server ? 0 : 1, hdom = 1 - vdom;
	pid_t hp, vpid;
	char hs[8];
	snprintf(hs, sizeof(hs), "%d", !victim_server);
	if (victim_server) {
		use_lib(l);
		vpid = sim_spawn(vdom, (char *[]){ (char *)self, "victim", sa, path, aa,
						   v_out, NULL });
		use_lib(LIB_DEBIAN);
		hp = sim_spawn(hdom, (char *[]){ (char *)self, "hostile", hs, path, aa,
						 h_in, h_out, NULL });
	} else {
		hp = sim_spawn(hdom, (char *[]){ (char *)self, "hostile", hs, path, aa,
						 h_in, h_out, NULL });
		sim_expect(hout[0], "up", line, sizeof(line));
		use_lib(l);
		vpid = sim_spawn(vdom, (char *[]){ (char *)self, "victim", sa, path, aa,
						   v_out, NULL });
		use_lib(LIB_DEBIAN);
	}
	sim_expect(vp[0], "ready", line, sizeof(line));
	check_lib(vpid, l);
	sim_say(hin[1], "go");
	struct pollfd pf = { .fd = vp[0], .events = POLLIN };
	int r;
	while ((r = poll(&pf, 1, HANG_MS + 300)) < 0 && errno == EINTR)
		;
	if (r == 0) {
		oc.hang = 1;
		kill(domain_child(vpid), SIGKILL);
	} else {
		const char *rest = sim_expect(vp[0], "result", line, sizeof(line));
		ASSERT_EQ(sscanf(rest, "%d %d %d", &oc.ret, &oc.err, &oc.open), 3);
	}
	sim_say(hin[1], "end");
	sim_wait(vpid);
	sim_wait(hp);
	close(vp[0]); close(vp[1]); close(hin[0]); close(hin[1]);
	close(hout[0]); close(hout[1]);
	return oc;
}

int main(int argc, char **argv)
{
	char self[4096];

	if (argc == 6 && !strcmp(argv[1], "victim"))
		return victim(atoi(argv[2]), argv[3], (enum attack)atoi(argv[4]),
			      atoi(argv[5]));
	if (argc == 7 && !strcmp(argv[1], "hostile"))
		return hostile(atoi(argv[2]), argv[3], (enum attack)atoi(argv[4]),
			       atoi(argv[5]), atoi(argv[6]));
	ssize_t sl = readlink("/proc/self/exe", self, sizeof(self) - 1);
	ASSERT_GT(sl, 0);
	self[sl] = 0;
	alarm(280);
	sim_setup(1);

	int n = 0, deb_hangs = 0, drop_bad = 0, rounds = 0;
	printf("%-15s %-7s | %-32s | %s\n", "attack", "victim", "Debian's libxenvchan",
	       "drop-in");
	for (int a = 0; a < N_ATTACKS; a++)
		for (int vs = 1; vs >= 0; vs--) {
			struct outcome d = play(self, LIB_DEBIAN, vs, (enum attack)a, ++n);
			struct outcome v = play(self, LIB_DROPIN, vs, (enum attack)a, ++n);
			char ds[64], vs_[64];
			fmt(ds, sizeof(ds), &d);
			fmt(vs_, sizeof(vs_), &v);
			printf("%-15s %-7s | %-32s | %s\n", attack_name[a],
			       vs ? "server" : "client", ds, vs_);
			fflush(stdout);
			deb_hangs += d.hang;
			if (a == HONEST) {
				ASSERT_TRUE(!d.hang && d.ret == 100 && d.open == 1);
				ASSERT_TRUE(!v.hang && v.ret == 100 && v.open == 1);
				continue;
			}
			rounds++;
			if (v.hang || v.ret != -1 || v.err != EPROTO || v.open != 0)
				drop_bad++;
		}
	printf("rounds %d: Debian's library hung in %d, the drop-in failed to "
	       "answer -1/EPROTO in %d\n", rounds, deb_hangs, drop_bad);
	ASSERT_EQ(drop_bad, 0);
	puts("dropin_hostile: ok");
	return 0;
}
