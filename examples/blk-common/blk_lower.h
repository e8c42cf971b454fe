/* A block appliance's lower disk (the overlay's base, a mirror's leg):
 * lib/block's client, and a limit on how long the appliance waits for a
 * provider that stays connected but answers nothing (hung, or hostile).
 * Without one, such a provider would hold the appliance's consumer for
 * ever, since the protocol has no timeouts (docs/block.md).
 *
 * The limit is on silence, as nbdkit vmsg's timeout= is: the clock starts
 * when a request goes to an idle lower disk and starts again at each
 * reply, so a slow provider whose replies keep coming is never cut off.
 * When it runs out with a request waiting, the client is aborted with
 * -ETIMEDOUT (vmsg_blk_client_abort): that request completes with it, and
 * every later one fails with it at once, as after the provider's death.
 *
 * Freestanding, used by the cores of both builds (unikernel and Linux):
 * the clock is the lower channel's platform's (Xen's system time in a
 * unikernel, CLOCK_MONOTONIC on Linux), the one lib/block's own waits
 * use, and every wait is lib/block's, with a timeout. */
#ifndef BLK_LOWER_H
#define BLK_LOWER_H

#include <stdbool.h>
#include <stdint.h>

#include <vmsg/block.h>
#include <vmsg/chan.h>
#include <vmsg/platform.h>

/* The default limit, seconds (as nbdkit vmsg's timeout= and
 * vmsg-blockd's --nbd-timeout), and the largest one accepted. */
#define BLK_LOWER_TIMEOUT_S 30u
#define BLK_LOWER_TIMEOUT_MAX_S 86400u

struct blk_lower {
	vmsg_blk_client *cl;     /* open, negotiated; the caller's */
	uint64_t timeout_ns;     /* silence allowed; 0: wait for ever */
	bool silent;             /* given up on for silence: the client is
				  * aborted (read by the apps' reports) */
	/* Private (blk_lower.c). */
	struct vmsg_platform *p; /* the channel's: its clock */
	uint64_t heard_ns;       /* the last reply, or the request that
				  * found the client idle */
};

/* Take on client cl of channel c with a limit of timeout_s seconds of
 * silence (0: none). */
void blk_lower_init(struct blk_lower *l, vmsg_blk_client *cl, vmsg_chan *c,
		    unsigned timeout_s);

/* vmsg_blk_client_submit, waiting for room in the channel at most until
 * the limit. Returns 0, or the submit's error; -ETIMEDOUT once the lower
 * disk has been given up on. */
int blk_lower_submit(struct blk_lower *l, const struct vmsg_blk_io *io);

/* Wait for one completion (a request must be outstanding) and put its
 * status in *status: the provider's, -EPIPE / -EPROTO when the channel
 * ended, -ETIMEDOUT when the provider was silent for the limit. Returns 0,
 * or -EINVAL when nothing is outstanding, or the client's error. */
int blk_lower_wait(struct blk_lower *l, int32_t *status);

/* Submit one request and wait for it (nothing else outstanding): its
 * status, or the submit's error. */
int blk_lower_io(struct blk_lower *l, unsigned op, void *buf, uint32_t length,
		 uint64_t offset, unsigned flags);

#endif
