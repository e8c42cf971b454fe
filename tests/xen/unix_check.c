/* unix-check: the two UNIX-socket ends of a checked byte stream through
 * something in between (scenario dropin-pv: two vchan-socket-proxy
 * processes and a vchan between dom0 and a guest).
 *
 *   unix-check echo PATH          listen on PATH; echo every connection's
 *                                 bytes back until it closes (forever),
 *                                 reading on while the echo waits
 *   unix-check send PATH BYTES    connect to PATH (retrying up to 120 s),
 *                                 write BYTES of a seeded pseudo-random
 *                                 stream while reading the echo back; every
 *                                 byte must come back, in order
 *
 * send prints "UNIX-CHECK ok bytes=N fnv=X secs=S" (FNV-1a of the stream)
 * and exits 0, or says what differed and exits 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		fprintf(stderr, "unix-check: %s: path too long\n", path);
		return -1;
	}
	strcpy(sa->sun_path, path);
	return 0;
}

/* One connection's echo. It reads whenever the peer has written, however
 * much is still to go back (held here, up to ECHO_MAX): an echo that
 * stops reading while its write back blocks deadlocks with a peer that
 * does the same. Debian's vchan-socket-proxy does, in server mode: its
 * socket blocks, and it writes to it for as long as the vchan has data
 * before it reads the echo again: with a vchan refilled as fast as it
 * empties, both sockets' buffers fill and both ends stop (a blocking
 * writer that reads back only at the end stalls the former echo). */
#define ECHO_MAX ((size_t)64 << 20)
static void echo_one(int c)
{
	size_t cap = (size_t)1 << 20, head = 0, tail = 0; /* buf[head, tail) */
	uint8_t *buf = malloc(cap);
	bool eof = false;
	if (!buf || fcntl(c, F_SETFL, O_NONBLOCK) < 0)
		goto done;
	while (!eof || head < tail) {
		struct pollfd p = {c, (eof ? 0 : POLLIN) | (head < tail ? POLLOUT : 0), 0};
		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p.revents & POLLOUT) {
			ssize_t w = write(c, buf + head, tail - head);
			if (w < 0 && errno != EAGAIN)
				break;
			if (w > 0 && (head += (size_t)w) == tail)
				head = tail = 0;
		}
		if (!eof && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			if (tail == cap && head > 0) {
				memmove(buf, buf + head, tail - head);
				tail -= head;
				head = 0;
			} else if (tail == cap) {
				uint8_t *b = cap < ECHO_MAX ? realloc(buf, cap * 2) : NULL;
				if (!b) {
					fprintf(stderr, "unix-check: echo: %zu bytes held, "
						"none read back\n", cap);
					break;
				}
				buf = b;
				cap *= 2;
			}
			ssize_t r = read(c, buf + tail, cap - tail);
			if (r == 0)
				eof = true;
			else if (r > 0)
				tail += (size_t)r;
			else if (errno != EAGAIN)
				break;
		}
	}
done:
	free(buf);
	close(c);
}

static int echo(const char *path)
{
	struct sockaddr_un sa;
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (l < 0 || addr(&sa, path) < 0)
		return 1;
	unlink(path);
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 4) < 0) {
		perror("unix-check: listen");
		return 1;
	}
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c >= 0)
			echo_one(c);
	}
}

static uint8_t byte_at(uint64_t i)
{
	uint64_t x = (i + 0x9e3779b97f4a7c15ull) * 0xbf58476d1ce4e5b9ull;
	return (uint8_t)(x >> 56);
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int send_check(const char *path, uint64_t total)
{
	struct sockaddr_un sa;
	if (addr(&sa, path) < 0)
		return 1;
	int fd = -1;
	for (int i = 0; i < 1200; i++) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(fd);
		fd = -1;
		usleep(100000);
	}
	if (fd < 0) {
		fprintf(stderr, "unix-check: nobody listens at %s\n", path);
		return 1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	uint64_t sent = 0, got = 0, fnv = 0xcbf29ce484222325ull;
	double t0 = now();
	while (got < total) {
		struct pollfd p = {fd, POLLIN | (sent < total ? POLLOUT : 0), 0};
		if (poll(&p, 1, 60000) <= 0) {
			fprintf(stderr, "unix-check: stalled at %llu sent, %llu back\n",
				(unsigned long long)sent, (unsigned long long)got);
			return 1;
		}
		if ((p.revents & POLLOUT) && sent < total) {
			uint8_t buf[16384];
			size_t n = total - sent < sizeof buf ? (size_t)(total - sent) : sizeof buf;
			for (size_t k = 0; k < n; k++)
				buf[k] = byte_at(sent + k);
			ssize_t w = write(fd, buf, n);
			if (w > 0)
				sent += (uint64_t)w;
		}
		if (p.revents & (POLLIN | POLLHUP)) {
			uint8_t buf[16384];
			ssize_t r = read(fd, buf, sizeof buf);
			if (r == 0) {
				fprintf(stderr, "unix-check: closed after %llu of %llu bytes back\n",
					(unsigned long long)got, (unsigned long long)total);
				return 1;
			}
			for (ssize_t k = 0; k < r; k++) {
				if (buf[k] != byte_at(got)) {
					fprintf(stderr, "unix-check: byte %llu differs\n",
						(unsigned long long)got);
					return 1;
				}
				fnv = (fnv ^ buf[k]) * 0x100000001b3ull;
				got++;
			}
		}
	}
	printf("UNIX-CHECK ok bytes=%llu fnv=%016llx secs=%.3f\n",
	       (unsigned long long)got, (unsigned long long)fnv, now() - t0);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "echo"))
		return echo(argv[2]);
	if (argc == 4 && !strcmp(argv[1], "send"))
		return send_check(argv[2], strtoull(argv[3], NULL, 0));
	fprintf(stderr, "usage: unix-check echo PATH | send PATH BYTES\n");
	return 2;
}
