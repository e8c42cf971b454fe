/* integ_stream_1g / integ_stream_raw: a long pseudo-random stream between
 * two processes arrives intact.
 *
 *   integ_stream msg TOTAL  typed messages of random sizes (1 B .. 256 KiB,
 *                           most larger than a frame, so they fragment),
 *                           sent by copy and by reserve/commit, received by
 *                           copy and by peek/release
 *   integ_stream raw TOTAL  the libxenvchan byte stream (write/read) with
 *                           random write and read sizes
 *
 * The child (client) sends and reports its byte count, message count and
 * hashes through a pipe; the parent (server) receives until -EPIPE and
 * compares. The seed is printed so a failure reproduces.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integ.h"

#define MAX_MSG (256u * 1024u)
#define CALL_TIMEOUT_MS 30000

struct cfg {
	const char *path;
	bool raw;
	uint64_t total, seed;
	int pipe_wr;
};

struct result {
	uint64_t bytes, msgs, data_hash, len_hash;
};

/* 1 B up to 64 B, 4 KiB, 64 KiB or 256 KiB, a quarter each. */
static size_t pick_size(uint64_t *s)
{
	static const size_t lim[4] = { 64, 4096, 65536, MAX_MSG };
	uint64_t r = vmsg_test_rand(s);
	return 1 + (size_t)((r >> 8) % lim[r & 3]);
}

static void note_len(struct integ_hash *lh, uint64_t n)
{
	integ_hash_update(lh, &n, sizeof(n));
}

static int sender(void *arg)
{
	const struct cfg *cfg = arg;
	uint64_t sizes = cfg->seed, data = cfg->seed ^ 0x5bd1e995u;
	struct integ_hash dh, lh;
	struct result res = { 0 };
	uint8_t *buf = malloc(MAX_MSG);
	vmsg_chan *c;
	int r, max_frame;

	ASSERT_TRUE(buf != NULL);
	integ_hash_init(&dh);
	integ_hash_init(&lh);
	r = integ_connect(&c, cfg->path, NULL, 20000);
	if (r < 0)
		VMSG_TEST_FAIL("connect: %s", vmsg_strerror(r));
	max_frame = vmsg_chan_max_frame(c);
	ASSERT_GT(max_frame, 0);

	while (res.bytes < cfg->total) {
		size_t n = pick_size(&sizes);
		void *p;

		if (n > cfg->total - res.bytes)
			n = (size_t)(cfg->total - res.bytes);
		if (cfg->raw) {
			integ_fill_random(&data, buf, n);
			integ_hash_update(&dh, buf, n);
			for (size_t off = 0; off < n; off += (size_t)r) {
				r = vmsg_chan_write(c, buf + off, n - off,
						    CALL_TIMEOUT_MS);
				if (r <= 0)
					VMSG_TEST_FAIL("write: %s",
						       vmsg_strerror(r));
			}
		} else if (res.msgs % 3 == 0 && n <= (size_t)max_frame) {
			/* zero-copy: fill the payload in the ring */
			r = vmsg_chan_reserve(c, INTEG_TYPE, n, &p,
					      CALL_TIMEOUT_MS);
			if (r < 0)
				VMSG_TEST_FAIL("reserve: %s", vmsg_strerror(r));
			integ_fill_random(&data, p, n);
			integ_hash_update(&dh, p, n);
			r = vmsg_chan_commit(c, 0);
			if (r < 0)
				VMSG_TEST_FAIL("commit: %s", vmsg_strerror(r));
		} else {
			integ_fill_random(&data, buf, n);
			integ_hash_update(&dh, buf, n);
			r = vmsg_chan_send(c, INTEG_TYPE, buf, n, 0,
					   CALL_TIMEOUT_MS);
			if (r != (int)n)
				VMSG_TEST_FAIL("send %zu: %s", n,
					       vmsg_strerror(r));
		}
		note_len(&lh, n);
		res.bytes += n;
		res.msgs++;
	}
	vmsg_chan_close(c);
	free(buf);
	res.data_hash = integ_hash_final(&dh);
	res.len_hash = integ_hash_final(&lh);
	integ_write_full(cfg->pipe_wr, &res, sizeof(res));
	return 0;
}

static void receive(vmsg_chan *c, const struct cfg *cfg, struct result *res)
{
	uint64_t reads = cfg->seed ^ 0xabcdefu;
	struct integ_hash dh, lh;
	uint8_t *buf = malloc(MAX_MSG);
	uint16_t type;
	int r;

	ASSERT_TRUE(buf != NULL);
	integ_hash_init(&dh);
	integ_hash_init(&lh);
	for (;;) {
		struct vmsg_msg m;

		if (cfg->raw) {
			r = vmsg_chan_read(c, buf, pick_size(&reads),
					   CALL_TIMEOUT_MS);
			if (r > 0) {
				integ_hash_update(&dh, buf, (size_t)r);
				res->msgs++;
			}
		} else if (res->msgs % 2) {
			r = vmsg_chan_peek(c, &m, CALL_TIMEOUT_MS);
			if (r >= 0) {
				ASSERT_EQ(m.type, INTEG_TYPE);
				integ_hash_update(&dh, m.data, m.len);
				note_len(&lh, m.len);
				res->msgs++;
				r = vmsg_chan_release(c);
				ASSERT_GE(r, 0);
				r = (int)m.len;
			}
		} else {
			r = vmsg_chan_recv(c, &type, buf, MAX_MSG,
					   CALL_TIMEOUT_MS);
			if (r >= 0) {
				ASSERT_EQ(type, INTEG_TYPE);
				integ_hash_update(&dh, buf, (size_t)r);
				note_len(&lh, (uint64_t)r);
				res->msgs++;
			}
		}
		if (r == -EPIPE)
			break;
		if (r < 0)
			VMSG_TEST_FAIL("receive after %llu bytes: %s",
				       (unsigned long long)res->bytes,
				       vmsg_strerror(r));
		res->bytes += (uint64_t)r;
	}
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_CLOSED);
	free(buf);
	res->data_hash = integ_hash_final(&dh);
	res->len_hash = integ_hash_final(&lh);
}

int main(int argc, char **argv)
{
	struct cfg cfg = { .seed = 0x1234abcd5678ef01ull };
	struct result got = { 0 }, sent;
	struct integ_tmp tmp;
	uint64_t t0, ns;
	vmsg_chan *c;
	int pfd[2], r;
	pid_t pid;

	integ_init(&argc, &argv);

	if (argc != 3 || (strcmp(argv[1], "msg") && strcmp(argv[1], "raw")))
		VMSG_TEST_FAIL("usage: %s msg|raw TOTAL_BYTES", argv[0]);
	cfg.raw = !strcmp(argv[1], "raw");
	cfg.total = strtoull(argv[2], NULL, 0);
	if (getenv("VMSG_TEST_SEED"))
		cfg.seed = strtoull(getenv("VMSG_TEST_SEED"), NULL, 0);
	printf("%s stream of %llu bytes, seed 0x%llx\n", argv[1],
	       (unsigned long long)cfg.total, (unsigned long long)cfg.seed);

	integ_tmp_make(&tmp);
	cfg.path = tmp.path;
	ASSERT_EQ(pipe(pfd), 0);
	cfg.pipe_wr = pfd[1];
	pid = integ_fork(sender, &cfg); /* it retries until we serve */
	close(pfd[1]);
	r = integ_serve(&c, tmp.path, NULL);
	if (r < 0)
		VMSG_TEST_FAIL("serve: %s", vmsg_strerror(r));
	r = vmsg_chan_accept(c, 20000);
	if (r < 0)
		VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));

	t0 = integ_now_ns();
	receive(c, &cfg, &got);
	ns = integ_now_ns() - t0;
	vmsg_chan_close(c);
	integ_read_full(pfd[0], &sent, sizeof(sent));
	close(pfd[0]);
	ASSERT_EQ(integ_reap(pid), 0);
	integ_tmp_drop(&tmp);

	printf("received %llu bytes in %llu messages/reads: %.2f s, %.0f MiB/s\n",
	       (unsigned long long)got.bytes, (unsigned long long)got.msgs,
	       (double)ns / 1e9, (double)got.bytes / 1048576.0 / ((double)ns / 1e9));
	printf("hash sent 0x%016llx received 0x%016llx\n",
	       (unsigned long long)sent.data_hash,
	       (unsigned long long)got.data_hash);
	ASSERT_EQ(got.bytes, cfg.total);
	ASSERT_EQ(sent.bytes, cfg.total);
	ASSERT_EQ(got.data_hash, sent.data_hash);
	if (!cfg.raw) {
		ASSERT_EQ(got.msgs, sent.msgs);
		ASSERT_EQ(got.len_hash, sent.len_hash);
	}
	return 0;
}
