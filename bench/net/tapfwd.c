/* tapfwd: the benchmark's baseline (issue 14's "(b)"): the least a TAP path
 * can cost. Two TAP devices, each in its own network namespace, and one
 * process copying frames between them with read() and write(), no channel
 * in between. Anything built on TAP devices (vmsg-tap included) pays at
 * least this.
 *
 * usage: tapfwd NETNS_A NETNS_B   (devices eth1 in each, MTU 1500, up)
 */
#define _GNU_SOURCE
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "../../tools/vmsg-tap/tap.h"

static int open_in(const char *ns)
{
	char err[256], dev[16] = "eth1";
	int fd;
	if (tap_enter_netns(ns, err, sizeof err) < 0 ||
	    (fd = tap_open(dev, err, sizeof err)) < 0 ||
	    tap_set_mtu(dev, 1500, err, sizeof err) < 0 ||
	    tap_up(dev, err, sizeof err) < 0) {
		fprintf(stderr, "tapfwd: %s\n", err);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	static unsigned char buf[65536];
	int fd[2];

	if (argc != 3) {
		fprintf(stderr, "usage: tapfwd NETNS_A NETNS_B\n");
		return 2;
	}
	if ((fd[0] = open_in(argv[1])) < 0 || (fd[1] = open_in(argv[2])) < 0)
		return 1;
	for (;;) {
		struct pollfd p[2] = {{fd[0], POLLIN, 0}, {fd[1], POLLIN, 0}};
		if (poll(p, 2, -1) < 0)
			continue;
		for (int i = 0; i < 2; i++) {
			/* A batch at most per device, then the other. */
			for (int n = 0; n < 64 && (p[i].revents & POLLIN); n++) {
				ssize_t got = read(fd[i], buf, sizeof buf);
				if (got <= 0)
					break;
				(void)!write(fd[i ^ 1], buf, (size_t)got);
			}
		}
	}
}
