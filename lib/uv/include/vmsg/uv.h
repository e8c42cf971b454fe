/* vmsg/uv.h - a vmsg channel on a libuv loop (libvmsg-uv; pkg-config
 * vmsg-uv, CMake vmsg::vmsg_uv).
 *
 * vmsg_chan_fd() documents a rule every event-loop user must follow: after
 * the fd polls readable, ack the event, then make non-blocking calls until
 * one says -EAGAIN (which asks the peer for the next kick), and never
 * drain a hostile peer without a budget. This adapter follows it for the
 * caller and turns the channel into callbacks:
 *
 *   connected  a server end's client arrived (the adapter accepted it);
 *   message    the message at the head of the receive ring;
 *   writable   the send ring may have room again (after vmsg_uv_want_writable);
 *   dropped    a message was lost (-EMSGSIZE: over max_msg), the channel
 *              goes on;
 *   closed     the channel ended: -EPIPE (the peer closed and everything
 *              it sent has been delivered), -EPROTO (it broke the
 *              protocol), or another error of the channel.
 *
 * Messages are delivered from the ring without a copy: `message` gets the
 * vmsg_chan_peek() view, valid during the call. The callback consumes it
 * with vmsg_chan_release() (after using m->data), vmsg_chan_recv() or
 * vmsg_proto_recv(), and is then given the next one. A callback that
 * returns WITHOUT consuming it pauses delivery (backpressure: say, its
 * destination is full); vmsg_uv_resume() delivers it again later. The
 * peer's data stays in shared memory it may still write: copy what you
 * parse (vmsg_proto_recv does).
 *
 * At most `budget` messages are delivered per loop iteration
 * (vmsg_uv_set_budget; default VMSG_UV_BUDGET): the rest follow on the
 * next iteration (a uv_idle handle), after the loop's other I/O, so one
 * busy or hostile peer cannot starve the loop's other handles.
 *
 * The adapter never closes the channel: after vmsg_uv_close()'s callback
 * the caller may vmsg_chan_close() it, or vmsg_chan_reopen() a server end
 * and start a new adapter on it. Callbacks may call any vmsg_uv_* function
 * of their own adapter, vmsg_uv_close() included. One thread: the loop's.
 *
 * Error contract as in the rest of vmsg: >= 0 success, negative errno.
 */
#ifndef VMSG_UV_H
#define VMSG_UV_H

#include <vmsg/chan.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMSG_UV_BUDGET 64u /* messages per loop iteration, by default */

typedef struct vmsg_uv vmsg_uv;
/* libuv's uv_loop_t, without <uv.h> here (it does not compile under a
 * strict -std=c11: the callers include it as they build it). */
struct uv_loop_s;

struct vmsg_uv_callbacks {
	void (*connected)(vmsg_uv *u);                      /* may be NULL */
	void (*message)(vmsg_uv *u, const struct vmsg_msg *m); /* required */
	void (*writable)(vmsg_uv *u);                       /* may be NULL */
	void (*dropped)(vmsg_uv *u, int err);               /* may be NULL */
	void (*closed)(vmsg_uv *u, int err);                /* required */
};

/* Watch channel `c` (open, or a server end still waiting for its client)
 * on `loop`. `cb` is copied; `data` is the caller's (vmsg_uv_data). The
 * first look happens on the loop's next iteration (what is already in the
 * ring is delivered without a new kick). Errors: -EINVAL (NULL argument
 * or callback), -ENOTSUP (the channel has no fd), -ENOMEM, and libuv's
 * (as negative errno). */
int vmsg_uv_start(vmsg_uv **out, struct uv_loop_s *loop, vmsg_chan *c,
		  const struct vmsg_uv_callbacks *cb, void *data);

/* Messages per loop iteration, >= 1. Returns 0 or -EINVAL. */
int vmsg_uv_set_budget(vmsg_uv *u, unsigned budget);

/* Call `writable` at the next wake-up of the channel: call it after a send
 * returned -EAGAIN (which asked the peer to kick when it frees space).
 * The callback may come when the room is still short (another writer, a
 * larger message): try again and ask again. */
void vmsg_uv_want_writable(vmsg_uv *u);

/* Deliver again after a `message` callback paused (left its message
 * unconsumed); on the loop's next iteration. */
void vmsg_uv_resume(vmsg_uv *u);

vmsg_chan *vmsg_uv_chan(vmsg_uv *u);
void *vmsg_uv_data(vmsg_uv *u);

/* Stop watching: no callback of `u` runs after this returns, except
 * `done` (may be NULL), once libuv has closed the adapter's handles; `u`
 * is freed after `done` returns. The channel stays open. */
void vmsg_uv_close(vmsg_uv *u, void (*done)(vmsg_uv *u));

#ifdef __cplusplus
}
#endif
#endif
