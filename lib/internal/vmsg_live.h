/* Private: what the peer's live byte of a channel's shared page says.
 * Freestanding. */
#ifndef VMSG_LIVE_H
#define VMSG_LIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmsg/ring.h"

/* Is the peer in, by its live byte (read once by the caller)? UP, or, seen
 * from a server, ADMITTED: its rendezvous let the client in, which moves
 * the byte to UP itself once it has mapped (docs/protocol.md, "Admitted
 * clients"). */
static inline bool vmsg__live_in(uint8_t live, bool server)
{
	return live == VMSG_LIVE_UP ||
	       (server && live == VMSG_LIVE_ADMITTED);
}

#endif
