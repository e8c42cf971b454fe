/* xensimd's private state: domains, connections (one per library handle),
 * grants, event-channel ports.  Single-threaded poll loop; nothing here is
 * locked. */
#ifndef XSIMD_H
#define XSIMD_H

#include "xsim_proto.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct xsimd_shm { /* one memfd shared by xengntshr_share_pages */
	int fd;
	int ro_fd; /* read-only reopen, for read-only grants (lazy) */
	uint32_t pages;
	unsigned char *map; /* daemon's own mapping, for unmap notify (lazy) */
	unsigned refs;
};

struct xsimd_notify { /* an unmap notification: clear a byte, send event */
	struct xsimd_shm *shm; /* NULL: no byte to clear */
	uint32_t offset;       /* byte offset in shm */
	uint32_t domid, port;  /* port in domid; port == XSIM_NO_NOTIFY: none */
};

struct xsimd_share {
	struct xsimd_share *next;
	uint32_t id, peer, count;
	uint32_t *refs;
	struct xsimd_shm *shm;
	struct xsimd_notify notify;
};

struct xsimd_map {
	struct xsimd_map *next;
	uint32_t id;
	struct xsimd_notify notify;
};

struct xsimd_conn {
	struct xsimd_conn *next;
	int fd;
	int kind;
	bool hello;
	bool stopper; /* sent XSIM_OP_STOP: closed last */
	uint32_t domid, id;
	pid_t pid;
	/* event channel handles */
	int evt_memfd, evt_sock;
	struct xsim_evt_slot *slots;
	/* grant handles */
	struct xsimd_share *shares;
	struct xsimd_map *maps;
};

struct xsimd_grant {
	struct xsimd_share *share; /* NULL: free slot */
	uint32_t peer;
	bool writable;
	uint32_t page; /* page index in share->shm */
};

enum { XSIMD_PORT_FREE = 0, XSIMD_PORT_UNBOUND, XSIMD_PORT_INTERDOMAIN };

struct xsimd_port {
	int state;
	uint32_t remote_dom, remote_port;
	struct xsimd_conn *owner; /* NULL while orphaned but held */
	uint32_t gen;
	unsigned holds; /* pending unmap notifications that will use it */
};

struct xsimd_domain {
	struct xsimd_domain *next;
	uint32_t domid;
	unsigned anchors;
	struct xsimd_grant *grants;
	uint32_t ngrants;
	struct xsimd_port ports[XSIM_EVT_PORTS];
};

struct xsimd {
	int listen_fd;
	struct xsimd_conn *conns;
	struct xsimd_domain *doms;
	uint32_t next_id, next_gen;
	bool stopping;
	struct xs_handle *xs; /* NULL: running without xenstore */
	pid_t xenstored_pid;
};

/* Domains (xsimd_dom.c). */
struct xsimd_domain *xsimd_dom_get(struct xsimd *d, uint32_t domid);
bool xsimd_dom_alive(struct xsimd *d, uint32_t domid);
int xsimd_dom_anchor(struct xsimd *d, uint32_t domid);
void xsimd_dom_release(struct xsimd *d, uint32_t domid, struct xsimd_conn *keep);
/* At exit, after every connection is gone: free every domain's state. */
void xsimd_dom_free_all(struct xsimd *d);
int xsimd_xenstore_start(struct xsimd *d, const char *dir);
void xsimd_xenstore_stop(struct xsimd *d);
void xsimd_conn_drop(struct xsimd *d, struct xsimd_conn *c);

/* Grants (xsimd_gnt.c). */
int xsimd_gnt_share(struct xsimd *d, struct xsimd_conn *c, struct xsim_msg *m,
		    uint32_t *vals, int *fds, unsigned nfds);
int xsimd_gnt_unshare(struct xsimd *d, struct xsimd_conn *c, uint32_t id);
int xsimd_gnt_map(struct xsimd *d, struct xsimd_conn *c, struct xsim_msg *m,
		  uint32_t *vals, int *rfds, unsigned *nrfds);
int xsimd_gnt_unmap(struct xsimd *d, struct xsimd_conn *c, uint32_t id);
void xsimd_gnt_conn_gone(struct xsimd *d, struct xsimd_conn *c);

/* Event channels (xsimd_evt.c). */
int xsimd_evt_unbound(struct xsimd *d, struct xsimd_conn *c, uint32_t remote);
int xsimd_evt_interdomain(struct xsimd *d, struct xsimd_conn *c,
			  uint32_t remote, uint32_t rport);
int xsimd_evt_unbind(struct xsimd *d, struct xsimd_conn *c, uint32_t port);
int xsimd_evt_peer(struct xsimd *d, struct xsimd_conn *c, struct xsim_msg *m,
		   int *rfds, unsigned *nrfds);
void xsimd_evt_conn_gone(struct xsimd *d, struct xsimd_conn *c);
/* Hold a port for a later unmap notification (Linux's evtchn_get). */
int xsimd_evt_hold(struct xsimd *d, uint32_t domid, uint32_t port);
/* Send the event (if still connected) and drop the hold. */
void xsimd_evt_fire_release(struct xsimd *d, uint32_t domid, uint32_t port);

void xsimd_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
