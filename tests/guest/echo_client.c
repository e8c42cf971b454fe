/* echo_client.c - dom0's side of the unikernel echo check (run-xen.sh).
 *
 *   guest-echo-client DOMID PATH BYTES [quit] [raw] [rtt=N]
 *
 * Connects to the echo unikernel's vmsg channel at PATH (waiting up to
 * 60 s for it), does one round trip of a 64-byte message (the first reply),
 * then N (default 100) more, timed: rtt_us is their mean as dom0 sees it,
 * the method of tests/xen/xen_stream.c's --rtt. Then it sends BYTES
 * in 32 KiB messages of seeded pseudo-random bytes, each echoed back and
 * compared, and prints one line:
 *   ECHO-CLIENT ok first_reply_at=REALTIME rtt_us=X bytes=N fnv=HEX MiBps=Y
 * With "quit", a last message of the echo's quit type ends the service.
 * With "raw" (the echo in mode=raw): BYTES as a byte stream in 4 KiB
 * pieces, each read back before the next, as guest-vchan-echo-client does
 * over libxenvchan, so the two dom0 libraries can be compared:
 *   ECHO-CLIENT raw ok bytes=N secs=S
 * Exit 0 when every echo matched; 2 on bad arguments.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vmsg/chan.h>
#include <vmsg/xen.h>

#define CHUNK (32u * 1024u)
#define TYPE_DATA 0x100
#define TYPE_QUIT 0x7e00

static double now(clockid_t c)
{
	struct timespec t;
	clock_gettime(c, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int round_trip(vmsg_chan *c, const void *out, size_t len,
		      uint16_t type, uint8_t *in)
{
	int r = vmsg_chan_send(c, type, out, len, 0, 30000);
	if (r < 0)
		return r;
	uint16_t t;
	r = vmsg_chan_recv(c, &t, in, CHUNK, 30000);
	if (r < 0)
		return r;
	if ((size_t)r != len || t != type || memcmp(in, out, len) != 0)
		return -1000; /* not an echo */
	return 0;
}

int main(int argc, char **argv)
{
	bool quit = false, raw = false, bad = argc < 4;
	long rtt_n = 100;
	for (int i = 4; i < argc && !bad; i++) {
		if (!strcmp(argv[i], "quit")) {
			quit = true;
		} else if (!strcmp(argv[i], "raw")) {
			raw = true;
		} else if (!strncmp(argv[i], "rtt=", 4)) {
			char *end;
			rtt_n = strtol(argv[i] + 4, &end, 10);
			bad = end == argv[i] + 4 || *end || rtt_n < 1 ||
			      rtt_n > 1000000;
		} else {
			bad = true;
		}
	}
	if (bad) {
		fprintf(stderr, "usage: %s DOMID PATH BYTES [quit] [raw] "
			"[rtt=N]\n", argv[0]);
		return 2;
	}
	unsigned dom = (unsigned)atoi(argv[1]);
	uint64_t total = strtoull(argv[3], NULL, 0);
	vmsg_chan *c;
	int r = vmsg_xen_connect(&c, (uint16_t)dom, argv[2], NULL, 60000);
	if (r < 0) {
		fprintf(stderr, "connect %s: %s\n", argv[2], vmsg_strerror(r));
		return 1;
	}
	static uint8_t out[CHUNK], in[CHUNK];
	if (raw) {
		double t = now(CLOCK_MONOTONIC);
		for (uint64_t done = 0; done < total;) {
			int n = total - done < 4096 ? (int)(total - done) : 4096;
			for (int i = 0; i < n; i++)
				out[i] = (uint8_t)(done + (uint64_t)i * 7);
			for (int off = 0; off < n; off += r)
				if ((r = vmsg_chan_write(c, out + off, (size_t)(n - off), 30000)) < 0)
					goto fail;
			for (int off = 0; off < n; off += r)
				if ((r = vmsg_chan_read(c, in + off, (size_t)(n - off), 30000)) < 0)
					goto fail;
			if (memcmp(in, out, (size_t)n)) {
				r = -1000;
				goto fail;
			}
			done += (uint64_t)n;
		}
		printf("ECHO-CLIENT raw ok bytes=%llu secs=%.3f\n",
		       (unsigned long long)total, now(CLOCK_MONOTONIC) - t);
		vmsg_chan_close(c);
		return 0;
	}
	memset(out, 0x5a, 64);
	if ((r = round_trip(c, out, 64, TYPE_DATA, in)) < 0)
		goto fail;
	double first = now(CLOCK_REALTIME);
	double t0 = now(CLOCK_MONOTONIC);
	for (long i = 0; i < rtt_n; i++)
		if ((r = round_trip(c, out, 64, TYPE_DATA, in)) < 0)
			goto fail;
	double rtt = (now(CLOCK_MONOTONIC) - t0) / (double)rtt_n * 1e6;

	uint64_t x = 0x9e3779b97f4a7c15ull, fnv = 0xcbf29ce484222325ull;
	t0 = now(CLOCK_MONOTONIC);
	for (uint64_t done = 0; done < total;) {
		size_t n = total - done < CHUNK ? (size_t)(total - done) : CHUNK;
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			out[i] = (uint8_t)x;
			fnv = (fnv ^ out[i]) * 0x100000001b3ull;
		}
		if ((r = round_trip(c, out, n, TYPE_DATA, in)) < 0)
			goto fail;
		done += n;
	}
	double secs = now(CLOCK_MONOTONIC) - t0;
	if (quit &&
	    (r = round_trip(c, "quit", 4, TYPE_QUIT, in)) < 0)
		goto fail;
	printf("ECHO-CLIENT ok first_reply_at=%.3f rtt_us=%.1f bytes=%llu "
	       "fnv=%016llx MiBps=%.2f\n",
	       first, rtt, (unsigned long long)total, (unsigned long long)fnv,
	       secs > 0 ? (double)total / 1048576.0 / secs : 0.0);
	vmsg_chan_close(c);
	return 0;
fail:
	fprintf(stderr, "ECHO-CLIENT failed: %s\n",
		r == -1000 ? "reply differs from what was sent"
			   : vmsg_strerror(r));
	vmsg_chan_close(c);
	return 1;
}
