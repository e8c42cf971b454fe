/* Messages over a byte stream, for the transports that only move bytes
 * (vmsg's raw mode, libxenvchan's write/read): one message is len bytes
 * of the stream. Unbatched, each send is written at once; batched, sends
 * are coalesced into BENCH_SOCKBUF-byte writes (as tp_fd.c does for the
 * byte-stream sockets) and the reader pulls up to BENCH_SOCKBUF at a time. */
#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int bench_bytes_init(struct bench_bytes *b, bool batch)
{
	b->batch = batch;
	b->wlen = b->roff = b->rlen = 0;
	b->wbuf = b->rbuf = NULL;
	if (batch && (!(b->wbuf = malloc(BENCH_SOCKBUF)) ||
		      !(b->rbuf = malloc(BENCH_SOCKBUF)))) {
		bench_bytes_free(b);
		return -ENOMEM;
	}
	return 0;
}

void bench_bytes_free(struct bench_bytes *b)
{
	free(b->wbuf);
	free(b->rbuf);
	b->wbuf = b->rbuf = NULL;
}

static int write_all(struct bench_bytes *b, const uint8_t *p, size_t len)
{
	while (len) {
		int n = b->write_some(b->ctx, p, len);

		if (n < 0)
			return n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int bench_bytes_flush(struct bench_bytes *b)
{
	int r = b->wlen ? write_all(b, b->wbuf, b->wlen) : 0;

	b->wlen = 0;
	return r;
}

int bench_bytes_send(struct bench_bytes *b, const void *buf, size_t len,
		     bool more)
{
	int r;

	if (!b->batch)
		return (r = write_all(b, buf, len)) < 0 ? r : (int)len;
	if (b->wlen + len > BENCH_SOCKBUF && (r = bench_bytes_flush(b)) < 0)
		return r;
	if (len >= BENCH_SOCKBUF) {
		r = write_all(b, buf, len);
	} else {
		memcpy(b->wbuf + b->wlen, buf, len);
		b->wlen += len;
		r = more ? 0 : bench_bytes_flush(b);
	}
	return r < 0 ? r : (int)len;
}

int bench_bytes_recv(struct bench_bytes *b, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t got = 0;
	int n;

	while (got < len) {
		if (b->roff < b->rlen) {
			size_t k = b->rlen - b->roff;

			if (k > len - got)
				k = len - got;
			memcpy(p + got, b->rbuf + b->roff, k);
			b->roff += k;
			got += k;
			continue;
		}
		if (b->batch && len - got < BENCH_SOCKBUF) {
			n = b->read_some(b->ctx, b->rbuf, BENCH_SOCKBUF);
			b->roff = 0;
			b->rlen = n > 0 ? (size_t)n : 0;
		} else {
			n = b->read_some(b->ctx, p + got, len - got);
			if (n > 0)
				got += (size_t)n;
		}
		if (n < 0)
			return n;
		if (n == 0)
			return got ? -EPIPE : 0;
	}
	return (int)len;
}
