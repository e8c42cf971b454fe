/* Direct channels: guest to guest. vmsgd only brokers them: the provider
 * serves its consumer, and the consumer hears where (or, set up by
 * message, the provider's grant reference and event port). No data passes
 * dom0, so this transport holds nothing: what happens to such a channel
 * after Opened is the broker's to track from the guests' Closed messages
 * (broker.c: holds_end false). */
#include "broker.h"

/* By message only when both libraries announced it. */
static bool direct_by_msg(struct vmsgd *d, const struct channel *c)
{
	return broker_consumer_by_msg(d, c);
}

static void direct_served(struct vmsgd *d, struct channel *c)
{
	if (c->by_msg) {
		c->ring_ref = c->prov_ref;
		c->event_port = c->prov_port;
	}
	broker_opened(d, c, c->provider, c->path);
}

const struct transport direct_transport = {
	.name = "direct",
	.metric = "direct",
	.holds_end = false,
	.asks_provider = true,
	.serve_dom0 = false,
	.by_msg = direct_by_msg,
	.served = direct_served,
};
