/* Non-blocking guest roles for the relay tests: an echo provider that
 * never waits on one channel (a full channel keeps its message peeked and
 * the others go on), and helpers to measure. */
#ifndef VT_NB_H
#define VT_NB_H

#include "vmsgd_test.h"

#define NB_MAX 256
#define NB_SINK 0x2ffu /* not echoed: counted only (throughput) */

static inline uint64_t nb_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wait up to 200 ms for the driver's line, the control channel or any of
 * the n channels (p has room for n + 2). Returns true when the driver
 * wrote: the provider stops. */
static inline bool nb_wait(struct pollfd *p, vmsg_ctl *ctl, vmsg_chan **ch,
			   int n)
{
	return vt_provider_wait(p, vmsg_ctl_fd(ctl), ch, n, 200);
}

/* Offer each of the comma-separated `services`; echo every message of
 * every accepted channel (type and payload) except NB_SINK ones, without
 * ever blocking, until the driver writes a line. */
static inline int nb_provider(const char *services)
{
	vmsg_ctl *ctl = vt_ctl_open();
	char list[256];
	snprintf(list, sizeof list, "%s", services);
	char *save = NULL;
	for (char *s = strtok_r(list, ",", &save); s;
	     s = strtok_r(NULL, ",", &save)) {
		int r = vmsg_service_offer(ctl, s, SIM_WAIT_MS);
		if (r < 0)
			VMSG_TEST_FAIL("offer %s: %s (%s)", s, vmsg_strerror(r),
				       vmsg_ctl_error(ctl));
	}
	sim_say(vt_out, "offered %d", (int)getpid());
	static vmsg_chan *ch[NB_MAX];
	static struct pollfd p[NB_MAX + 2];
	int n = 0;
	for (;;) {
		if (nb_wait(p, ctl, ch, n))
			break;
		vmsg_chan *c;
		int r;
		while ((r = vmsg_service_accept(ctl, &c, NULL, 0)) == 0) {
			ASSERT_TRUE(n < NB_MAX);
			ch[n++] = c;
		}
		if (r != -EAGAIN)
			VMSG_TEST_FAIL("accept: %s", vmsg_strerror(r));
		for (int i = 0; i < n; i++) {
			(void)vmsg_chan_ack(ch[i]);
			struct vmsg_msg m;
			for (;;) {
				r = vmsg_chan_peek(ch[i], &m, 0);
				if (r < 0)
					break;
				if (m.type != NB_SINK) {
					r = vmsg_chan_send(ch[i], m.type, m.data,
							   m.len, 0, 0);
					if (r == -EAGAIN || r == -EPIPE)
						break; /* kept peeked / gone */
					ASSERT_EQ(r, (int)m.len);
				}
				ASSERT_EQ(vmsg_chan_release(ch[i]), 0);
			}
			if (r == -EPIPE) {
				vmsg_service_close(ctl, ch[i]);
				ch[i--] = ch[--n];
			} else if (r != -EAGAIN) {
				VMSG_TEST_FAIL("echo: %s", vmsg_strerror(r));
			}
		}
	}
	for (int i = 0; i < n; i++)
		vmsg_service_close(ctl, ch[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

/* The value of "key":NUMBER in the JSON object of the (first) channel of
 * `service` in a `vmsgctl --json list channels` answer; fails the test if
 * absent. */
static inline unsigned long long nb_counter(const char *json,
					    const char *service,
					    const char *key)
{
	char pat[100], k[80];
	snprintf(pat, sizeof pat, "\"service\":\"%s\",", service);
	const char *o = strstr(json, pat);
	if (!o)
		VMSG_TEST_FAIL("no channel of %s listed:\n%s", service, json);
	const char *end = strstr(o, "}}");
	snprintf(k, sizeof k, "\"%s\":", key);
	const char *v = strstr(o, k);
	if (!v || (end && v > end))
		VMSG_TEST_FAIL("no %s for %s:\n%s", key, service, json);
	return strtoull(v + strlen(k), NULL, 10);
}

/* Offer `service`; echo every byte of every accepted channel (a raw
 * stream) until the driver writes a line. A channel is closed when its
 * client closes it, or once close_after bytes came (0: never). */
static inline int nb_raw_echo(const char *service, size_t close_after)
{
	static unsigned char buf[65536];
	vmsg_ctl *ctl = vt_ctl_open();
	ASSERT_EQ(vmsg_service_offer(ctl, service, SIM_WAIT_MS), 0);
	sim_say(vt_out, "offered");
	vmsg_chan *ch[8];
	size_t done[8];
	int n = 0;
	for (;;) {
		struct pollfd p[10];
		if (nb_wait(p, ctl, ch, n))
			break;
		vmsg_chan *c;
		int r;
		while ((r = vmsg_service_accept(ctl, &c, NULL, 0)) == 0) {
			ASSERT_TRUE(n < 8);
			done[n] = 0;
			ch[n++] = c;
		}
		ASSERT_EQ(r, -EAGAIN);
		for (int i = 0; i < n; i++) {
			(void)vmsg_chan_ack(ch[i]);
			while ((r = vmsg_chan_read(ch[i], buf, sizeof buf, 0)) > 0) {
				/* Blocking write: the peer drains it. */
				for (int off = 0; off < r;) {
					int w = vmsg_chan_write(ch[i], buf + off,
								(size_t)(r - off),
								SIM_WAIT_MS);
					ASSERT_TRUE(w > 0);
					off += w;
				}
				done[i] += (size_t)r;
			}
			if ((close_after && done[i] >= close_after) ||
			    r == -EPIPE) {
				vmsg_service_close(ctl, ch[i]);
				done[i] = done[n - 1];
				ch[i--] = ch[--n];
			} else {
				ASSERT_EQ(r, -EAGAIN);
			}
		}
	}
	for (int i = 0; i < n; i++)
		vmsg_service_close(ctl, ch[i]);
	vmsg_ctl_close(ctl);
	return 0;
}

#endif
