/* vmsgd_seqpacket: seqpacket: bridges keep message boundaries end to end.
 * - listen: dom1 offers `sp.echo` and echoes each typed message (checking
 *   it has the bridge's msg_type, 0x321); the driver, a SOCK_SEQPACKET
 *   client of vmsgd's socket, sends COUNT datagrams of 0, 1, 3, odd sizes
 *   and max_msg (each with its sequence number and a pattern) and gets
 *   each back as exactly one datagram of the same size and bytes. Twice:
 *   once with the driver not reading until its own sends block (the
 *   socket peer stops reading), once with dom1 not reading until they
 *   block (the guest stops reading): vmsgctl counts the stalls of each
 *   direction, and messages = datagrams exactly.
 * - a datagram one byte over max_msg ends the connection with the log
 *   line naming both sizes; dom3's message of 6 MiB (sp.big, max_msg
 *   8 MiB), over what the kernel takes as one datagram (about 4 MiB),
 *   ends its connection with the log line naming its size.
 * - connect: dom0 offers `dom0.sp`, a seqpacket echo server in the driver;
 *   dom2 opens it and exchanges COUNT messages (types varied: they arrive
 *   back with msg_type 1, the default), the server not reading at first;
 *   then dom2 sends TAIL more and closes at once while the server is not
 *   reading: all TAIL arrive as datagrams, then EOF.
 * - lingering: dom2 goes without Closed while vmsgd holds a message the
 *   server has no room for: the channel is listed lingering, and the
 *   server gets the messages in order, the held one last (from vmsgd's
 *   copy), then EOF.
 * - max_queued_bytes_per_domain (65536): dom2 filling 3 channels of the
 *   connect bridge whose server never reads makes vmsgd hold at most the
 *   bound plus a message and a ring (each would hold a 200000-byte
 *   message).
 * - empty_is_not_eof: the 0-byte messages above, both ways, are datagrams
 *   and not the socket's EOF.
 * - out of fds: vmsgd's accept fails (EMFILE; its RLIMIT_NOFILE lowered
 *   with prlimit): the listener pauses instead of spinning on its
 *   readable socket (under 0.5 s of CPU in 1.5 s), and once fds are back
 *   the waiting client is served.
 * - a reload with msg_type on a unix: bridge is refused with FILE:LINE,
 *   and so is one that turns the seqpacket: listener into unix: on the
 *   same path (which used to replace the live socket and then lose its
 *   file). */
#include "vt_nb.h"
#include "vt_proc.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#define MAXM 200000u /* the services' max_msg: a datagram's largest */
#define COUNT 150u
#define TAIL 20u
#define LTYPE 0x321u /* the listen bridge's msg_type */
#define BIG (6u << 20) /* over the kernel's largest datagram */

/* UNIX socket paths: shorter than sun_path (the test's TMPDIR must be). */
static char sp_path[100], srv_path[100], big_path[100], log_path[700];

/* Message i: its size and bytes (the sequence number first, when it
 * fits). Messages from COUNT on (the tail) hold at least that. */
static size_t msg_len(unsigned i)
{
	if (i == 0)
		return 0;
	if (i == 1)
		return 1;
	if (i == 2)
		return 3;
	if (i % 25 == 5)
		return MAXM;
	return ((i * 7919u) % 20011u) | 5u; /* odd, >= 5 */
}

static void msg_fill(unsigned char *p, unsigned i)
{
	size_t len = msg_len(i);
	for (size_t j = 0; j < len; j++)
		p[j] = (unsigned char)(i * 131u + j * 7u);
	if (len >= 4)
		memcpy(p, &i, 4);
}

static void msg_check(const unsigned char *p, size_t len, unsigned i,
		      const char *who)
{
	if (len != msg_len(i))
		VMSG_TEST_FAIL("%s: message %u is %zu bytes, expected %zu (a "
			       "datagram split or joined?)",
			       who, i, len, msg_len(i));
	static unsigned char want[MAXM];
	msg_fill(want, i);
	if (memcmp(p, want, len) != 0)
		VMSG_TEST_FAIL("%s: message %u: bytes differ", who, i);
}

/* dom1: offer sp.echo; echo each message without blocking (one held per
 * channel while the ring back is full); "pause"/"resume" from the driver
 * stop and restart its reading. */
static int role_msgecho(void)
{
	static unsigned char buf[4][MAXM];
	vmsg_ctl *ctl = vt_ctl_open();
	ASSERT_EQ(vmsg_service_offer(ctl, "sp.echo", SIM_WAIT_MS), 0);
	sim_say(vt_out, "offered");
	vmsg_chan *ch[4];
	int held[4]; /* length of the held echo, or -1 */
	int n = 0;
	bool paused = false;
	for (;;) {
		struct pollfd p[6];
		if (nb_wait(p, ctl, ch, n)) {
			char line[64];
			sim_hear(vt_in, line, sizeof line);
			if (!strcmp(line, "quit"))
				break;
			paused = !strcmp(line, "pause");
			sim_say(vt_out, "%s", paused ? "paused" : "resumed");
		}
		vmsg_chan *c;
		int r;
		while ((r = vmsg_service_accept(ctl, &c, NULL, 0)) == 0) {
			ASSERT_TRUE(n < 4);
			held[n] = -1;
			ch[n++] = c;
		}
		for (int i = 0; i < n; i++) {
			(void)vmsg_chan_ack(ch[i]);
			for (;;) {
				if (held[i] >= 0) {
					r = vmsg_chan_send(ch[i], 7, buf[i],
							   (size_t)held[i], 0, 0);
					if (r == -EAGAIN)
						break;
					if (r == -EPIPE) {
						held[i] = -1;
						continue; /* drain to the close */
					}
					ASSERT_EQ(r, held[i]);
					held[i] = -1;
				}
				if (paused)
					break;
				uint16_t type;
				r = vmsg_chan_recv(ch[i], &type, buf[i], MAXM, 0);
				if (r == -EAGAIN)
					break;
				if (r == -EPIPE) {
					vmsg_service_close(ctl, ch[i]);
					ch[i] = ch[n - 1];
					held[i] = held[n - 1];
					n--;
					i--;
					break;
				}
				ASSERT_TRUE(r >= 0);
				if (type != LTYPE)
					VMSG_TEST_FAIL("a datagram's message has "
						       "type %u, not msg_type %u",
						       type, LTYPE);
				held[i] = r;
			}
		}
	}
	for (int i = 0; i < n; i++)
		vmsg_service_close(ctl, ch[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

/* dom2: open dom0.sp; send COUNT messages and read each echo (type 1,
 * the default msg_type), without blocking; then TAIL more and close. */
static int role_spdialer(void)
{
	static unsigned char out[MAXM], in[MAXM];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, "dom0.sp", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open dom0.sp: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	unsigned sent = 0, got = 0, blocked = 0;
	bool filled = false;
	while (got < COUNT) {
		while (sent < COUNT) {
			msg_fill(out, sent);
			/* The same arguments again after -EAGAIN. */
			r = vmsg_chan_send(c, (uint16_t)(0x100 + sent % 5), out,
					   msg_len(sent), 0, 0);
			if (r == -EAGAIN) {
				if (!filled)
					sim_say(vt_out, "full");
				blocked++;
				filled = true;
				break;
			}
			ASSERT_EQ(r, (int)msg_len(sent));
			sent++;
		}
		/* The server reads nothing until the ring towards it is
		 * full (backpressure from the socket); nor do we. */
		while (filled) {
			uint16_t type;
			r = vmsg_chan_recv(c, &type, in, sizeof in, 0);
			if (r == -EAGAIN)
				break;
			ASSERT_TRUE(r >= 0);
			ASSERT_EQ(type, 1);
			msg_check(in, (size_t)r, got, "dom2");
			got++;
		}
		struct pollfd p = {.fd = vmsg_chan_fd(c), .events = POLLIN};
		poll(&p, 1, 100);
		(void)vmsg_chan_ack(c);
	}
	sim_say(vt_out, "verified %u", blocked);
	char line[64];
	sim_expect(vt_in, "tail", line, sizeof line);
	for (unsigned i = COUNT; i < COUNT + TAIL; i++) {
		msg_fill(out, i);
		ASSERT_EQ(vmsg_chan_send(c, 9, out, msg_len(i), 0, SIM_WAIT_MS),
			  (int)msg_len(i));
	}
	vmsg_service_close(ctl, c); /* at once: vmsgd flushes the rest */
	sim_say(vt_out, "closed");
	vmsg_ctl_close(ctl);
	return 0;
}

/* dom3: offer sp.big; send one BIG message on the channel it accepts;
 * vmsgd cannot pass it as one datagram and ends the channel. */
static int role_bigsend(void)
{
	static unsigned char big[BIG];
	vmsg_ctl *ctl = vt_ctl_open();
	ASSERT_EQ(vmsg_service_offer(ctl, "sp.big", SIM_WAIT_MS), 0);
	sim_say(vt_out, "offered");
	vmsg_chan *c;
	int r;
	for (int i = 0; (r = vmsg_service_accept(ctl, &c, NULL, 0)) != 0; i++) {
		ASSERT_EQ(r, -EAGAIN);
		ASSERT_TRUE(i < SIM_WAIT_MS / 50);
		usleep(50000);
	}
	ASSERT_EQ(vmsg_chan_send(c, 5, big, BIG, 0, SIM_WAIT_MS), (int)BIG);
	uint16_t type;
	r = vmsg_chan_recv(c, &type, big, BIG, SIM_WAIT_MS);
	if (r != -EPIPE)
		VMSG_TEST_FAIL("after the big message: %d, not -EPIPE", r);
	sim_say(vt_out, "ended");
	char line[64];
	sim_expect(vt_in, "quit", line, sizeof line);
	vmsg_service_close(ctl, c);
	vmsg_ctl_close(ctl);
	return 0;
}

/* dom2: open dom0.sp, send until the ring is full (the server does not
 * read), then close the channel and the control channel without Closed,
 * as a process that exits. */
static int role_spabort(void)
{
	static unsigned char out[MAXM];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c;
	int r = vmsg_service_open(ctl, "dom0.sp", &c, SIM_WAIT_MS);
	if (r < 0)
		VMSG_TEST_FAIL("open dom0.sp: %s (%s)", vmsg_strerror(r),
			       vmsg_ctl_error(ctl));
	unsigned sent = 0;
	for (int quiet = 0; quiet < 3;) { /* full for 300 ms */
		msg_fill(out, sent);
		r = vmsg_chan_send(c, 1, out, msg_len(sent), 0, 0);
		if (r == -EAGAIN) {
			struct pollfd p = {.fd = vmsg_chan_fd(c), .events = POLLIN};
			quiet = poll(&p, 1, 100) == 0 ? quiet + 1 : 0;
			(void)vmsg_chan_ack(c);
			continue;
		}
		ASSERT_EQ(r, (int)msg_len(sent));
		sent++;
	}
	sim_say(vt_out, "full %u", sent);
	char line[64];
	sim_expect(vt_in, "exit", line, sizeof line);
	vmsg_chan_close(c);
	vmsg_ctl_close(ctl);
	return 0;
}

/* dom2: open dom0.sp NHOG times and send max_msg messages on each until
 * every ring stays full (the server reads nothing); then close all. */
#define NHOG 3
static int role_sphog(void)
{
	static unsigned char out[MAXM];
	vmsg_ctl *ctl = vt_ctl_open();
	vmsg_chan *c[NHOG];
	for (int i = 0; i < NHOG; i++) {
		int r = vmsg_service_open(ctl, "dom0.sp", &c[i], SIM_WAIT_MS);
		if (r < 0)
			VMSG_TEST_FAIL("open dom0.sp: %s (%s)",
				       vmsg_strerror(r), vmsg_ctl_error(ctl));
	}
	memset(out, 0x77, sizeof out);
	for (int quiet = 0; quiet < 5;) { /* no room anywhere for 500 ms */
		bool sent = false;
		for (int i = 0; i < NHOG; i++) {
			int r = vmsg_chan_send(c[i], 1, out, MAXM, 0, 0);
			ASSERT_TRUE(r == (int)MAXM || r == -EAGAIN);
			sent |= r == (int)MAXM;
			(void)vmsg_chan_ack(c[i]);
		}
		quiet = sent ? 0 : quiet + 1;
		if (!sent)
			usleep(100000);
	}
	sim_say(vt_out, "full");
	char line[64];
	sim_expect(vt_in, "exit", line, sizeof line);
	for (int i = 0; i < NHOG; i++)
		vmsg_service_close(ctl, c[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

static const struct vt_role_fn roles[] = {
	{"sphog", role_sphog},
	{"spabort", role_spabort},
	{"bigsend", role_bigsend},
	{"msgecho", role_msgecho},
	{"spdialer", role_spdialer},
	{NULL, NULL},
};

static int sp_socket(void)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(fd >= 0);
	int v = (int)(MAXM + 65536u); /* a MAXM datagram fits (root) */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof v);
	/* Tells an empty datagram (credentials) from the EOF (none). */
	int one = 1;
	ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
	return fd;
}

static void set_nonblock(int fd)
{
	ASSERT_EQ(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
}

static void wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = {.fd = fd, .events = ev};
	poll(&p, 1, ms);
}

/* One datagram, -1 (EAGAIN), -2 (EOF) or -3 (reset: closed with our
 * datagrams unread); its real length even if larger than the buffer
 * (MSG_TRUNC). */
static const char *gone(ssize_t n)
{
	return n == -2 ? "EOF" : n == -3 ? "connection reset" : "nothing came";
}

static ssize_t recv_one(int fd, unsigned char *buf)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(struct ucred))];
	} cm;
	struct iovec io = {.iov_base = buf, .iov_len = MAXM + 1};
	struct msghdr mh = {.msg_iov = &io, .msg_iovlen = 1,
			    .msg_control = cm.b, .msg_controllen = sizeof cm.b};
	ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && errno == ECONNRESET)
		return -3;
	if (n < 0 && errno != EAGAIN)
		VMSG_TEST_FAIL("recv: %s", strerror(errno));
	if (n == 0 && mh.msg_controllen == 0)
		return -2;
	return n;
}

/* A datagram that must come (within SIM_WAIT_MS), not the EOF. */
static ssize_t recv_must(int fd, unsigned char *buf, const char *what)
{
	wait_fd(fd, POLLIN, SIM_WAIT_MS);
	ssize_t n = recv_one(fd, buf);
	if (n < 0)
		VMSG_TEST_FAIL("%s: %s", what, gone(n));
	return n;
}


/* Through the listen bridge: COUNT datagrams there and back. hold_reads:
 * read nothing until our sends block for good; pause_guest: dom1 reads
 * nothing until then. Returns how often a send blocked. */
static unsigned exchange(int fd, bool hold_reads, struct vt_role *prov,
			 bool pause_guest)
{
	static unsigned char out[MAXM], in[MAXM + 1];
	unsigned sent = 0, got = 0, blocked = 0;
	bool reading = !hold_reads, holding = hold_reads || pause_guest;
	char line[64];
	if (pause_guest) {
		sim_say(prov->to, "pause");
		sim_expect(prov->from, "paused", line, sizeof line);
	}
	while (got < COUNT) {
		while (sent < COUNT) {
			msg_fill(out, sent);
			ssize_t n = send(fd, out, msg_len(sent),
					 MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno == EAGAIN) {
				blocked++;
				break;
			}
			ASSERT_EQ(n, (ssize_t)msg_len(sent));
			sent++;
		}
		/* Hold until the whole path is full: our sends have found no
		 * room for 300 ms. */
		struct pollfd q = {.fd = fd, .events = POLLOUT};
		if (holding && (sent == COUNT ||
				(blocked && poll(&q, 1, 300) == 0))) {
			holding = false;
			reading = true;
			if (pause_guest) {
				sim_say(prov->to, "resume");
				sim_expect(prov->from, "resumed", line,
					   sizeof line);
			}
		}
		while (reading) {
			ssize_t n = recv_one(fd, in);
			if (n < -1)
				VMSG_TEST_FAIL("%s after %u of %u echoes",
					       gone(n), got, COUNT);
			if (n < 0)
				break;
			msg_check(in, (size_t)n, got, "driver");
			got++;
		}
		wait_fd(fd, (short)(POLLIN | (sent < COUNT ? POLLOUT : 0)),
			100);
	}
	return blocked;
}

static int sp_connect_to(const char *path)
{
	int fd = sp_socket();
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	ASSERT_EQ(connect(fd, (void *)&a, sizeof a), 0);
	return fd;
}

static int sp_connect(void)
{
	return sp_connect_to(sp_path);
}

/* The dom0 server of the connect bridge: accept one connection; echo
 * COUNT datagrams (reading nothing until dom2 says its sends blocked),
 * then expect TAIL and EOF. */
static void serve_connect(int lfd, struct vt_role *dial)
{
	static unsigned char in[MAXM + 1];
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	ASSERT_EQ(poll(&p, 1, SIM_WAIT_MS), 1);
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	ASSERT_TRUE(fd >= 0);
	int one = 1;
	ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
	set_nonblock(fd);
	/* The socket peer that does not read: dom2's sends back up. */
	char line[128];
	sim_expect(dial->from, "full", line, sizeof line);
	usleep(300000);
	unsigned got = 0;
	for (;;) {
		struct pollfd q[2] = {{.fd = fd, .events = POLLIN},
				      {.fd = dial->from, .events = POLLIN}};
		poll(q, 2, 200);
		if (q[1].revents) {
			const char *nb = sim_expect(dial->from, "verified",
						    line, sizeof line);
			printf("dom2: its sends blocked%s times\n", nb);
			ASSERT_TRUE(atoi(nb) > 0);
			break;
		}
		for (;;) {
			ssize_t n = recv_one(fd, in);
			if (n < -1)
				VMSG_TEST_FAIL("%s after %u messages", gone(n),
					       got);
			if (n < 0)
				break;
			ASSERT_TRUE(got < COUNT);
			msg_check(in, (size_t)n, got, "dom0 server");
			got++;
			/* Echo; blocking briefly is fine here. */
			for (;;) {
				ssize_t w = send(fd, in, (size_t)n,
						 MSG_DONTWAIT | MSG_NOSIGNAL);
				if (w == n)
					break;
				ASSERT_TRUE(w < 0 && errno == EAGAIN);
				wait_fd(fd, POLLOUT, 100);
			}
		}
	}
	ASSERT_EQ(got, COUNT);
	char buf[16384];
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	printf("vmsgctl --json list channels (connect):\n%s", buf);
	ASSERT_TRUE(strstr(buf, "\"service\":\"dom0.sp\",\"provider\":0,"
				"\"consumer\":2,\"state\":\"open\","
				"\"mode\":\"bridge-out\"") != NULL);
	/* bridge-out: the guest is the consumer. Messages = datagrams. */
	ASSERT_EQ(nb_counter(buf, "dom0.sp", "to_provider_msgs"), COUNT);
	ASSERT_EQ(nb_counter(buf, "dom0.sp", "to_consumer_msgs"), COUNT);
	ASSERT_TRUE(nb_counter(buf, "dom0.sp", "to_provider_stalls") > 0);
	/* The tail: dom2 sends it and closes at once; we read it only
	 * after the close. */
	sim_say(dial->to, "tail");
	sim_expect(dial->from, "closed", line, sizeof line);
	usleep(300000);
	unsigned tail = 0;
	for (;;) {
		wait_fd(fd, POLLIN, SIM_WAIT_MS);
		ssize_t n = recv_one(fd, in);
		if (n == -2 && got + tail == COUNT + TAIL)
			break; /* EOF: every tail message is in */
		if (n < 0)
			VMSG_TEST_FAIL("after %u of %u tail messages: %s", tail,
				       TAIL, gone(n));
		msg_check(in, (size_t)n, COUNT + tail, "dom0 server (tail)");
		tail++;
	}
	printf("the guest's close: %u messages flushed, then EOF\n", tail);
	close(fd);
}

int main(int argc, char **argv)
{
	vt_main(argc, argv, roles);
	static char buf[65536];
	ASSERT_TRUE(strlen(sim_dir) + 10 < sizeof sp_path);
	snprintf(sp_path, sizeof sp_path, "%.80s/sp.sock", sim_dir);
	snprintf(srv_path, sizeof srv_path, "%.80s/srv.sock", sim_dir);
	snprintf(big_path, sizeof big_path, "%.80s/big.sock", sim_dir);
	snprintf(log_path, sizeof log_path, "%s/vmsgd.log", sim_dir);
	char body[3000] = "";
	snprintf(body, sizeof body,
		 "[service sp.echo]\noffer = 1\nopen = none\nmode = direct\n"
		 "max_msg = %u\n\n"
		 "[bridge sp-listen]\nservice = sp.echo\n"
		 "listen = seqpacket:%s\nmsg_type = %u\n\n"
		 "[service dom0.sp]\noffer = none\nopen = 2\nmode = direct\n"
		 "max_msg = %u\n\n"
		 "[bridge sp-connect]\nservice = dom0.sp\n"
		 "connect = seqpacket:%s\n\n"
		 "[service sp.big]\noffer = 3\nopen = none\nmode = direct\n"
		 "max_msg = %u\n\n"
		 "[bridge sp-big]\nservice = sp.big\nlisten = seqpacket:%s\n",
		 MAXM, sp_path, LTYPE, MAXM, srv_path, 8u << 20, big_path);
	vt_write_conf(body);
	vt_vmsgd_log = log_path;
	vt_start_vmsgd();

	struct vt_role prov, dial;
	vt_spawn(&prov, 1, "msgecho", NULL);
	sim_expect(prov.from, "offered", buf, sizeof buf);
	vt_ctl_wait("--json list services",
		    "\"name\":\"sp.echo\",\"provider\":1", 1);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list services"), 0);
	printf("vmsgctl list services:\n%s", buf);
	ASSERT_TRUE(strstr(buf, "listen sp-listen seqpacket:") != NULL);
	/* vmsgctl policy shows each seqpacket: bridge's msg_type (the
	 * default 1 too), in text and JSON. */
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "policy"), 0);
	ASSERT_TRUE(strstr(buf, "seqpacket:") != NULL);
	ASSERT_TRUE(strstr(buf, " msg_type 801\n") != NULL);
	ASSERT_TRUE(strstr(buf, " msg_type 1\n") != NULL);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json policy"), 0);
	ASSERT_TRUE(strstr(buf, "\"name\":\"sp-listen\"") != NULL);
	ASSERT_TRUE(strstr(buf, "\"msg_type\":801") != NULL);
	ASSERT_TRUE(strstr(buf, "\"msg_type\":1}") != NULL ||
		    strstr(buf, "\"msg_type\":1,") != NULL);

	/* empty_is_not_eof: an empty datagram is a message (echoed as an
	 * empty datagram), not the socket's EOF: the next one follows. */
	int fd = sp_connect();
	{
		static unsigned char in[MAXM + 1], one[1];
		ASSERT_EQ(send(fd, one, 0, 0), 0);
		msg_fill(one, 1);
		ASSERT_EQ(send(fd, one, 1, 0), 1);
		if (recv_must(fd, in, "an empty datagram taken for the "
				      "socket's EOF? its echo") != 0)
			VMSG_TEST_FAIL("the empty datagram's echo is not empty");
		msg_check(in, (size_t)recv_must(fd, in, "an empty datagram "
						       "taken for the socket's "
						       "EOF? the next echo"),
			  1, "driver");
		printf("an empty datagram there and back, and the next one\n");
	}
	close(fd);
	vt_ctl_wait("--json list channels", "\"service\":\"sp.echo\"", 0);

	/* listen: the socket peer stops reading, then the guest does */
	fd = sp_connect();
	set_nonblock(fd);
	unsigned b1 = exchange(fd, true, &prov, false);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	printf("after the peer held its reads (sends blocked %u times):\n%s",
	       b1, buf);
	ASSERT_TRUE(b1 > 0);
	/* bridge-in: the socket is the consumer. */
	ASSERT_EQ(nb_counter(buf, "sp.echo", "to_provider_msgs"), COUNT);
	ASSERT_EQ(nb_counter(buf, "sp.echo", "to_consumer_msgs"), COUNT);
	unsigned long long out_stalls =
		nb_counter(buf, "sp.echo", "to_consumer_stalls");
	ASSERT_TRUE(out_stalls > 0);
	unsigned long long in_stalls =
		nb_counter(buf, "sp.echo", "to_provider_stalls");
	unsigned b2 = exchange(fd, false, &prov, true);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"), 0);
	printf("after the guest held its reads (sends blocked %u times):\n%s",
	       b2, buf);
	ASSERT_TRUE(b2 > 0);
	ASSERT_EQ(nb_counter(buf, "sp.echo", "to_provider_msgs"), 2 * COUNT);
	ASSERT_EQ(nb_counter(buf, "sp.echo", "to_consumer_msgs"), 2 * COUNT);
	ASSERT_TRUE(nb_counter(buf, "sp.echo", "to_provider_stalls") >
		    in_stalls);
	ASSERT_TRUE(nb_counter(buf, "sp.echo", "socket_rx_bytes") ==
		    nb_counter(buf, "sp.echo", "to_provider_bytes"));
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "list channels"), 0);
	printf("vmsgctl list channels:\n%s", buf);
	close(fd);
	vt_ctl_wait("--json list channels", "\"service\":\"sp.echo\"", 0);

	/* Out of fds: the listener pauses, and serves once they are back. */
	{
		static unsigned char out[MAXM], in[MAXM + 1];
		pid_t vp = vt_child_of(vt_vmsgd);
		struct rlimit old, low;
		ASSERT_EQ(prlimit(vp, RLIMIT_NOFILE, NULL, &old), 0);
		low = old;
		low.rlim_cur = 3; /* stdio only: every new fd fails */
		ASSERT_EQ(prlimit(vp, RLIMIT_NOFILE, &low, NULL), 0);
		fd = sp_connect(); /* waits in the backlog */
		double c0 = vmsg_test_cpu_s(vp);
		usleep(1500000);
		double used = vmsg_test_cpu_s(vp) - c0;
		ASSERT_EQ(prlimit(vp, RLIMIT_NOFILE, &old, NULL), 0);
		printf("out of fds: vmsgd used %.2f s of CPU in 1.5 s\n", used);
		ASSERT_TRUE(used < 0.5);
		msg_fill(out, 9);
		ASSERT_EQ(send(fd, out, msg_len(9), 0), (ssize_t)msg_len(9));
		msg_check(in, (size_t)recv_must(fd, in, "served after the "
							"pause"),
			  9, "driver");
		close(fd);
		vt_ctl_wait("--json list channels", "\"service\":\"sp.echo\"",
			    0);
		static char logb[1 << 20];
		vt_read_vmsgd_log(logb, sizeof logb);
		ASSERT_TRUE(strstr(logb, "bridge sp-listen: accept: Too many "
					 "open files: pausing the listener") !=
			    NULL);
	}

	/* A datagram over max_msg ends the connection, logged. */
	{
		static unsigned char big[MAXM + 1], in[MAXM + 1];
		fd = sp_connect();
		msg_fill(big, 7);
		ASSERT_EQ(send(fd, big, msg_len(7), 0), (ssize_t)msg_len(7));
		msg_check(in, (size_t)recv_must(fd, in, "message 7"), 7,
			  "driver");
		ASSERT_EQ(send(fd, big, MAXM + 1, 0), (ssize_t)(MAXM + 1));
		wait_fd(fd, POLLIN, SIM_WAIT_MS);
		/* Closed with our datagram unread: ECONNRESET, not EOF. */
		ssize_t n = recv_one(fd, in);
		if (n != -3)
			VMSG_TEST_FAIL("after a datagram over max_msg: %zd "
				       "(%s), expected the connection reset",
				       n, gone(n));
		close(fd);
		vt_ctl_wait("--json list channels", "\"service\":\"sp.echo\"",
			    0);
		static char logb[1 << 20];
		vt_read_vmsgd_log(logb, sizeof logb);
		const char *want = "a datagram of 200001 bytes from the socket "
				   "is over the service's max_msg of 200000 "
				   "bytes";
		if (!strstr(logb, want))
			VMSG_TEST_FAIL("vmsgd did not log '%s'", want);
		printf("over max_msg: the connection ended: %s\n", want);
	}

	/* A guest message the socket cannot take as one datagram ends the
	 * connection, logged with its size. */
	{
		static unsigned char in[MAXM + 1];
		struct vt_role bs;
		vt_spawn(&bs, 3, "bigsend", NULL);
		sim_expect(bs.from, "offered", buf, sizeof buf);
		vt_ctl_wait("--json list services",
			    "\"name\":\"sp.big\",\"provider\":3", 1);
		fd = sp_connect_to(big_path);
		sim_expect(bs.from, "ended", buf, sizeof buf);
		wait_fd(fd, POLLIN, SIM_WAIT_MS);
		ssize_t n = recv_one(fd, in);
		if (n != -2)
			VMSG_TEST_FAIL("after the big message: %zd (%s), "
				       "expected EOF", n, gone(n));
		close(fd);
		static char logb[1 << 20];
		vt_read_vmsgd_log(logb, sizeof logb);
		const char *want = "the socket cannot take a message of "
				   "6291456 bytes as one datagram";
		const char *at = strstr(logb, want);
		if (!at)
			VMSG_TEST_FAIL("vmsgd did not log '%s'", want);
		printf("too big for one datagram: %.*s\n",
		       (int)strcspn(at, "\n"), at);
		sim_say(bs.to, "quit");
		vt_role_done(&bs, 0);
	}

	/* connect: dom2 -> the driver's seqpacket echo server */
	int lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	ASSERT_TRUE(lfd >= 0);
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", srv_path);
	ASSERT_EQ(bind(lfd, (void *)&a, sizeof a), 0);
	ASSERT_EQ(listen(lfd, 4), 0);
	vt_spawn(&dial, 2, "spdialer", NULL);
	serve_connect(lfd, &dial);
	vt_role_done(&dial, 0);
	vt_ctl_wait("--json list channels", "\"service\":\"dom0.sp\"", 0);

	/* The guest goes (no Closed) while vmsgd holds a message the socket
	 * has no room for: the channel lingers, and once the server reads,
	 * the message comes from vmsgd's copy (the ring is gone), in order
	 * after the others, then EOF. */
	{
		static unsigned char in[MAXM + 1];
		struct pollfd p = {.fd = lfd, .events = POLLIN};
		vt_spawn(&dial, 2, "spabort", NULL);
		ASSERT_EQ(poll(&p, 1, SIM_WAIT_MS), 1);
		int sfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		ASSERT_TRUE(sfd >= 0);
		int one = 1;
		ASSERT_EQ(setsockopt(sfd, SOL_SOCKET, SO_PASSCRED, &one,
				     sizeof one),
			  0);
		const char *n = sim_expect(dial.from, "full", buf, sizeof buf);
		unsigned sent = (unsigned)atoi(n);
		/* vmsgd has stalled on the socket (which is never read
		 * until the guest is gone): a message is held from then on. */
		for (int i = 0;; i++) {
			ASSERT_TRUE(i < SIM_WAIT_MS / 50);
			ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list channels"),
				  0);
			if (nb_counter(buf, "dom0.sp", "to_provider_stalls") > 0)
				break;
			usleep(50000);
		}
		sim_say(dial.to, "exit");
		vt_role_done(&dial, 0);
		vt_ctl_wait("list channels", "lingering", 1);
		unsigned got = 0;
		for (;;) {
			wait_fd(sfd, POLLIN, SIM_WAIT_MS);
			ssize_t r = recv_one(sfd, in);
			if (r == -2)
				break;
			if (r < 0)
				VMSG_TEST_FAIL("lingering: after %u: %s", got,
					       gone(r));
			msg_check(in, (size_t)r, got, "dom0 server (linger)");
			got++;
		}
		printf("the guest went with %u messages sent: %u came, the "
		       "last from vmsgd's copy, then EOF\n", sent, got);
		ASSERT_TRUE(got > 0 && got <= sent);
		/* The one held when the guest went is the last that came. */
		static char logb[1 << 20];
		char want[200];
		vt_read_vmsgd_log(logb, sizeof logb);
		snprintf(want, sizeof want, "lingering: %zu bytes still go to "
					    "seqpacket:",
			 msg_len(got - 1));
		if (!strstr(logb, want))
			VMSG_TEST_FAIL("vmsgd did not log '%s'", want);
		close(sfd);
		vt_ctl_wait("--json list channels", "\"service\":\"dom0.sp\"",
			    0);
	}

	/* max_queued_bytes_per_domain holds for seqpacket: bridges too: the
	 * fragmented messages their ends collect count, and at the bound the
	 * guest's messages stay in its rings. dom2 fills NHOG channels whose
	 * server never reads; each would otherwise hold a max_msg message
	 * (NHOG * 200000 bytes). */
	{
		vt_write_conf_daemon("max_queued_bytes_per_domain = 65536\n",
				     body);
		ASSERT_EQ(vt_ctl(buf, sizeof buf, "reload"), 0);
		struct vt_role hog;
		vt_spawn(&hog, 2, "sphog", NULL);
		int sfd[NHOG];
		for (int i = 0; i < NHOG; i++) {
			struct pollfd p = {.fd = lfd, .events = POLLIN};
			ASSERT_EQ(poll(&p, 1, SIM_WAIT_MS), 1);
			sfd[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
			ASSERT_TRUE(sfd[i] >= 0);
		}
		sim_expect(hog.from, "full", buf, sizeof buf);
		ASSERT_EQ(vt_ctl(buf, sizeof buf, "--json list domains"), 0);
		const char *q = strstr(buf, "{\"domid\":2,");
		ASSERT_TRUE(q != NULL);
		q = strstr(q, "\"queued_bytes\":");
		ASSERT_TRUE(q != NULL);
		unsigned long held =
			strtoul(q + strlen("\"queued_bytes\":"), NULL, 10);
		printf("max_queued_bytes_per_domain 65536: dom2's %d full "
		       "channels hold %lu bytes in vmsgd\n",
		       NHOG, held);
		/* The bound, plus the message that crossed it, plus what one
		 * more peek may collect (a ring). */
		ASSERT_TRUE(held > 0);
		ASSERT_TRUE(held <= 65536u + MAXM + 65536u);
		sim_say(hog.to, "exit");
		vt_role_done(&hog, 0);
		for (int i = 0; i < NHOG; i++)
			close(sfd[i]);
		vt_ctl_wait("--json list channels", "\"service\":\"dom0.sp\"",
			    0);
		vt_write_conf(body);
		ASSERT_EQ(vt_ctl(buf, sizeof buf, "reload"), 0);
	}
	close(lfd);

	/* msg_type is refused on a byte-stream bridge, with FILE:LINE; the
	 * old bridges stay. */
	char bad[3400];
	snprintf(bad, sizeof bad,
		 "%s\n[service kv]\noffer = 1\nopen = none\nmode = direct\n\n"
		 "[bridge kv-unix]\nservice = kv\nlisten = unix:%s.u\n"
		 "msg_type = 2\n",
		 body, sp_path);
	vt_write_conf(bad);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "reload"), 1);
	printf("bad reload: %s", buf);
	ASSERT_TRUE(strstr(buf, "vmsgd.conf:") != NULL);
	ASSERT_TRUE(strstr(buf, "msg_type is for seqpacket: bridges only") !=
		    NULL);
	ASSERT_EQ(access(sp_path, F_OK), 0);
	/* The listen bridge turned unix: on the same path is refused (the
	 * new listener finds the path live), and the seqpacket listener
	 * still serves: it was replaced and its file removed. */
	char *at = strstr(body, "listen = seqpacket:");
	ASSERT_TRUE(at != NULL);
	const char *rest = strstr(at, "msg_type = "); /* stream: none */
	ASSERT_TRUE(rest != NULL);
	rest = strchr(rest, '\n') + 1;
	snprintf(bad, sizeof bad, "%.*slisten = unix:%s\n%s", (int)(at - body),
		 body, sp_path, rest);
	vt_write_conf(bad);
	ASSERT_EQ(vt_ctl(buf, sizeof buf, "reload"), 1);
	printf("kind changed in place: %s", buf);
	fflush(stdout);
	ASSERT_TRUE(strstr(buf, "address already in use") != NULL ||
		    strstr(buf, "already in use") != NULL);
	{
		static unsigned char in[MAXM + 1], out[MAXM];
		fd = sp_connect();
		msg_fill(out, 9);
		ASSERT_EQ(send(fd, out, msg_len(9), 0), (ssize_t)msg_len(9));
		msg_check(in, (size_t)recv_must(fd, in, "after the refused "
							"reload"),
			  9, "driver");
		close(fd);
	}

	sim_say(prov.to, "quit");
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	ASSERT_TRUE(access(sp_path, F_OK) != 0); /* removed at exit */
	return 0;
}
