/* vmsg-bench: shared types. The harness (harness.c) runs every transport
 * through one function table (struct bench_transport); transports live in
 * tp_*.c and are listed in transports.c. */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hist.h"

enum bench_cmd { BENCH_PINGPONG, BENCH_STREAM, BENCH_SETUP };
#define BENCH_CMD_BIT(c) (1u << (c))

enum bench_wait { BENCH_WAIT_SPIN, BENCH_WAIT_BLOCK, BENCH_WAIT_ADAPTIVE };

/* Spin budget of --wait adaptive, and the one used as "forever" by spin. */
#define BENCH_ADAPTIVE_SPIN_NS 50000ull
#define BENCH_SPIN_FOREVER_NS 3600000000000ull
/* With batching on, a producer flushes (publishes, kicks) once every
 * BENCH_BATCH messages; byte-stream sockets coalesce up to BENCH_SOCKBUF. */
#define BENCH_BATCH 32u
#define BENCH_SOCKBUF (64u * 1024u)

/* One measurement: a transport, a subcommand and one point of the sweep. */
struct bench_params {
	enum bench_cmd cmd;
	enum bench_wait wait;
	bool batch;
	size_t size;         /* message bytes */
	uint32_t ring;       /* ring bytes (ring transports; pipe capacity) */
	uint64_t count;      /* measured operations; 0: run for duration_ns */
	uint64_t duration_ns;
	uint64_t warmup;     /* unmeasured operations first */
	int cpu[2];          /* per side; -1 not pinned */
};

/* What the parent prepares for both sides before it forks them. Plain data
 * (fds, paths, a port) survives exec, so a transport whose sides must run
 * under a wrapper (xensim run ...) can use it; `shm` cannot, and transports
 * that use it set BENCH_TP_NO_EXEC. */
struct bench_link {
	int fd[4];
	int port;
	char dir[96];
	char path[128];
	void *shm;
	size_t shm_len;
};

/* Transport flags. */
#define BENCH_TP_REF_SPIN 0x01u   /* the spin ping-pong reference */
#define BENCH_TP_REF_BLOCK 0x02u  /* the blocking ping-pong reference */
#define BENCH_TP_REF_STREAM 0x04u /* the streaming reference */
#define BENCH_TP_SPIN_ONLY 0x08u  /* ignores --wait: always busy-polls */
#define BENCH_TP_BLOCK_ONLY 0x10u /* ignores --wait: always sleeps */
#define BENCH_TP_NO_EXEC 0x20u    /* its link holds pointers */

/* Side 0 initiates (ping-pong client, stream producer, setup client); side
 * 1 responds (echo server, stream consumer, setup server). Every op returns
 * >= 0 or -errno. Optional ops may be NULL. */
struct bench_transport {
	const char *name;
	const char *what; /* one line for --help and the docs */
	unsigned cmds;    /* BENCH_CMD_BIT()s it supports */
	unsigned flags;
	/* Optional: NULL when usable here, else why not (the run skips it). */
	const char *(*unavailable)(void);
	/* Parent, before the sides exist: make what both inherit. */
	int (*prepare)(struct bench_link *l, const struct bench_params *p);
	/* Optional, side 1 of setup only: become connectable (publish) before
	 * the client's clock starts; *end is then passed to open(). */
	int (*listen)(struct bench_link *l, const struct bench_params *p,
		      void **end);
	/* In each side's process: establish the connection. */
	int (*open)(struct bench_link *l, int side, const struct bench_params *p,
		    void **end);
	/* One message. more: others follow at once (batching); the transport
	 * may hold it back until a send without more or flush(). */
	int (*send)(void *end, const void *buf, size_t len, bool more);
	int (*flush)(void *end);
	/* Exactly one message of len bytes into buf: returns len, or 0 at the
	 * peer's orderly close. */
	int (*recv)(void *end, void *buf, size_t len);
	void (*close)(void *end);
	/* Parent, after both sides have ended. */
	void (*cleanup)(struct bench_link *l);
	/* Optional: the sides run as `argv[0..r) vmsg-bench __side FD`, e.g.
	 * under "xensim run --domid N --". Returns the count r of argv set. */
	int (*wrap_side)(const struct bench_link *l, int side, const char **argv,
			 int max);
};

extern const struct bench_transport *const bench_transports[];
const struct bench_transport *bench_transport_find(const char *name);

/* What one side reports after a run. */
struct bench_side_result {
	int status; /* 0 or -errno */
	char err[120];
	uint64_t ops;        /* measured messages / round trips / setups */
	uint64_t bytes;      /* measured payload bytes */
	uint64_t elapsed_ns; /* wall time of the measured part */
	struct bench_hist hist; /* ping-pong / setup samples */
};

/* One run of one measurement, both sides. Returns 0 or -errno with a
 * message in err. r receives side 0's result for ping-pong and setup and
 * side 1's for stream (the measuring side). */
int bench_run(const struct bench_transport *t, const struct bench_params *p,
	      bool reexec, struct bench_side_result *r, char *err, size_t errsz);

/* The hidden `__side FD` entry point of a re-executed side. */
int bench_side_main(int argc, char **argv);

/* Helpers shared by transports. */
uint64_t bench_now_ns(void);
int bench_temp_dir(struct bench_link *l, const char *tag);
void bench_temp_drop(struct bench_link *l);

/* The simulated Xen (sim.c), for the transports that run on it: the
 * server (side 1) is dom0, the client (side 0) dom1. The first prepare()
 * of such a transport starts a private simulator (its own XENSIM_DIR,
 * inherited by the sides); it is stopped when vmsg-bench exits. */
#define BENCH_SIM_SERVER_DOM 0
#define BENCH_SIM_CLIENT_DOM 1
/* --xensim PATH; NULL: next to vmsg-bench (installed), then the build
 * tree's sim/bin/, then $PATH. */
void bench_sim_set_xensim(const char *path);
/* NULL when the simulator can be used, else why not. */
const char *bench_sim_unavailable(void);
/* Parent: start the simulator once, and give l a fresh xenstore path
 * (l->path) for one channel; tag names the transport. */
int bench_sim_prepare(struct bench_link *l, const char *tag);
/* `xensim run --domid DOMID --` into argv (up to max): the count set, 0
 * if it does not fit. For transports with domains of their own. */
int bench_sim_wrap_dom(int domid, const char **argv, int max);
/* The running simulator's XENSIM_DIR, NULL before bench_sim_prepare. */
const char *bench_sim_dir(void);
/* wrap_side for every sim transport: `xensim run --domid N --`. */
int bench_sim_wrap(const struct bench_link *l, int side, const char **argv,
		   int max);

/* Messages over a byte stream (bytes.c): a transport supplies "write
 * some" and "read some" (each waits as its --wait says; read returns 0 at
 * the peer's orderly close). With batching, sends are coalesced into
 * BENCH_SOCKBUF-byte writes and reads go through a buffer of that size,
 * as the byte-stream sockets do. */
struct bench_bytes {
	int (*write_some)(void *ctx, const void *buf, size_t len);
	int (*read_some)(void *ctx, void *buf, size_t len);
	void *ctx;
	bool batch;
	uint8_t *wbuf, *rbuf;
	size_t wlen, roff, rlen;
};
int bench_bytes_init(struct bench_bytes *b, bool batch);
void bench_bytes_free(struct bench_bytes *b);
int bench_bytes_send(struct bench_bytes *b, const void *buf, size_t len,
		     bool more);
int bench_bytes_flush(struct bench_bytes *b);
/* Exactly len bytes: returns len, 0 at a clean close before the first
 * byte, -EPIPE at a close inside the message. */
int bench_bytes_recv(struct bench_bytes *b, void *buf, size_t len);

#endif
