/* block_hostile: the block protocol against hostile peers, over the host
 * backend (ASan flavour: any access out of bounds fails the test).
 *
 * A hostile client against lib/block's server helper (the RAM disk of
 * block_test_util.h): requests the server can answer get their error
 * status and the channel goes on; messages that break the protocol end it
 * with -EPROTO on the server's side; seeded random headers never crash it.
 * A hostile server against lib/block's client: a bad INFO fails the
 * negotiation with -EPROTO; a reply to an id never asked, a second reply,
 * a wrong length or status complete every outstanding request with
 * -EPROTO. A server killed with SIGKILL mid-I/O: every outstanding request
 * completes with -EPIPE within a second. */
#include <sys/prctl.h>
#include <sys/wait.h>

#include "block_test_util.h"

#define DISK (4u * 1024u * 1024u)

static char dir[256];
static int npath;

static const char *new_path(char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/d%d", dir, npath++);
	return buf;
}

/* ---- a hostile client ------------------------------------------------- */

static vmsg_chan *raw_connect(const char *path, uint32_t depth)
{
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	uint8_t hello[VMSG_BLK_HELLO_SIZE], info[VMSG_BLK_INFO_SIZE];

	bt_opts(&o);
	ASSERT_EQ(vmsg_host_connect(&c, path, &o, 10000), 0);
	if (depth) {
		vmsg_blk_put_hello(hello, depth, BT_MAX_REQ);
		ASSERT_GE(vmsg_chan_send(c, VMSG_TYPE_BLK_HELLO, hello,
					 sizeof(hello), 0, 5000), 0);
		uint16_t type;
		ASSERT_EQ(vmsg_chan_recv(c, &type, info, sizeof(info), 5000),
			  VMSG_BLK_INFO_SIZE);
		ASSERT_EQ(type, VMSG_TYPE_BLK_INFO);
	}
	return c;
}

static void send_req(vmsg_chan *c, uint64_t id, unsigned op, uint64_t off,
		     uint32_t len, unsigned flags, size_t data, unsigned more)
{
	static uint8_t m[VMSG_BLK_REQ_HDR + 65536];
	struct vmsg_blk_req_hdr h = { id, off, len, (uint16_t)op,
				      (uint16_t)flags };
	vmsg_blk_put_req(m, &h);
	memset(m + VMSG_BLK_REQ_HDR, 0x5a, data);
	ASSERT_GE(vmsg_chan_send(c, VMSG_TYPE_BLK_REQ, m,
				 VMSG_BLK_REQ_HDR + data, more, 5000), 0);
}

/* The status of the reply to `id` (the next message). */
static int32_t reply_status(vmsg_chan *c, uint64_t id, uint32_t *len)
{
	static uint8_t m[VMSG_BLK_REPLY_HDR + 65536];
	uint16_t type;
	int n = vmsg_chan_recv(c, &type, m, sizeof(m), 5000);
	ASSERT_GE(n, (int)VMSG_BLK_REPLY_HDR);
	ASSERT_EQ(type, VMSG_TYPE_BLK_REPLY);
	uint64_t rid;
	int32_t st;
	memcpy(&rid, m, 8);
	memcpy(&st, m + 8, 4);
	memcpy(len, m + 12, 4);
	ASSERT_EQ(rid, id);
	ASSERT_EQ((uint32_t)n, VMSG_BLK_REPLY_HDR + *len);
	return st;
}

static void test_answerable(bool ro)
{
	char path[300];
	struct bt_disk d;
	uint32_t len;

	bt_disk_start_flags(&d, new_path(path, sizeof(path)), DISK, 1,
			    ro ? VMSG_BLK_F_READ_ONLY : 0);
	vmsg_chan *c = raw_connect(path, 8);
	struct { unsigned op; uint64_t off; uint32_t len; unsigned fl;
		 int32_t want; } cases[] = {
		{ VMSG_BLK_OP_READ, DISK, 512, 0, -ENOSPC },
		{ VMSG_BLK_OP_READ, DISK - 512, 1024, 0, -ENOSPC },
		{ VMSG_BLK_OP_READ, UINT64_MAX - 511, 1024, 0, -ENOSPC },
		{ VMSG_BLK_OP_READ, 100, 512, 0, -EINVAL },
		{ VMSG_BLK_OP_READ, 0, 100, 0, -EINVAL },
		{ VMSG_BLK_OP_READ, 0, 0, 0, -EINVAL },
		{ VMSG_BLK_OP_READ, 0, BT_MAX_REQ + 512, 0, -EINVAL },
		{ VMSG_BLK_OP_READ, 0, 512, VMSG_BLK_REQ_FUA, -EINVAL },
		{ VMSG_BLK_OP_READ, 0, 512, 0x8000, -EINVAL },
		{ 0, 0, 512, 0, -EOPNOTSUPP },
		{ 6, 0, 512, 0, -EOPNOTSUPP },
		{ 0xffff, 0, 512, 0, -EOPNOTSUPP },
		{ VMSG_BLK_OP_FLUSH, 0, 512, 0, -EINVAL },
		{ VMSG_BLK_OP_TRIM, 0, 512, 0, ro ? -EROFS : 0 },
		{ VMSG_BLK_OP_WRITE_ZEROES, 0, 512, 0, ro ? -EROFS : 0 },
		{ VMSG_BLK_OP_WRITE, 0, 512, 0, ro ? -EROFS : 0 },
		{ VMSG_BLK_OP_FLUSH, 0, 0, 0, 0 },
		{ VMSG_BLK_OP_READ, 0, 512, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t data = cases[i].op == VMSG_BLK_OP_WRITE ? cases[i].len : 0;
		send_req(c, 1000 + i, cases[i].op, cases[i].off, cases[i].len,
			 cases[i].fl, data, 0);
		ASSERT_EQ(reply_status(c, 1000 + i, &len), cases[i].want);
		ASSERT_EQ(len, cases[i].want == 0 &&
				       cases[i].op == VMSG_BLK_OP_READ
			       ? cases[i].len : 0);
	}
	vmsg_chan_close(c);
	bt_disk_stop(&d);
	ASSERT_EQ(d.result, -EPIPE); /* the client left; nothing broke */
}

/* Each case ends the channel: the server reports -EPROTO and closes. */
static void test_breaks(int kind)
{
	char path[300];
	struct bt_disk d;
	uint8_t junk[64] = {0};

	bt_disk_start(&d, new_path(path, sizeof(path)), DISK, 16);
	vmsg_chan *c = raw_connect(path, kind == 0 || kind == 8 ? 0 : 4);
	switch (kind) {
	case 0: /* a request before HELLO */
		send_req(c, 1, VMSG_BLK_OP_READ, 0, 512, 0, 0, 0);
		break;
	case 1: /* a second HELLO */
		vmsg_blk_put_hello(junk, 4, 4096);
		vmsg_chan_send(c, VMSG_TYPE_BLK_HELLO, junk, 16, 0, 5000);
		break;
	case 2: /* a type the protocol does not have */
		vmsg_chan_send(c, 0x0bff, junk, 24, 0, 5000);
		break;
	case 3: /* a REQ shorter than its header */
		vmsg_chan_send(c, VMSG_TYPE_BLK_REQ, junk, 23, 0, 5000);
		break;
	case 4: /* a WRITE without all its data */
		send_req(c, 1, VMSG_BLK_OP_WRITE, 0, 1024, 0, 512, 0);
		break;
	case 5: /* a READ with data */
		send_req(c, 1, VMSG_BLK_OP_READ, 0, 512, 0, 512, 0);
		break;
	case 6: /* a duplicate outstanding id (both in one publish) */
		send_req(c, 7, VMSG_BLK_OP_READ, 0, 512, 0, 0, VMSG_SEND_MORE);
		send_req(c, 7, VMSG_BLK_OP_READ, 512, 512, 0, 0, 0);
		break;
	case 7: /* more than the depth granted (4) outstanding */
		for (int i = 0; i < 5; i++)
			send_req(c, 100 + i, VMSG_BLK_OP_READ, 0, 512, 0, 0,
				 i < 4 ? VMSG_SEND_MORE : 0);
		break;
	case 8: /* a HELLO with the wrong magic */
		memset(junk, 0x11, 16);
		vmsg_chan_send(c, VMSG_TYPE_BLK_HELLO, junk, 16, 0, 5000);
		break;
	}
	/* Whatever replies came first, the channel ends. */
	uint8_t m[4096];
	int r;
	while ((r = vmsg_chan_recv(c, NULL, m, sizeof(m), 5000)) >= 0)
		;
	ASSERT_EQ(r, -EPIPE);
	vmsg_chan_close(c);
	bt_disk_stop(&d);
	if (d.result != -EPROTO)
		VMSG_TEST_FAIL("case %d: server ended with %d, not -EPROTO",
			       kind, d.result);
}

/* Seeded random headers and sizes: the server answers or closes, and
 * never touches memory it should not (ASan). */
static void test_random(uint64_t seed)
{
	char path[300];
	struct bt_disk d;
	uint8_t m[VMSG_BLK_REQ_HDR + 8192];

	bt_disk_start(&d, new_path(path, sizeof(path)), DISK, 4);
	vmsg_chan *c = raw_connect(path, 64);
	for (int i = 0; i < 2000; i++) {
		struct vmsg_blk_req_hdr h;
		uint64_t x = vmsg_test_rand(&seed);
		h.id = (uint64_t)i;
		h.op = (uint16_t)(x % 7);
		h.flags = (x >> 8) % 4 == 0 ? (uint16_t)(x >> 16) : 0;
		switch ((x >> 24) % 4) {
		case 0: h.offset = vmsg_test_rand(&seed); break;
		case 1: h.offset = DISK - 512 * ((x >> 32) % 4); break;
		default: h.offset = 512 * ((x >> 32) % (DISK / 512)); break;
		}
		switch ((x >> 40) % 4) {
		case 0: h.length = (uint32_t)vmsg_test_rand(&seed); break;
		case 1: h.length = (uint32_t)((x >> 48) % 9000); break;
		default: h.length = 512 * (uint32_t)((x >> 48) % 17); break;
		}
		size_t data = h.op == VMSG_BLK_OP_WRITE && h.length <= 8192
				      ? h.length : 0;
		vmsg_blk_put_req(m, &h);
		memset(m + VMSG_BLK_REQ_HDR, 0x33, data);
		if (vmsg_chan_send(c, VMSG_TYPE_BLK_REQ, m,
				   VMSG_BLK_REQ_HDR + data, 0, 5000) < 0)
			break;
		uint8_t rep[VMSG_BLK_REPLY_HDR + 8192];
		int n = vmsg_chan_recv(c, NULL, rep, sizeof(rep), 5000);
		if (n < 0) {
			/* Closed for a WRITE whose size did not match. */
			ASSERT_EQ(n, -EPIPE);
			ASSERT_TRUE(h.op == VMSG_BLK_OP_WRITE &&
				    data != h.length);
			break;
		}
		int32_t st;
		memcpy(&st, rep + 8, 4);
		ASSERT_TRUE(st == 0 || st == -EINVAL || st == -ENOSPC ||
			    st == -EOPNOTSUPP);
	}
	vmsg_chan_close(c);
	bt_disk_stop(&d);
	ASSERT_TRUE(d.result == -EPIPE || d.result == -EPROTO);
}

/* ---- a hostile server ------------------------------------------------- */

struct evil {
	const char *path;
	int kind;
	pthread_t th;
};

static void *evil_thread(void *arg)
{
	struct evil *e = arg;
	struct vmsg_chan_opts o;
	vmsg_chan *c;
	uint8_t m[VMSG_BLK_REQ_HDR + 65536], info[VMSG_BLK_INFO_SIZE];
	struct vmsg_blk_info di = { DISK, 512, 512, 65536, 8, 0 };

	bt_opts(&o);
	ASSERT_EQ(vmsg_host_serve(&c, e->path, &o), 0);
	ASSERT_EQ(vmsg_chan_accept(c, 10000), 0);
	ASSERT_EQ(vmsg_chan_recv(c, NULL, m, sizeof(m), 5000),
		  VMSG_BLK_HELLO_SIZE);
	vmsg_blk_put_info(info, &di);
	switch (e->kind) {
	case 0: info[0] ^= 1; break;              /* magic */
	case 1: info[4] = 2; break;               /* version */
	case 2: info[16] = 0x01; info[17] = 0x03; break; /* block 769 */
	case 3: info[28] = 200; break;            /* depth over HELLO's */
	case 4: info[8] = 1; break;               /* size not in blocks */
	}
	if (e->kind == 5) /* INFO of the wrong size */
		vmsg_chan_send(c, VMSG_TYPE_BLK_INFO, info, 32, 0, 5000);
	else
		vmsg_chan_send(c, VMSG_TYPE_BLK_INFO, info, sizeof(info), 0,
			       5000);
	if (e->kind < 6)
		goto out;
	/* Requests come; answer wrongly. */
	uint64_t ids[2];
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(vmsg_chan_recv(c, NULL, m, sizeof(m), 5000),
			  VMSG_BLK_REQ_HDR);
		struct vmsg_blk_req_hdr h;
		vmsg_blk_get_req(m, &h);
		ids[i] = h.id;
	}
	uint8_t rep[VMSG_BLK_REPLY_HDR + 512] = {0};
	switch (e->kind) {
	case 6: /* a reply to an id never asked */
		vmsg_blk_put_reply(rep, ids[0] ^ 0x100000000ull, 0, 512);
		break;
	case 7: /* the right id twice */
		vmsg_blk_put_reply(rep, ids[0], 0, 512);
		vmsg_chan_send(c, VMSG_TYPE_BLK_REPLY, rep, sizeof(rep), 0, 5000);
		break;
	case 8: /* a READ reply of the wrong length */
		vmsg_blk_put_reply(rep, ids[0], 0, 256);
		break;
	case 9: /* a positive status */
		vmsg_blk_put_reply(rep, ids[0], 5, 0);
		break;
	case 10: /* an index far outside the client's table */
		vmsg_blk_put_reply(rep, 0xffffffffull, 0, 512);
		break;
	}
	vmsg_chan_send(c, VMSG_TYPE_BLK_REPLY, rep, sizeof(rep), 0, 5000);
	/* Keep the channel open: the client must end it itself. */
	vmsg_chan_recv(c, NULL, m, sizeof(m), 5000);
out:
	vmsg_chan_close(c);
	return NULL;
}

static void test_evil_server(int kind)
{
	char path[300];
	struct evil e = { new_path(path, sizeof(path)), kind, 0 };
	struct bt_client b;
	uint8_t buf[2][512];

	ASSERT_EQ(pthread_create(&e.th, NULL, evil_thread, &e), 0);
	int r = bt_connect(&b, path, 8, 65536);
	if (kind < 6) {
		if (r != -EPROTO)
			VMSG_TEST_FAIL("bad INFO %d: init gave %d", kind, r);
		pthread_join(e.th, NULL);
		return;
	}
	ASSERT_EQ(r, 0);
	for (int i = 0; i < 2; i++) {
		struct vmsg_blk_io io = { VMSG_BLK_OP_READ, 0, 512, 512u * i,
					  buf[i], (uint64_t)i };
		ASSERT_EQ(vmsg_blk_client_submit(b.cl, &io, 5000), 0);
	}
	struct vmsg_blk_done done[4];
	int got = 0, n;
	while (got < 2) {
		n = vmsg_blk_client_reap(b.cl, done + got, 4 - got, 5000);
		ASSERT_GT(n, 0);
		got += n;
	}
	/* The second request at least was never answered honestly. */
	ASSERT_EQ(done[got - 1].status, -EPROTO);
	ASSERT_EQ(vmsg_blk_client_reap(b.cl, done, 4, 100), -EPROTO);
	struct vmsg_blk_io io = { VMSG_BLK_OP_READ, 0, 512, 0, buf[0], 9 };
	ASSERT_EQ(vmsg_blk_client_submit(b.cl, &io, 100), -EPROTO);
	bt_close(&b);
	pthread_join(e.th, NULL);
}

/* ---- a server killed mid-I/O ------------------------------------------ */

static void test_kill(void)
{
	char path[300];
	new_path(path, sizeof(path));
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test */
		struct bt_disk d;
		bt_disk_start(&d, path, 64u * 1024u * 1024u, 16);
		bt_disk_stop(&d);
		_exit(0);
	}
	struct bt_client b;
	ASSERT_EQ(bt_connect(&b, path, 64, BT_MAX_REQ), 0);
	static uint8_t bufs[64][65536];
	unsigned user = 0, killed = 0, epipe = 0;
	uint64_t t_kill = 0;
	struct vmsg_blk_done done[64];
	for (;;) {
		while (vmsg_blk_client_outstanding(b.cl) < 64) {
			struct vmsg_blk_io io = { VMSG_BLK_OP_READ, 0, 65536,
						  65536u * (user % 64),
						  bufs[user % 64], user };
			int r = vmsg_blk_client_submit(b.cl, &io, 5000);
			if (r < 0) {
				ASSERT_EQ(r, -EPIPE);
				break;
			}
			user++;
		}
		if (!killed && user > 5000) {
			ASSERT_EQ(kill(pid, SIGKILL), 0);
			t_kill = ht_now_ms();
			killed = 1;
		}
		int n = vmsg_blk_client_reap(b.cl, done, 64, 5000);
		if (n < 0) {
			ASSERT_EQ(n, -EPIPE);
			break;
		}
		ASSERT_GT(n, 0);
		for (int i = 0; i < n; i++) {
			if (done[i].status == -EPIPE)
				epipe++;
			else
				ASSERT_EQ(done[i].status, 0);
		}
	}
	uint64_t ms = ht_now_ms() - t_kill;
	printf("kill: %u requests, %u ended with -EPIPE, %llu ms after "
	       "SIGKILL\n", user, epipe, (unsigned long long)ms);
	ASSERT_GT(epipe, 0);
	ASSERT_LT(ms, 1000);
	bt_close(&b);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	ht_mkdtemp(dir, sizeof(dir));
	test_answerable(false);
	test_answerable(true);
	for (int k = 0; k <= 8; k++)
		test_breaks(k);
	for (uint64_t s = 1; s <= 4; s++)
		test_random(0xb10c0000 + s);
	for (int k = 0; k <= 10; k++)
		test_evil_server(k);
	test_kill();
	ht_rmdir(dir);
	printf("block_hostile: ok\n");
	return 0;
}
