/* vchan_echo_client.c - Debian's libxenvchan as a client of the echo
 * unikernel in mode=raw (interop check of run-xen.sh).
 *
 *   guest-vchan-echo-client DOMID PATH BYTES
 *
 * Sends BYTES pseudo-random bytes in 4 KiB pieces, reading each echo back
 * before the next, and compares. Prints "VCHAN-ECHO ok bytes=N" and exits 0
 * when all matched.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxenvchan.h>

#define PIECE 4096

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s DOMID PATH BYTES\n", argv[0]);
		return 2;
	}
	struct libxenvchan *v = NULL;
	/* libxenvchan's client does not wait for the server's keys. */
	for (int i = 0; i < 300 && !v; i++) {
		v = libxenvchan_client_init(NULL, atoi(argv[1]), argv[2]);
		if (!v)
			usleep(200000);
	}
	if (!v) {
		perror("libxenvchan_client_init");
		return 1;
	}
	v->blocking = 1;
	long long total = atoll(argv[3]);
	static char out[PIECE], in[PIECE];
	uint32_t x = 2463534242u;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long long done = 0; done < total;) {
		int n = total - done < PIECE ? (int)(total - done) : PIECE;
		for (int i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			out[i] = (char)x;
		}
		if (libxenvchan_send(v, out, (size_t)n) != n ||
		    libxenvchan_recv(v, in, (size_t)n) != n) {
			fprintf(stderr, "VCHAN-ECHO i/o failed at %lld\n", done);
			return 1;
		}
		if (memcmp(in, out, (size_t)n)) {
			fprintf(stderr, "VCHAN-ECHO mismatch at %lld\n", done);
			return 1;
		}
		done += n;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("VCHAN-ECHO ok bytes=%lld secs=%.3f\n", total,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	libxenvchan_close(v);
	return 0;
}
