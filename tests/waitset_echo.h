/* The wait set's test, shared by its backends (host_waitset on the host
 * backend, xen_waitset on the simulated Xen): one server holds WS_N
 * channels in one struct vmsg_waitset and echoes on all of them at once,
 * never blocking on any one channel; WS_N clients, each in its own
 * process, connect and send WS_MSGS messages each, all at the same time,
 * and check every echo.
 *
 * What it checks of the wait set: every message of every client is echoed
 * (so no event is lost, also when more channels fire than the caller's
 * array holds: WS_CAP < WS_N), the data handed to add comes back with its
 * channel, a client's arrival and its close are events too, add refuses a
 * channel twice, remove forgets it, a set where nothing happens times out
 * (0) and an empty set with timeout 0 says 0. */
#ifndef WAITSET_ECHO_H
#define WAITSET_ECHO_H

#include <string.h>

#include <vmsg/chan.h>
#include <vmsg/waitset.h>

#include "vmsg_test.h"

#define WS_N 8
#define WS_MSGS 300
#define WS_CAP 3 /* fewer than WS_N: events carried to the next call */
#define WS_T 30000 /* generous ms for any one blocking call */

/* Message j of client i: type and a few bytes that say who and which. */
static inline size_t ws_msg(unsigned i, unsigned j, unsigned char *buf)
{
	size_t n = 1 + (i * 131u + j * 17u) % 700u;
	for (size_t k = 0; k < n; k++)
		buf[k] = (unsigned char)(i * 31u + j * 7u + k);
	return n;
}

/* A client: send and check WS_MSGS echoes, one at a time, then close. */
static inline void ws_client(vmsg_chan *c, unsigned i)
{
	unsigned char out[800], in[800];
	uint16_t type;
	for (unsigned j = 0; j < WS_MSGS; j++) {
		size_t n = ws_msg(i, j, out);
		ASSERT_EQ(vmsg_chan_send(c, (uint16_t)(0x100 + i), out, n, 0,
					 WS_T),
			  (int)n);
		ASSERT_EQ(vmsg_chan_recv(c, &type, in, sizeof in, WS_T), (int)n);
		ASSERT_EQ(type, 0x100 + i);
		ASSERT_MEM_EQ(in, out, n);
	}
	vmsg_chan_close(c);
}

/* The server: c[0..WS_N-1] are served (not yet accepted). Echoes on all
 * of them until every client has sent WS_MSGS and closed. `quiet` is
 * served too, with no client ever: a set of it alone times out. */
static inline void ws_serve(vmsg_chan **c, vmsg_chan *quiet)
{
	struct vmsg_waitset ws;
	struct vmsg_waitset_event ev[WS_CAP];
	unsigned got[WS_N] = {0}, idx[WS_N];
	bool done[WS_N] = {false};
	unsigned ndone = 0, waits = 0;

	vmsg_waitset_init(&ws);
	ASSERT_EQ(vmsg_waitset_wait(&ws, ev, WS_CAP, 0), 0); /* empty */
	ASSERT_EQ(vmsg_waitset_wait(&ws, ev, WS_CAP, -1), -EINVAL);
	for (unsigned i = 0; i < WS_N; i++) {
		idx[i] = i;
		ASSERT_EQ(vmsg_waitset_add(&ws, c[i], &idx[i]), 0);
	}
	ASSERT_EQ(vmsg_waitset_add(&ws, c[0], &idx[0]), -EEXIST);
	ASSERT_EQ(vmsg_waitset_count(&ws), WS_N);

	while (ndone < WS_N) {
		int n = vmsg_waitset_wait(&ws, ev, WS_CAP, WS_T);
		ASSERT_GT(n, 0); /* a client always has something going */
		ASSERT_LE(n, WS_CAP);
		waits++;
		for (int e = 0; e < n; e++) {
			unsigned i = *(unsigned *)ev[e].data;
			ASSERT_LT(i, WS_N);
			ASSERT_TRUE(ev[e].chan == c[i]);
			ASSERT_TRUE(!done[i]);
			int st = vmsg_chan_state(c[i]);
			if (st == VMSG_CHAN_WAITING) {
				int a = vmsg_chan_accept(c[i], 0);
				ASSERT_TRUE(a == 0 || a == -EAGAIN);
				if (a < 0)
					continue;
			}
			/* Everything there, never waiting: -EAGAIN asks
			 * the client for the kick of its next message. */
			for (;;) {
				unsigned char buf[800];
				uint16_t type;
				int r = vmsg_chan_recv(c[i], &type, buf,
						       sizeof buf, 0);
				if (r == -EAGAIN)
					break;
				if (r == -EPIPE) {
					ASSERT_EQ(got[i], WS_MSGS);
					ASSERT_EQ(vmsg_waitset_remove(&ws, c[i]),
						  0);
					ASSERT_EQ(vmsg_waitset_remove(&ws, c[i]),
						  -ENOENT);
					done[i] = true;
					ndone++;
					break;
				}
				ASSERT_GE(r, 1);
				ASSERT_EQ(type, 0x100 + i);
				unsigned char want[800];
				ASSERT_EQ((size_t)r, ws_msg(i, got[i], want));
				ASSERT_MEM_EQ(buf, want, (size_t)r);
				got[i]++;
				ASSERT_EQ(vmsg_chan_send(c[i], type, buf,
							 (size_t)r, 0, WS_T),
					  r);
			}
		}
	}
	ASSERT_EQ(vmsg_waitset_count(&ws), 0);
	/* One wait served several messages on average: the clients ran at
	 * once (not a proof, a sanity bound: each message needs one). */
	ASSERT_LE(waits, WS_N * (WS_MSGS + 2));

	/* A quiet set times out. */
	ASSERT_EQ(vmsg_waitset_add(&ws, quiet, NULL), 0);
	ASSERT_EQ(vmsg_waitset_wait(&ws, ev, WS_CAP, 0), 0);
	ASSERT_EQ(vmsg_waitset_wait(&ws, ev, WS_CAP, 50), 0);
	for (unsigned i = 0; i < WS_N; i++)
		vmsg_chan_close(c[i]);
	vmsg_chan_close(quiet);
}

#endif
