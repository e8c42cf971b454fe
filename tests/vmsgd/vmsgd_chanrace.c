/* vmsgd_chanrace: vmsg_chan_close() in one thread racing the service
 * handle, in another, passing vmsgd's Closed{id} to the same channel
 * (lib/service/live.c: the channel's tag; the handle holds it BUSY while
 * it marks the channel's peer gone, and the close waits for that or
 * finds it done). vmsg/service.h allows a channel from
 * vmsg_service_open() to be closed from another thread with
 * vmsg_chan_close(), one channel and one handle per thread.
 *
 * dom1 ("dropper") offers `echo` on a fresh control handle each round,
 * accepts dom2's channel, then closes the handle: vmsgd sends dom2
 * Closed{id} for the channel, which waits unread in dom2's control ring
 * (the driver waits until vmsgd no longer lists the channel). dom2
 * ("racer") then lets two threads go at once: one closes the channel
 * with vmsg_chan_close() after 0 to 250 us, the other calls the handle
 * (an open of a service nobody offers), which reads that Closed. ROUNDS
 * rounds, so both orders come up. Every round's handle call must answer,
 * and the next round's open must work; under ASan a use of the freed
 * channel is a report, under TSan (the tsan flavour runs vmsgd_*) an
 * access to the channel not ordered against its close is one. Seen, by
 * hand, with the handle's compare-and-swap to BUSY replaced by a plain
 * check of the state: TSan reports the race between the handle's use of
 * the channel and the close's free, 3 runs of 3. Mutant
 * svc_live_busy_kept: the close waits forever.
 */
#include "vmsgd_test.h"

#include <pthread.h>

#define CONF                                                                   \
	"[service echo]\noffer = 1\nopen = 2\nmode = direct\nspare = no\n"

#define ROUNDS 24

/* dom1: each round, a control handle of its own: offer, accept, and on
 * "drop" close the handle (then the channel); "quit" ends. */
static int role_dropper(void)
{
	char b[64];
	for (;;) {
		vmsg_ctl *ctl = vt_ctl_open();
		vt_offer(ctl, "echo");
		sim_say(vt_out, "offered");
		vmsg_chan *c = vt_accept(ctl);
		sim_expect(vt_in, "drop", b, sizeof b);
		vmsg_ctl_close(ctl);
		vmsg_chan_close(c);
		sim_say(vt_out, "dropped");
		sim_hear(vt_in, b, sizeof b);
		if (!strcmp(b, "quit"))
			return 0;
		ASSERT_TRUE(!strcmp(b, "next"));
	}
}

struct racer {
	pthread_barrier_t go;
	vmsg_chan *c;
	unsigned delay_us;
};

/* The close, delay_us after the handle's call starts: at 0 it comes
 * first (the tag is marked before the handle has read anything); later
 * it finds the handle at work on the channel, or done with it. */
static void *closer(void *arg)
{
	struct racer *r = arg;
	pthread_barrier_wait(&r->go);
	if (r->delay_us)
		usleep(r->delay_us);
	vmsg_chan_close(r->c);
	return NULL;
}

/* dom2: one handle for all rounds. */
static int role_racer(void)
{
	char b[64];
	vmsg_ctl *ctl = vt_ctl_open();
	struct racer r;
	for (int i = 0; i < ROUNDS; i++) {
		sim_expect(vt_in, "open", b, sizeof b);
		r.c = vt_open(ctl, "echo");
		sim_say(vt_out, "opened");
		sim_expect(vt_in, "race", b, sizeof b);
		r.delay_us = (unsigned)(i % 6) * 50;
		ASSERT_EQ(pthread_barrier_init(&r.go, NULL, 2), 0);
		pthread_t t;
		ASSERT_EQ(pthread_create(&t, NULL, closer, &r), 0);
		pthread_barrier_wait(&r.go);
		vmsg_chan *z = NULL;
		int rc = vmsg_service_open(ctl, "none", &z, SIM_WAIT_MS);
		ASSERT_EQ(pthread_join(t, NULL), 0);
		pthread_barrier_destroy(&r.go);
		if (rc >= 0)
			VMSG_TEST_FAIL("round %d: an open of a service nobody "
				       "offers gave a channel", i);
		if (rc == -ETIMEDOUT)
			VMSG_TEST_FAIL("round %d: the handle did not answer: %s",
				       i, vmsg_strerror(rc));
		sim_say(vt_out, "raced %d", rc);
	}
	vmsg_ctl_close(ctl);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct vt_role_fn roles[] = {
		{"dropper", role_dropper},
		{"racer", role_racer},
		{NULL, NULL},
	};
	vt_main(argc, argv, roles);
	char buf[256];
	struct vt_role prov, cons;
	vt_write_conf(CONF);
	vt_start_vmsgd();
	vt_spawn(&prov, 1, "dropper", NULL);
	vt_spawn(&cons, 2, "racer", NULL);
	for (int i = 0; i < ROUNDS; i++) {
		sim_expect(prov.from, "offered", buf, sizeof buf);
		vt_ctl_wait("list services", "echo", 1);
		sim_say(cons.to, "open");
		sim_expect(cons.from, "opened", buf, sizeof buf);
		sim_say(prov.to, "drop");
		sim_expect(prov.from, "dropped", buf, sizeof buf);
		/* Gone from vmsgd's lists: its Closed to dom2 is out. */
		vt_ctl_wait("--json list channels", "\"consumer\":2", 0);
		vt_ctl_wait("list services", "echo", 0);
		sim_say(cons.to, "race");
		sim_expect(cons.from, "raced", buf, sizeof buf);
		if (i == 0)
			printf("round 0: the handle's call answered: %s\n",
			       buf);
		sim_say(prov.to, i + 1 < ROUNDS ? "next" : "quit");
	}
	printf("%d rounds: vmsg_chan_close() raced the handle's Closed\n",
	       ROUNDS);
	vt_role_done(&cons, 0);
	vt_role_done(&prov, 0);
	vt_stop_vmsgd();
	return 0;
}
