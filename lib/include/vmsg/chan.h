/* vmsg/chan.h - channels: one connected pair of vchan rings with typed
 * messages, blocking and non-blocking I/O, and a pollable event fd.
 *
 * Error contract: every function returns >= 0 on success (a count where one
 * makes sense) and a negative errno value on failure; errno itself is never
 * used. vmsg_strerror() names every error. Errors common to all calls:
 *   -EINVAL  a NULL channel or pointer, or an argument out of range
 *   -EPROTO  the peer broke the protocol (impossible index, bad frame); the
 *            channel is broken for good and every later call says so
 *   -EPIPE   the peer has closed (or died) and everything it sent before
 *            that has been delivered
 *   -EAGAIN  timeout_ms was 0 and the call would have had to wait
 *   -ETIMEDOUT  timeout_ms > 0 passed
 * timeout_ms: -1 waits forever, 0 never waits, > 0 waits at most that long.
 * Signals: a signal caught while a call waits (even by a handler installed
 * without SA_RESTART) does not end the call: it waits on to the same
 * deadline; no call returns -EINTR (tests/fault/fault_eintr.c).
 * A receiving call also stops when the peer keeps fragments of one message
 * coming: after a bounded amount of work (docs/protocol.md, section 4) it
 * looks at its deadline as if it had to wait, returns -EAGAIN (timeout 0)
 * or -ETIMEDOUT (passed), and the next call continues the message.
 *
 * Waiting: a call that must wait first spins for the channel's spin budget
 * (opts.spin_ns) re-checking the ring, then asks the peer for a kick, checks
 * once more, and sleeps on the platform's event. A spin budget of a few
 * microseconds buys latency with CPU.
 *
 * Threads: one channel end is used by one thread at a time.
 *
 * Messages and the byte stream: a channel carries either typed messages
 * (send/recv/reserve/peek, the vmsg frame protocol of docs/protocol.md) or
 * a raw byte stream (write/read, as a plain libxenvchan peer speaks). Do not
 * mix the two on one channel.
 */
#ifndef VMSG_CHAN_H
#define VMSG_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/platform.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vmsg_chan vmsg_chan;

#define VMSG_DEFAULT_RING_SIZE (64u * 1024u)
#define VMSG_DEFAULT_MAX_MSG (16u * 1024u * 1024u)

struct vmsg_chan_opts {
	/* Server only (a client takes what the server offers): ring sizes in
	 * bytes, rounded up to a power of two between 1 KiB and 1 MiB. */
	uint32_t rx_ring_size; /* peer -> us */
	uint32_t tx_ring_size; /* us -> peer */
	/* Largest message this end sends or accepts; larger sends fail with
	 * -EMSGSIZE, larger incoming messages are dropped and reported as
	 * -EMSGSIZE by the receiving call. Also the size of the private
	 * reassembly buffer, allocated on the first fragmented message. */
	size_t max_msg;
	/* Nanoseconds to spin before sleeping on an event (0: sleep at once);
	 * a wait set spins for the largest budget of its channels. */
	uint64_t spin_ns;
	/* Batched release (typed messages; on by default): a released
	 * message's space is announced to the peer every quarter ring, when
	 * this end finds no message and is about to wait or return -EAGAIN,
	 * and at vmsg_chan_flush() and close, instead of at every release.
	 * Saves a full barrier per message, and takes it off the path from a
	 * request to its reply. A writer blocked on a full ring waits until
	 * then: a reader that receives a message and then stops calling
	 * into the channel for a long while holds back up to a quarter ring
	 * and that message (call vmsg_chan_flush() first, or set false to
	 * announce at every release). Readers that read on until they find no message, as
	 * event loops, streaming readers and request/reply loops do, lose
	 * nothing. */
	bool rx_batch;
};

/* Fill *o with the defaults: 64 KiB rings, 16 MiB messages, no spinning,
 * batched release. */
void vmsg_chan_opts_init(struct vmsg_chan_opts *o);

/* Channel states, as returned by vmsg_chan_state(). */
enum vmsg_chan_state {
	VMSG_CHAN_WAITING = 0, /* server: no client yet */
	VMSG_CHAN_OPEN = 1,
	VMSG_CHAN_CLOSED = 2, /* the peer closed or died */
	VMSG_CHAN_BROKEN = 3, /* protocol violation seen (-EPROTO) */
};

/* Create the server end over platform `p` (ownership passes to the channel,
 * also on failure) and publish it. Does not wait for the client: see
 * vmsg_chan_accept(). *out is freed by vmsg_chan_close(). Errors: -EINVAL,
 * -ENOMEM, and the platform's (-EADDRINUSE for a taken host path, ...). */
int vmsg_chan_serve(vmsg_chan **out, struct vmsg_platform *p,
		    const struct vmsg_chan_opts *o);

/* Create the client end over platform `p` (ownership passes as above):
 * find the server, map and validate its page, bind and mark ourselves live.
 * Waits up to timeout_ms for the server to appear. Errors: -ENOENT no
 * server, -EBUSY the server already has its client, -EPROTO its page is
 * invalid, -ETIMEDOUT. */
int vmsg_chan_connect(vmsg_chan **out, struct vmsg_platform *p,
		      const struct vmsg_chan_opts *o, int timeout_ms);

/* Server: wait until the client has connected. Returns 0 once open (also
 * when it already was), -EPIPE if the client came and went: what it sent
 * before it closed can still be received (vmsg_chan_recv/read return it,
 * then -EPIPE), as on a channel it closed after the accept. On Xen the
 * xenstore keys are withdrawn right after the channel's next kick of its
 * peer (a send), sleep, vmsg_chan_ack() or close, so that the first message
 * need not wait for it (a second
 * client is refused meanwhile all the same: Xen binds the port once). On
 * the host backend the client is admitted on its first message, before it
 * has mapped the pages: what the server sends then waits in the ring for
 * it (docs/protocol.md, "The host backend's rendezvous"). */
int vmsg_chan_accept(vmsg_chan *c, int timeout_ms);

/* Server: after its client has gone (state CLOSED, or BROKEN by a client
 * that broke the protocol), wait for a new client at the same address with
 * the same ring pages and event port: a fresh control page (a new grant on
 * Xen, where the old client's unmap notification may still arrive) is laid
 * out and published.
 * What the old client sent and was not received is discarded. The channel
 * is then WAITING; vmsg_chan_accept() as after vmsg_chan_serve(). A server
 * that outlives its clients (a persistent service) loops on accept, serve,
 * reopen. Returns 0 (also when already waiting), -EBUSY while the client
 * is connected, -EINVAL for a client end, or the platform's publish error.
 */
int vmsg_chan_reopen(vmsg_chan *c);

/* One of enum vmsg_chan_state. CLOSED is reported only once everything the
 * peer sent has been received. */
int vmsg_chan_state(vmsg_chan *c);

/* A file descriptor for poll/epoll/libuv that is readable when the channel
 * may have work (data, space, a client, a close). After it polls readable,
 * call vmsg_chan_ack() and then the non-blocking calls you need (timeout 0)
 * until they return -EAGAIN; a call that returns -EAGAIN has asked the peer
 * for the kick that will make the fd readable again (or, stopped on its
 * work budget with fragments still in the ring, made it readable itself).
 * The fd belongs to the channel. -ENOTSUP on platforms without one. */
int vmsg_chan_fd(vmsg_chan *c);

/* Consume the pending event on the fd; never blocks. Returns 1 if there was
 * one, 0 if not. */
int vmsg_chan_ack(vmsg_chan *c);

/* ---- typed messages --------------------------------------------------- */

/* Flags for vmsg_chan_send() and vmsg_chan_commit(). */
#define VMSG_SEND_MORE 0x1u /* more follows: publish and kick later, at the
			       next call without it or at vmsg_chan_flush() */

/* Send one message of `len` bytes (0..max_msg). Larger than one frame, it
 * is fragmented; the call then returns only when every fragment is in the
 * ring (a timeout mid-message returns -ETIMEDOUT with the channel broken for
 * messages, since half a message cannot be taken back). Returns len.
 * Errors: -EMSGSIZE (len > max_msg), -EINVAL (type 0), the common ones. */
int vmsg_chan_send(vmsg_chan *c, uint16_t type, const void *buf, size_t len,
		   unsigned flags, int timeout_ms);

/* Publish everything sent with VMSG_SEND_MORE (one kick for all), and
 * announce the space of messages released under opts.rx_batch. */
int vmsg_chan_flush(vmsg_chan *c);

/* Zero-copy send: reserve room for one message of `len` bytes (at most one
 * frame: vmsg_chan_max_frame()) and point *payload at it, in the ring.
 * Fill it, then vmsg_chan_commit(). Errors: -EMSGSIZE, common ones. */
int vmsg_chan_reserve(vmsg_chan *c, uint16_t type, size_t len, void **payload,
		      int timeout_ms);

/* Commit the reserved message; flags as for vmsg_chan_send(). */
int vmsg_chan_commit(vmsg_chan *c, unsigned flags);

/* Drop the reserved message instead: nothing of it reaches the peer and
 * its room is free again; messages sent before it with VMSG_SEND_MORE
 * stay pending. For a writer that reserves before it knows it can fill
 * (a server reading a disk straight into its reply). -EINVAL if nothing
 * is reserved. */
int vmsg_chan_unreserve(vmsg_chan *c);

/* The largest message vmsg_chan_reserve() accepts on this channel. */
int vmsg_chan_max_frame(vmsg_chan *c);

/* The largest message this end sends or accepts (opts.max_msg). */
int vmsg_chan_max_msg(vmsg_chan *c);

/* A received message. `data` is valid until vmsg_chan_release(). When the
 * message came in one frame, data points into the shared ring: the bytes
 * are untrusted and the peer can change them while you read. Copy before
 * you parse. A fragmented message is presented from a private buffer. */
struct vmsg_msg {
	uint16_t type;
	const void *data;
	size_t len;
};

/* Zero-copy receive: present the next message without consuming it. */
int vmsg_chan_peek(vmsg_chan *c, struct vmsg_msg *m, int timeout_ms);

/* Consume the message presented by vmsg_chan_peek(). */
int vmsg_chan_release(vmsg_chan *c);

/* Receive one message into buf (copying). Returns its length and stores its
 * type in *type (may be NULL). -EMSGSIZE: cap is too small, the message
 * stays queued (peek to learn its size), or the message was larger than
 * max_msg and was dropped. */
int vmsg_chan_recv(vmsg_chan *c, uint16_t *type, void *buf, size_t cap,
		   int timeout_ms);

/* ---- raw byte stream (libxenvchan-compatible) -------------------------- */

/* Write up to len bytes; waits until at least one byte fits. Returns the
 * count written. */
int vmsg_chan_write(vmsg_chan *c, const void *buf, size_t len,
		    int timeout_ms);

/* Read up to len bytes; waits until at least one byte is there. */
int vmsg_chan_read(vmsg_chan *c, void *buf, size_t len, int timeout_ms);

/* ---- the rest ---------------------------------------------------------- */

struct vmsg_chan_stats {
	uint64_t tx_bytes, rx_bytes; /* payload bytes */
	uint64_t tx_msgs, rx_msgs;
	uint64_t kicks_sent;       /* events sent to the peer */
	uint64_t kicks_suppressed; /* publishes the peer did not ask to hear of */
	uint64_t tx_full_waits;    /* times a sender had to wait for space */
	uint64_t sleeps;           /* times this end slept on its event (in
				      its own waits or a wait set's) */
};

/* Copy the channel's counters into *s. */
int vmsg_chan_stats(vmsg_chan *c, struct vmsg_chan_stats *s);

/* Set the channel's spin budget (opts.spin_ns) from now on: for a channel
 * whose options the caller did not choose, one vmsg_service_open() or
 * vmsg_service_accept() handed over. Returns 0; -EINVAL for NULL. */
int vmsg_chan_set_spin(vmsg_chan *c, uint64_t spin_ns);

/* The sizes in bytes of the channel's rings: *rx carries the peer's
 * messages to us, *tx ours to the peer (either pointer may be NULL). On a
 * client they are what the server laid out, whatever the client's options
 * asked: a client that must bound what a peer makes it hold (a broker
 * relaying for guests) checks them after connecting. Returns 0; -EINVAL
 * for a NULL channel. */
int vmsg_chan_ring_sizes(vmsg_chan *c, uint32_t *rx, uint32_t *tx);

/* A fragmented message the peer is sending us: returns 1 while one is
 * incomplete (its first fragment taken, not yet its last; also one being
 * dropped for being over max_msg), else 0; -EINVAL for a NULL channel.
 * *held (may be NULL): the payload bytes of a fragmented message this end
 * keeps in private memory now, collected so far or whole and presented by
 * vmsg_chan_peek() (0 for whole-frame messages, which stay in the ring, and
 * for one being dropped). A receiver that must bound what a peer makes it
 * hold (a broker relaying for guests) limits both: how long a message may
 * stay incomplete, and these bytes. */
int vmsg_chan_rx_partial(vmsg_chan *c, size_t *held);

/* The private memory this end keeps for the peer's fragmented messages:
 * the reassembly buffer (opts.max_msg bytes), allocated at the first one
 * that does not go straight into a caller's buffer (vmsg_chan_peek()
 * always collects into it) and kept for the next. *kept (may be NULL):
 * its bytes written so far, the largest message collected in it, at
 * least *held of vmsg_chan_rx_partial() (0 with no buffer). With `trim`,
 * a buffer that holds nothing wanted (no message incomplete, none
 * presented by vmsg_chan_peek()) is freed first, and the next fragmented
 * message allocates it again. A receiver that must bound what a peer
 * makes it hold (a broker relaying for guests) counts these bytes, and
 * trims when they are over its bound and now and then. Returns 0;
 * -EINVAL for a NULL channel. */
int vmsg_chan_rx_kept(vmsg_chan *c, bool trim, size_t *kept);

/* Orderly close: everything committed so far stays readable by the peer,
 * which sees the close only after it. Frees the channel and its platform.
 * NULL is ignored. A channel from vmsg_service_open() or _accept()
 * (vmsg/service.h) may be closed here too, from any thread: its handle
 * forgets it, and tells vmsgd when it next opens or accepts a channel.
 * But not a provider's channel from vmsg_service_accept() whose consumer
 * may not have mapped the pages yet: this call ends the grants it maps,
 * with what was sent in them; close it with vmsg_service_close(), which
 * keeps them for that consumer. */
void vmsg_chan_close(vmsg_chan *c);

/* A static, human-readable description of a vmsg error code (negative or
 * positive errno value). Never NULL. */
const char *vmsg_strerror(int err);

#ifdef __cplusplus
}
#endif
#endif
