/* echo_server.c - dom0's echo server for the unikernel as a client
 * (run-xen.sh, scenario uk-client).
 *
 *   guest-echo-server DOMID PATH
 *
 * Serves one vmsg channel at PATH for domain DOMID (libvmsg's Xen
 * backend), waits up to 120 s for it, echoes every message until the
 * client closes, then prints "ECHO-SERVER ok msgs=N bytes=B" and exits 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <vmsg/chan.h>
#include <vmsg/xen.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s DOMID PATH\n", argv[0]);
		return 2;
	}
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = 1u << 20;
	vmsg_chan *c;
	int r = vmsg_xen_serve(&c, (uint16_t)atoi(argv[1]), argv[2], &o);
	if (r < 0) {
		fprintf(stderr, "serve %s: %s\n", argv[2], vmsg_strerror(r));
		return 1;
	}
	if ((r = vmsg_chan_accept(c, 120000)) < 0) {
		fprintf(stderr, "accept: %s\n", vmsg_strerror(r));
		vmsg_chan_close(c);
		return 1;
	}
	static char buf[1u << 20];
	unsigned long long msgs = 0, bytes = 0;
	for (;;) {
		uint16_t type;
		r = vmsg_chan_recv(c, &type, buf, sizeof(buf), 120000);
		if (r < 0)
			break;
		int w = vmsg_chan_send(c, type, buf, (size_t)r, 0, 120000);
		if (w < 0) {
			r = w;
			break;
		}
		msgs++;
		bytes += (unsigned long long)r;
	}
	int ok = r == -EPIPE;
	vmsg_chan_close(c);
	printf("ECHO-SERVER %s msgs=%llu bytes=%llu (%s)\n", ok ? "ok" : "failed",
	       msgs, bytes, vmsg_strerror(r));
	return ok ? 0 : 1;
}
