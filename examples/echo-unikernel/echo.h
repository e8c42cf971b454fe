/* The echo appliance's pieces, shared by its two builds (the PVH
 * unikernel and the Linux program over the SDK's Linux target):
 *   echo.c          the cmdline, the direct modes (serve, role=client,
 *                   multi=N)
 *   echo_check.c    the checked exchange of role=client and open=NAME,
 *                   and the cksum of message records
 *   echo_service.c  the vmsgd modes: offer (many consumers at once, or
 *                   forwarding each to another service) and open
 * echo.c's top comment describes the cmdline and the messages. */
#ifndef ECHO_H
#define ECHO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/chan.h>

#define ECHO_TYPE_QUIT 0x7e00u
#define ECHO_MAX_MSG (1u << 20)

/* POSIX cksum (the `cksum` command's CRC) of message records. */
struct echo_sum {
	uint32_t crc;
	unsigned long long len;
};
void echo_sum_init(struct echo_sum *s);
/* One record: type and length (little-endian), then the bytes. */
void echo_sum_record(struct echo_sum *s, uint16_t type, const void *p,
		     uint32_t len);
unsigned echo_sum_final(const struct echo_sum *s);

/* cksum=1: the echo side checksums the records it receives. */
extern bool echo_cksum;

/* Send count typed messages of 1..maxlen bytes on c and check every
 * echo; prints "<label> ok ..." (both checksums, the round trip) or why
 * it stopped ("<label> closed ..." when the peer went away). 0 ok, 3
 * closed, 1 otherwise. */
int echo_exchange(vmsg_chan *c, const char *label, unsigned count,
		  size_t maxlen);

/* vmsgd=1: offer service `name` and echo on every channel vmsgd brokers
 * (forward == NULL), or forward each consumer's messages to a channel of
 * service `forward` and its replies back. clients: stop after that many
 * channels (0: never). gate: echo nothing until that many channels are
 * open at once (0: no gate). wait_s: how long to wait for vmsgd to serve
 * our control channel. */
int echo_offer(const char *name, const char *forward, unsigned clients,
	       unsigned gate, unsigned wait_s);

/* open=NAME: open service `name` and run the exchange; with again_ms,
 * once more after that pause on the same control channel. wait_s: how
 * long to wait for vmsgd to serve our control channel. */
int echo_open(const char *name, unsigned count, size_t maxlen,
	      unsigned again_ms, unsigned wait_s);

#endif
