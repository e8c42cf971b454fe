/* Rate limits for guests (docs/vmsgd.md, "Limits"). Each control
 * channel has token buckets: one for requests (Offer, Open), one for abuse
 * (malformed, unknown or oversized messages, protocol violations, and
 * requests refused for the rate), and one for the log lines such input
 * causes. A bucket holds at most `burst` tokens and refills at `rate` per
 * second (the policy's [daemon] limits, read at each call: a reload
 * applies at once); tokens are kept in thousandths so slow rates refill
 * smoothly. */
#include <errno.h>

#include "vmsgd.h"

static void refill(struct rl_bucket *b, uint32_t rate, uint32_t burst,
		   uint64_t now)
{
	const uint64_t cap = (uint64_t)burst * 1000u;
	if (!b->init) {
		/* A new guest starts with a full bucket. */
		b->init = true;
		b->milli = cap;
		b->last_ms = now;
		return;
	}
	if (now > b->last_ms) {
		uint64_t add = (now - b->last_ms) * rate; /* ms * tokens/s */
		b->milli = cap - b->milli <= add ? cap : b->milli + add;
		b->last_ms = now;
	}
}

bool rl_take(struct rl_bucket *b, uint32_t rate, uint32_t burst, uint64_t now)
{
	refill(b, rate, burst, now);
	if (b->milli < 1000u)
		return false;
	b->milli -= 1000u;
	return true;
}

int rl_request(struct rl_state *r, const struct rl_limits *l, uint64_t now)
{
	if (rl_take(&r->req, l->requests_per_s, l->requests_burst, now))
		return 0;
	r->limited++;
	return -EAGAIN;
}

bool rl_abuse(struct rl_state *r, const struct rl_limits *l, uint64_t now)
{
	r->bad++;
	return !rl_take(&r->abuse, l->abuse_per_s, l->abuse_burst, now);
}

bool rl_log(struct rl_state *r, const struct rl_limits *l, uint64_t now,
	    uint32_t *suppressed)
{
	if (!rl_take(&r->log, l->log_per_s, l->log_burst, now)) {
		r->suppressed++;
		return false;
	}
	*suppressed = r->suppressed;
	r->suppressed = 0;
	return true;
}
