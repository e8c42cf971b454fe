/* vmsgd_slowclient: the clients of a listen bridge that read nothing do
 * not hold back the guest behind it: what vmsgd holds for a socket waits
 * for that socket's reader, an outside client, and is not counted
 * against the guest's max_queued_bytes_per_domain (docs/vmsgd.md,
 * Limits); each connection has its own bound.
 *
 * dom1 offers `talk` behind two listen bridges, a byte stream (`unix:`)
 * and a `seqpacket:` one, and writes its letter into every channel it is
 * given as fast as each ring takes it, never waiting on one channel: raw
 * bytes on the stream bridge's, messages of MSG bytes (fragmented, so
 * collected whole in vmsgd before each goes out as one datagram) on the
 * seqpacket bridge's. vmsgd's bound for dom1 is the smallest there is
 * (65536 bytes). For each bridge the driver connects HOGS clients that
 * read nothing, lets vmsgd fill their sockets and what it holds for them
 * (a 256 KiB write queue each; a whole message each), then connects one
 * more client, which must read WANT bytes of its letter within 10 s (a
 * few ms here); vmsgctl shows dom1's queued bytes under the bound while
 * only the hogs are connected.
 *
 * vmsgd counted what it held for a listen bridge's sockets against the
 * guest: the hogs alone passed dom1's bound, vmsgd held back every
 * connection of dom1, and the last client read nothing ("0 of 1048576
 * bytes" on both bridges): a client that does not read stalled the
 * guest's service for every other client, and every other bridged or
 * relayed channel of the guest, for as long as it stayed connected. */
#include "vt_proc.h"

#define HOGS 3
#define WANT (1u << 20)
#define MSG 200000u /* over half of the 256 KiB ring: fragmented */

static char sock_path[2][700];
static const char *const kind[2] = {"unix", "seqpacket"};

/* dom1: offers `talk`; writes 'a' into the first channel it takes, 'b'
 * into the second, ..., each as fast as its ring takes it, none waited
 * on: raw bytes, or with vt_arg "seqpacket" messages of MSG bytes. A
 * channel whose client went is closed. Ends at "quit". */
static int role_talker(void)
{
	static unsigned char buf[HOGS + 1][MSG];
	bool msgs = !strcmp(vt_arg, "seqpacket");
	vmsg_ctl *ctl = vt_ctl_open();
	vt_offer(ctl, "talk");
	sim_say(vt_out, "offered");
	vmsg_chan *c[HOGS + 1] = {0};
	int n = 0;
	for (;;) {
		struct pollfd p = {.fd = vt_in, .events = POLLIN};
		if (poll(&p, 1, 2) > 0)
			break; /* "quit" */
		vmsg_chan *nc;
		int r;
		while (n <= HOGS &&
		       (r = vmsg_service_accept(ctl, &nc, NULL, 0)) == 0) {
			memset(buf[n], 'a' + n, MSG);
			c[n++] = nc;
		}
		for (int i = 0; i < n; i++) {
			if (!c[i])
				continue;
			/* A message cut short by a full ring goes on with the
			 * same arguments (vmsg_chan_send). */
			do
				r = msgs ? vmsg_chan_send(c[i], 1, buf[i], MSG,
							  0, 0)
					 : vmsg_chan_write(c[i], buf[i],
							   16 * 1024, 0);
			while (r > 0);
			if (r != -EAGAIN) { /* its client went */
				vmsg_service_close(ctl, c[i]);
				c[i] = NULL;
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (c[i])
			vmsg_service_close(ctl, c[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"talker", role_talker},
	{NULL, NULL},
};

/* Wait until vmsgctl lists n channels of `talk`, in order of connection:
 * the talker's letters follow that order. */
static void wait_channels(int n)
{
	static char out[1 << 16];
	for (int i = 0; i < SIM_WAIT_MS / 20; i++) {
		int k = 0;
		ASSERT_EQ(vt_ctl(out, sizeof out, "list channels"), 0);
		for (const char *p = out; (p = strstr(p, " talk ")); p++)
			k++;
		if (k == n)
			return;
		usleep(20000);
	}
	VMSG_TEST_FAIL("vmsgctl never listed %d channels of talk:\n%s", n,
		       out);
}

/* One bridge: the hogs, then a client that reads. */
static void run_kind(int k)
{
	int type = k ? SOCK_SEQPACKET : SOCK_STREAM;
	char line[128];
	struct vt_role talker;
	vt_spawn(&talker, 1, "talker", kind[k]);
	sim_expect(talker.from, "offered", line, sizeof line);
	vt_ctl_wait("list services", "talk", 1);

	int hog[HOGS];
	for (int i = 0; i < HOGS; i++) {
		hog[i] = vmsg_test_unix_connect(sock_path[k], type,
						SIM_WAIT_MS);
		wait_channels(i + 1);
	}
	usleep(1000000); /* their sockets, and what vmsgd holds for them, fill */
	unsigned long long q = vt_queued_of(1);
	printf("%s: with %d clients not reading, vmsgd counts %llu bytes "
	       "against dom1 (the bound 65536)\n",
	       kind[k], HOGS, q);

	int s = vmsg_test_unix_connect(sock_path[k], type, SIM_WAIT_MS);
	wait_channels(HOGS + 1);
	static unsigned char buf[MSG];
	size_t got = 0;
	uint64_t start = vt_now_ms();
	while (got < WANT && vt_now_ms() - start < 10000) {
		struct pollfd p = {.fd = s, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t r = read(s, buf, sizeof buf);
		if (r <= 0)
			VMSG_TEST_FAIL("%s: the reading client: %s after %zu "
				       "bytes",
				       kind[k], r ? strerror(errno) : "EOF",
				       got);
		if (k && r != (ssize_t)MSG)
			VMSG_TEST_FAIL("%s: a datagram of %zd bytes", kind[k],
				       r);
		for (ssize_t j = 0; j < r; j++)
			if (buf[j] != 'a' + HOGS)
				VMSG_TEST_FAIL("%s: the reading client: byte "
					       "%zu is %#x",
					       kind[k], got + (size_t)j, buf[j]);
		got += (size_t)r;
	}
	printf("%s: the reading client got %zu of %u bytes in %llu ms\n",
	       kind[k], got, WANT, (unsigned long long)(vt_now_ms() - start));
	if (got < WANT)
		VMSG_TEST_FAIL("%s: the reading client got %zu of %u bytes in "
			       "10 s",
			       kind[k], got, WANT);
	/* (Not asked again now: the reading client's channel may hold a
	 * message part-way in, dom1's to count.) */
	ASSERT_LT(q, 65536);

	close(s);
	for (int i = 0; i < HOGS; i++)
		close(hog[i]);
	sim_say(talker.to, "quit");
	vt_role_done(&talker, 0);
	vt_ctl_wait("list channels", " talk ", 0);
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	char conf[4096];
	for (int k = 0; k < 2; k++)
		snprintf(sock_path[k], sizeof sock_path[k], "%s/talk-%s.sock",
			 sim_dir, kind[k]);
	snprintf(conf, sizeof conf,
		 "[service talk]\noffer = 1\nopen = none\nmode = direct\n"
		 "ring_size = 262144\nmax_msg = 262144\n\n"
		 "[bridge talk-unix]\nservice = talk\nlisten = unix:%s\n\n"
		 "[bridge talk-seqpacket]\nservice = talk\n"
		 "listen = seqpacket:%s\n",
		 sock_path[0], sock_path[1]);
	vt_write_conf_daemon("max_queued_bytes_per_domain = 65536\n", conf);
	vt_start_vmsgd();
	for (int k = 0; k < 2; k++)
		run_kind(k);
	vt_stop_vmsgd();
	return 0;
}
