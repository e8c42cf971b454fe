/* A Promela model of vmsg's ring protocol: one ring's two indices, the
 * notify request bits with their re-check, the live bytes, orderly close
 * and peer death. Checked by tests/model/check.sh (ctest: model_ring).
 *
 * What is modelled: a writer W (vmsg_chan_write, lib/chan/chan_stream.c,
 * one byte per call) sends N numbered bytes through a ring of SIZE slots
 * and closes (vmsg_chan_close, lib/chan/chan.c); a reader R calls
 * vmsg_chan_read (chan_stream.c) until it gets -EPIPE. Both wait as
 * vmsg__wait (lib/chan/chan_wait.c) does, with no timeout (timeout_ms =
 * -1, the case where a lost wake-up would hang for ever), and no spin
 * phase (spinning only delays the same steps). Fate kills at most one
 * side at any step, and then does what the platform does for the
 * survivor: clears the dead side's live byte and wakes the survivor
 * (host: peer_hangup in lib/host/host_platform.c; Xen: the unmap
 * notification).
 *
 * One ring is enough: the other ring of the page is the same protocol
 * with the roles swapped, on separate indices, request bits and event;
 * a side's send and receive paths share nothing but its event, and a
 * spurious wake-up is harmless here (every sleep is followed by a
 * re-check of the ring). Each ring still exercises both directions of
 * notification: data (W kicks R, bit NOTIFY_WRITE in R's want byte) and
 * space (R kicks W, bit NOTIFY_READ in W's want byte).
 *
 * Memory model: spin interleaves steps sequentially consistently. The C
 * code gets that where it matters from its barriers (lib/ring/ring.c
 * names them): A1/A2 acquire loads of the peer's index, R1/R2 release
 * stores of our own, F1 (full barrier after setting a request bit,
 * vmsg_ring_request_notify) and F2 (full barrier between publishing an
 * index and reading the peer's bit, vmsg__kick_needed), and the
 * release/acquire pair on the live byte. Each statement below is one
 * shared-memory access (or one local step), in the order of the C.
 *
 * Properties (spin -a; pan in safety mode):
 *  - no lost wake-up / no deadlock: every run ends with both processes at
 *    their end; a side asleep for ever while the other has published
 *    (data or space) and gone on to finish or block is an invalid end
 *    state;
 *  - nothing sent before an orderly close is lost: R's -EPIPE comes only
 *    after it has received every byte W published (all N after an
 *    orderly close), in order (the assertions in R).
 *
 * Mutations (each must make spin find a counterexample; check.sh runs
 * them): MUT_KICK_EARLY has W read R's request bit before publishing
 * prod (a data kick lost), MUT_SPACE_KICK_EARLY has R read W's bit
 * before publishing cons (a space kick lost); MUT_NO_RECHECK sleeps right
 * after request_notify, without the caller's re-check of the ring;
 * MUT_GONE_FINAL takes the first sight of the peer's close as final (no
 * last look at the ring); MUT_CLOSE_NO_KICK drops close's unconditional
 * notify.
 */

#ifndef SIZE
#define SIZE 2	/* ring slots (bytes) */
#endif
#ifndef N
#define N 3	/* bytes W sends: more than SIZE, so W must wait for space */
#endif

#define NOTIFY_WRITE 1	/* VMSG_NOTIFY_WRITE (vmsg/ring.h) */
#define NOTIFY_READ 2	/* VMSG_NOTIFY_READ */
#define GONE 0		/* VMSG_LIVE_GONE */
#define UP 1		/* VMSG_LIVE_UP */

/* The shared page (struct vmsg_ring_shared and the page's bytes). */
byte prod;		/* tx.sh->prod of W = rx.sh->prod of R */
byte cons;		/* rx.sh->cons of R = tx.sh->cons of W */
byte buf[SIZE];		/* the ring's data */
byte want_w;		/* W's request byte (W: e->want, R: e->peer_want) */
byte want_r;		/* R's request byte */
byte live_w = UP;	/* W's live byte (W: e->live, R: e->peer_live) */
byte live_r = UP;

/* Each side's event (eventfd / event channel): pending until waited on. */
bool ev_w;
bool ev_r;

/* Fate's choice, and ghost state for the properties. */
bool dead_w;
bool dead_r;
bool w_closed;		/* W reached vmsg_chan_close normally */
bool w_asleep;		/* W is inside ops->wait */
bool r_asleep;
byte received;		/* bytes R has read */

/* vmsg__kick_needed(e, bit) + vmsg__kick (lib/internal/vmsg_ring_inline.h,
 * chan_wait.c): F2 is implied by the sequential order; a plain read of
 * the peer's byte, then the atomic fetch-and-clear only if the bit is
 * set; one request gets one kick (ops->notify sets the peer's event). */
inline kick_if_asked(peer_want, b, peer_ev)
{
	if
	:: (peer_want & b) != 0 ->		/* vmsg__read_once(e->peer_want) */
		atomic {			/* vmsg__fetch_and(peer_want, ~b) */
			kick = (peer_want & b) != 0;
			peer_want = peer_want & ~b
		};
		if
		:: kick -> peer_ev = true	/* vmsg__kick: ops->notify */
		:: else -> skip			/* kicks_suppressed */
		fi
	:: else -> skip
	fi
}

proctype Writer()
{
	byte seq;		/* next byte to send */
	byte peer;		/* e->tx.peer: cons as last read */
	bool armed;		/* w.armed of struct vmsg__wait */
	bool kick;

	{
	do
	:: seq < N ->
		armed = false;		/* vmsg__wait_init */
try_write:
		/* vmsg_ring_write (lib/ring/ring.c) -> vmsg__tx_space_min:
		 * the cached cons first, A2 only when it shows no space. */
		if
		:: SIZE - (prod - peer) >= 1 -> skip
		:: else -> peer = cons		/* A2: load_acquire(&tx.sh->cons) */
		fi;
		if
		:: SIZE - (prod - peer) >= 1 ->
			buf[prod % SIZE] = seq;	/* tx_copy_in */
#ifdef MUT_KICK_EARLY
			kick_if_asked(want_r, NOTIFY_WRITE, ev_r);
			prod = prod + 1;	/* R1 (moved after the check) */
#else
			prod = prod + 1;	/* R1: vmsg__tx_advance, store_release(prod) */
			/* chan_stream.c: vmsg__kick(c, vmsg_ring_kick_needed(&c->end, VMSG_NOTIFY_WRITE)) */
			kick_if_asked(want_r, NOTIFY_WRITE, ev_r);
#endif
			seq++
		:: else ->
			/* Full: vmsg__wait(c, &w, VMSG_NOTIFY_READ).
			 * vmsg__rx_announce: W has nothing to announce here.
			 * vmsg__peer_state: load_acquire(peer_live). */
			if
			:: live_r == GONE -> goto w_epipe	/* bit == READ: -EPIPE */
			:: else -> skip
			fi;
			if
			:: !armed ->
				/* vmsg_ring_request_notify: fetch_or, then F1 */
				atomic { want_w = want_w | NOTIFY_READ; armed = true };
#ifdef MUT_NO_RECHECK
				goto w_sleep;
#endif
				goto try_write		/* return 0: the caller re-checks */
			:: else ->
w_sleep:
				/* ops->wait: sleep until the event is pending (an
				 * end state: the monitor judges it) */
				w_asleep = true;
end_w_sleep:			atomic { ev_w -> ev_w = false; w_asleep = false };
				armed = false;		/* "ask again before the next sleep" */
				goto try_write
			fi
		fi
	:: seq < N -> goto w_idle	/* the application stops sending, for ever */
	:: else -> break
	od;
	/* vmsg_chan_close (lib/chan/chan.c): nothing pending to commit, no
	 * rx space to announce; store_release(live, GONE), then an
	 * unconditional notify. */
	w_closed = true;
	live_w = GONE;
#ifndef MUT_CLOSE_NO_KICK
	ev_r = true;
#endif
w_epipe:
w_idle:
	skip
	} unless { dead_w }
}

proctype Reader()
{
	byte peer;		/* e->rx.peer: prod as last read */
	byte got;
	bool armed;
	bool kick;
	bool peer_gone;		/* c->peer_gone */
	bool was_gone;

	{
	do
	:: goto r_idle		/* the application stops reading, for ever */
	:: armed = false;	/* a new vmsg_chan_read call: vmsg__wait_init */
try_read:
		/* vmsg_ring_read -> vmsg__rx_ready_min: the cached prod
		 * first, A1 only when it shows nothing. */
		if
		:: peer - cons >= 1 -> skip
		:: else -> peer = prod		/* A1: load_acquire(&rx.sh->prod) */
		fi;
		if
		:: peer - cons >= 1 ->
			got = buf[cons % SIZE];	/* rx_copy_out */
			assert(got == received);	/* in order, none lost */
			received++;
#ifdef MUT_SPACE_KICK_EARLY
			kick_if_asked(want_w, NOTIFY_READ, ev_w);
			cons = cons + 1		/* R2 (moved after the check) */
#else
			cons = cons + 1;	/* R2: vmsg__rx_advance, store_release(cons) */
			/* chan_stream.c: vmsg__kick(c, vmsg_ring_kick_needed(&c->end, VMSG_NOTIFY_READ)) */
			kick_if_asked(want_w, NOTIFY_READ, ev_w)
#endif
		:: else ->
			/* Empty: vmsg__wait(c, &w, VMSG_NOTIFY_WRITE). */
			was_gone = peer_gone;
			if
			:: live_w == GONE ->	/* vmsg__peer_state: acquire(peer_live) */
				peer_gone = true;
#ifdef MUT_GONE_FINAL
				goto r_epipe;
#endif
				if
				:: was_gone -> goto r_epipe	/* -EPIPE */
				:: else -> goto try_read	/* return 0: one more look */
				fi
			:: else -> skip
			fi;
			if
			:: !armed ->
				atomic { want_r = want_r | NOTIFY_WRITE; armed = true };
#ifdef MUT_NO_RECHECK
				goto r_sleep;
#endif
				goto try_read
			:: else ->
r_sleep:
				r_asleep = true;
end_r_sleep:			atomic { ev_r -> ev_r = false; r_asleep = false };
				armed = false;
				goto try_read
			fi
		fi
	od;
r_epipe:
	/* Everything W published is delivered, all N after an orderly close. */
	assert(received == prod);
	assert(!w_closed || received == N);
r_idle:
	skip
	} unless { dead_r }
}

/* At most one side dies, at any point; the platform then clears its live
 * byte (release: its ring writes are all visible first) and wakes the
 * survivor. */
proctype Fate()
{
	if
	:: skip
	:: dead_w = true; live_w = GONE; ev_r = true
	:: dead_r = true; live_r = GONE; ev_w = true
	fi
}

/* No lost wake-up: when nothing can move any more (spin's timeout), no
 * live side sleeps while what it waits for is there: data or the peer's
 * close for R, space or the peer's close for W. */
active proctype Monitor()
{
end_monitor:
	timeout ->
	assert(!(r_asleep && !dead_r && (prod != cons || live_w == GONE)));
	assert(!(w_asleep && !dead_w && (SIZE - (prod - cons) >= 1 || live_r == GONE)))
}

init
{
	atomic {
		run Writer();
		run Reader();
		run Fate()
	}
}
