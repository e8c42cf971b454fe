/* vmsg/block.h - a block device protocol on vmsg channels (freestanding):
 * the wire format, an asynchronous client and a server helper.
 *
 * Error contract: >= 0 success, negative errno on failure; errno is never
 * used. Request statuses on the wire are 0 or a negative Linux errno value.
 *
 * The protocol (docs/block.md has the byte layout and a worked dump):
 * the client sends HELLO, the server answers INFO (size, block sizes, the
 * largest request, the queue depth, flags); then the client sends REQ
 * messages (a fixed 24-byte little-endian header, followed by the data for
 * WRITE: one message, fragmented by the frame layer when it is larger than
 * a frame) and the server answers each with one REPLY (16-byte header,
 * followed by the data of a successful READ), in any order. At most
 * `depth` requests are outstanding; ids are the client's, unique among
 * its outstanding requests.
 *
 * Bad input: a request the server can answer (offset past the end, a
 * length not a multiple of the logical block size or over the limit, an
 * unknown or unoffered operation, a write to a read-only disk) gets an
 * error status; a message that breaks the protocol (a wrong size, a
 * duplicate id, more than `depth` outstanding, a reply to an id never
 * asked) is -EPROTO: the side that sees it stops and closes the channel.
 *
 * Memory: both helpers live in caller memory (a size query, then init);
 * nothing here allocates, blocks outside the channel's calls, or needs
 * more than <stdint.h> <stddef.h> <stdbool.h>: a unikernel links it as is.
 *
 * Threads: one client or server object is used by one thread at a time,
 * and it is the only user of its channel.
 */
#ifndef VMSG_BLOCK_H
#define VMSG_BLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <vmsg/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- wire format -------------------------------------------------------- */

/* Frame types, in the application range of vmsg/frame.h. */
#define VMSG_TYPE_BLK_HELLO 0x0b00u /* client -> server, once, first */
#define VMSG_TYPE_BLK_INFO 0x0b01u  /* server -> client, the answer */
#define VMSG_TYPE_BLK_REQ 0x0b02u   /* client -> server */
#define VMSG_TYPE_BLK_REPLY 0x0b03u /* server -> client */

#define VMSG_BLK_MAGIC 0x4b4c4256u /* "VBLK" in little-endian bytes */
#define VMSG_BLK_VERSION 1u

#define VMSG_BLK_HELLO_SIZE 16u
#define VMSG_BLK_INFO_SIZE 40u
#define VMSG_BLK_REQ_HDR 24u
#define VMSG_BLK_REPLY_HDR 16u

/* Operations. */
#define VMSG_BLK_OP_READ 1u
#define VMSG_BLK_OP_WRITE 2u
#define VMSG_BLK_OP_FLUSH 3u        /* offset and length 0 */
#define VMSG_BLK_OP_TRIM 4u         /* the range may read back as anything */
#define VMSG_BLK_OP_WRITE_ZEROES 5u /* the range reads back as zeroes */

/* Request flags. */
#define VMSG_BLK_REQ_FUA 0x0001u /* WRITE, WRITE_ZEROES: durable on reply */

/* Disk flags (INFO). Unknown bits are ignored by clients. */
#define VMSG_BLK_F_READ_ONLY 0x0001u
#define VMSG_BLK_F_FLUSH 0x0002u
#define VMSG_BLK_F_FUA 0x0004u
#define VMSG_BLK_F_TRIM 0x0008u
#define VMSG_BLK_F_WRITE_ZEROES 0x0010u
/* Consumers that the provider admits at once see one disk: what one
 * writes, another reads once the write is acknowledged, and a FLUSH by any
 * makes durable every write acknowledged to any of them (NBD's
 * multi-conn). */
#define VMSG_BLK_F_MULTI_CONN 0x0020u
#define VMSG_BLK_F_KNOWN 0x003fu

/* Limits every implementation keeps. */
#define VMSG_BLK_MIN_BLOCK 512u
#define VMSG_BLK_MAX_BLOCK 65536u
#define VMSG_BLK_MAX_REQ_LIMIT (32u * 1024u * 1024u) /* largest max_req */
#define VMSG_BLK_MAX_DEPTH 1024u

/* What INFO says about the disk (the negotiated values). */
struct vmsg_blk_info {
	uint64_t size;           /* bytes, a multiple of logical_block */
	uint32_t logical_block;  /* power of two, 512..65536 */
	uint32_t physical_block; /* power of two, >= logical_block */
	uint32_t max_req;        /* bytes per request, multiple of logical_block */
	uint32_t depth;          /* requests outstanding at most */
	uint32_t flags;          /* VMSG_BLK_F_* */
};

/* One request header as the protocol has it (host order here). */
struct vmsg_blk_req_hdr {
	uint64_t id;
	uint64_t offset;
	uint32_t length;
	uint16_t op;
	uint16_t flags;
};

/* Encode/decode the fixed headers (little-endian on the wire, whatever the
 * host). Decoding copies out of `src` once (it may be shared memory). */
void vmsg_blk_put_hello(void *dst, uint32_t depth, uint32_t max_req);
void vmsg_blk_put_info(void *dst, const struct vmsg_blk_info *info);
void vmsg_blk_put_req(void *dst, const struct vmsg_blk_req_hdr *h);
void vmsg_blk_put_reply(void *dst, uint64_t id, int32_t status,
			uint32_t length);
void vmsg_blk_get_req(const void *src, struct vmsg_blk_req_hdr *h);

/* Is `info` a disk description this library accepts (block sizes powers
 * of two in range, size and max_req multiples of the logical block,
 * depth 1..VMSG_BLK_MAX_DEPTH)? 0 yes, -EINVAL no. */
int vmsg_blk_info_check(const struct vmsg_blk_info *info);

/* A static name for an operation ("read", ...; "unknown"). */
const char *vmsg_blk_op_name(unsigned op);

/* ---- client ------------------------------------------------------------- */

typedef struct vmsg_blk_client vmsg_blk_client;

/* One request to submit. `buf` is the data to write (WRITE) or the space
 * to read into (READ); it stays the caller's and must stay valid until the
 * request completes. `user` comes back in the completion. */
struct vmsg_blk_io {
	uint16_t op;
	uint16_t flags;
	uint32_t length;
	uint64_t offset;
	void *buf;
	uint64_t user;
};

/* A completion: the request's `user` and its status (0, or a negative
 * errno: the server's, or -EPIPE / -EPROTO when the channel ended first). */
struct vmsg_blk_done {
	uint64_t user;
	int32_t status;
};

/* Bytes of memory a client with up to `depth` outstanding requests of up
 * to `max_req` bytes needs (max_req also sizes a staging buffer for writes
 * larger than one frame). 0 when depth or max_req is out of range. */
size_t vmsg_blk_client_size(uint32_t depth, uint32_t max_req);

/* Set up a client in `mem` (vmsg_blk_client_size() bytes, 8-byte aligned,
 * owned by the caller until vmsg_blk_client_fini) on the open channel `c`
 * (still the caller's; close it after fini), and negotiate: send HELLO
 * with our depth and max_req and wait up to timeout_ms for INFO, which
 * the server may only lower. *out points into mem. Errors: -EINVAL (bad
 * arguments, or mem too small), -EPROTO (an INFO we cannot accept: wrong
 * magic, version or values), the channel's (-EPIPE, -ETIMEDOUT). */
int vmsg_blk_client_init(vmsg_blk_client **out, void *mem, size_t size,
			 vmsg_chan *c, uint32_t depth, uint32_t max_req,
			 int timeout_ms);

/* The negotiated disk description (valid while the client is). */
const struct vmsg_blk_info *vmsg_blk_client_info(vmsg_blk_client *cl);

/* Queue one request and start sending it. Checks it against INFO first
 * (-EINVAL: length 0 or not a multiple of the logical block, over
 * max_req, past the end, FLUSH with a range; -EOPNOTSUPP: an operation
 * the disk does not offer; -EROFS: a write to a read-only disk): such a
 * request is not sent. -EBUSY: `depth` requests outstanding already
 * (reap some with vmsg_blk_client_reap first). While the channel has no
 * room the call reads replies so that the server never stalls on us, and
 * waits at most timeout_ms; a request the channel has taken in part is
 * finished by the next call (submit, reap) and counts as submitted.
 * Returns 0. Errors after the channel ended: -EPIPE, -EPROTO (sticky). */
int vmsg_blk_client_submit(vmsg_blk_client *cl, const struct vmsg_blk_io *io,
			   int timeout_ms);

/* Push queued sends and read replies; wait up to timeout_ms for at least
 * one completion when none is ready; return up to `max` completions in
 * done[] (in the order the replies came). Returns the count (0 when the
 * timeout passed first or nothing is outstanding). When the channel ends
 * (-EPIPE, -EPROTO) every outstanding request completes with that status,
 * and once they are reaped the call returns the error. */
int vmsg_blk_client_reap(vmsg_blk_client *cl, struct vmsg_blk_done *done,
			 unsigned max, int timeout_ms);

/* Requests submitted and not yet reaped. */
unsigned vmsg_blk_client_outstanding(vmsg_blk_client *cl);

/* Blocking convenience: submit one request and wait for it (other
 * requests' completions that arrive meanwhile stay queued for reap).
 * Returns its status (0, or a negative errno), or a submit error. */
int vmsg_blk_client_io(vmsg_blk_client *cl, unsigned op, void *buf,
		       uint32_t length, uint64_t offset, unsigned flags,
		       int timeout_ms);

/* End the client as its channel's end would, with `err` (a negative
 * errno: -ETIMEDOUT for a provider that is connected but has answered
 * nothing for longer than the caller will wait): every outstanding request
 * completes with err, reaped as usual, and later submits fail with it. A
 * client that had ended already keeps its first error. Replies that come
 * afterwards are never read: close the channel after fini. Returns the
 * client's error, or -EINVAL. */
int vmsg_blk_client_abort(vmsg_blk_client *cl, int err);

/* Forget the client (mem is the caller's again; the channel too). */
void vmsg_blk_client_fini(vmsg_blk_client *cl);

/* ---- server ------------------------------------------------------------- */

typedef struct vmsg_blk_server vmsg_blk_server;

/* A request the server helper has parsed and checked. For WRITE, `data`
 * points at the `length` bytes of the message (untrusted shared memory
 * when the message came in one frame: copy before depending on it; valid
 * until the message is released). `status` is 0 for a request to carry
 * out, or the error to answer with (the helper has checked it against
 * the disk: -EINVAL, -ENOSPC past the end, -EOPNOTSUPP, -EROFS). */
struct vmsg_blk_request {
	struct vmsg_blk_req_hdr h;
	const uint8_t *data;
	int32_t status;
};

/* Bytes of memory a server helper for up to `depth` outstanding requests
 * needs. 0 when depth is out of range. */
size_t vmsg_blk_server_size(uint32_t depth);

/* Set up a server helper in `mem` (8-byte aligned, the caller's until
 * fini) for the disk `info` (checked with vmsg_blk_info_check; its depth
 * and max_req are the most this server grants). Errors: -EINVAL. */
int vmsg_blk_server_init(vmsg_blk_server **out, void *mem, size_t size,
			 const struct vmsg_blk_info *info);

/* Answer a received HELLO message: check it and write the INFO to send
 * (VMSG_BLK_INFO_SIZE bytes) into info_out, granting min(ours, client's)
 * depth and max_req. Returns 0; -EPROTO for a bad or second HELLO, or
 * any message before it. */
int vmsg_blk_server_hello(vmsg_blk_server *s, const struct vmsg_msg *m,
			  void *info_out);

/* The negotiated description (after hello). */
const struct vmsg_blk_info *vmsg_blk_server_info(vmsg_blk_server *s);

/* Parse and check one received message as a request, and count its id as
 * outstanding. Returns 0 with *rq filled (answer it, with rq->status when
 * that is not 0); -EPROTO when the message breaks the protocol (not a REQ,
 * a wrong size, a duplicate outstanding id, more than depth outstanding,
 * before HELLO): stop and close the channel. */
int vmsg_blk_server_parse(vmsg_blk_server *s, const struct vmsg_msg *m,
			  struct vmsg_blk_request *rq);

/* The reply to `id` has been sent (or will be: the caller has it queued):
 * it no longer counts as outstanding. -ENOENT if it was not. */
int vmsg_blk_server_done(vmsg_blk_server *s, uint64_t id);

/* Blocking convenience for simple servers: wait up to timeout_ms for
 * HELLO and answer it. Errors: -EPROTO, the channel's. */
int vmsg_blk_server_accept(vmsg_blk_server *s, vmsg_chan *c, int timeout_ms);

/* Send the reply to rq and mark it done. With status 0 for a READ, `msg`
 * holds VMSG_BLK_REPLY_HDR bytes of room (the helper writes the header
 * there) followed by the rq->h.length bytes read: one message without a
 * copy into a staging buffer, however large. Otherwise msg may be NULL.
 * Waits for room at most timeout_ms (a reply larger than one frame is
 * finished by the channel's next send with the same arguments after
 * -ETIMEDOUT; see vmsg_chan_send). Errors: the channel's. */
int vmsg_blk_server_reply(vmsg_blk_server *s, vmsg_chan *c,
			  const struct vmsg_blk_request *rq, int32_t status,
			  void *msg, int timeout_ms);

void vmsg_blk_server_fini(vmsg_blk_server *s);

#ifdef __cplusplus
}
#endif
#endif
