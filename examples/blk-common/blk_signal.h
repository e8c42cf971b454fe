/* SIGTERM and SIGINT in the block appliances' Linux programs on the host
 * backend (vmsg-ramdisk, vmsg-overlay), taken as vmsg-blockd takes them:
 * blocked except while the program waits (ppoll with the mask it had), so
 * that one that comes while a request is carried out is seen at the next
 * wait, neither lost nor cutting the request short.
 *
 * A stop ends the program in order: the consumer's requests already in
 * the ring are answered (blk_wait.h: within BLK_STOP_GRACE_MS of the stop,
 * for a consumer that takes its replies), its channel is closed (the
 * consumer sees an orderly close, and lib/block fails what it sends later
 * with -EPIPE), the socket file goes with the channel, and the program
 * exits 0. Linux only: the unikernel builds have no signals. */
#ifndef BLK_SIGNAL_H
#define BLK_SIGNAL_H

#include <vmsg/chan.h>

#include "blk_wait.h"

/* Block SIGTERM and SIGINT and install their handler; ignore SIGPIPE.
 * Call once, before serving. */
void blk_signal_init(void);

/* The signal that asked us to stop, or 0; also one that came while the
 * program waited in no ppoll (before it serves: still blocked). */
int blk_signal_stopped(void);

/* A struct blk_wait for the cores: wait for channel c's fd or a stop
 * signal, as blk_wait.h says for `what` (after a stop, a wait for room
 * lasts until the grace is over). ctx is unused. */
int blk_signal_wait(void *ctx, vmsg_chan *c, enum blk_wait_for what);

#endif
