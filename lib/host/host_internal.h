/* Private to lib/host: the host platform's state and the split between
 * host_platform.c (memory, events, waiting, peer death) and
 * host_rendezvous.c (the UNIX socket: publish, lookup, the fd handshake).
 *
 * One struct vmsg_host_platform serves one channel end. The server owns the
 * memfd (the shared pages; a "grant reference" is a page index in it) and
 * both ends own one eventfd each (the event port). The connected socket
 * stays open for the channel's life only so that the kernel hangs it up
 * when a peer dies: that is our unmap notification.
 */
#ifndef VMSG_HOST_INTERNAL_H
#define VMSG_HOST_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <stddef.h>

#include <vmsg/platform.h>
#include <vmsg/ring.h>

#define HOST_PAGE 4096u
/* Upper bound on the memfd, far above what two 1 MiB rings need; keeps
 * page arithmetic in 32 bits and refuses a hostile size. */
#define HOST_MAX_PAGES (1u << 16)
/* Our port number: any nonzero value; there is one eventfd per end. */
#define HOST_PORT 1u
/* No notify byte was asked for. */
#define HOST_NO_NOTIFY 0xffffffffu

/* Wire format of the two handshake messages (same host, native endian).
 * Version 2: the client sends its hello right after connect, without
 * waiting for the server's, and its live byte is where the vchan page has
 * it (cli_live of the page at ring_ref), so the server's platform admits
 * the client (moves that byte from WAITING to UP itself) the moment it
 * reads the hello: the server's accept returns and its first message is
 * in the ring while the client is still mapping. Two hand-overs between
 * the processes instead of four (docs/protocol.md, "The host backend's
 * rendezvous").
 * server -> client, with SCM_RIGHTS [memfd, server eventfd]: */
#define HOST_MAGIC_SRV 0x53534d56u /* "VMSS" */
#define HOST_MAGIC_CLI 0x43534d56u /* "VMSC" */
/* server -> client instead of the handshake, without fds: "your uid is not
 * one I accept" (the rest of the struct is 0). */
#define HOST_MAGIC_DENY 0x44534d56u /* "VMSD" */
#define HOST_VERSION 2u
struct host_hello_srv {
	uint32_t magic;
	uint32_t version;
	uint32_t ring_ref;
	uint32_t port;
	uint32_t pages;       /* memfd size in pages when sent */
	uint32_t notify_page; /* where the server's live byte is, or */
	uint32_t notify_off;  /* HOST_NO_NOTIFY for both */
};
/* client -> server, with SCM_RIGHTS [client eventfd]: */
struct host_hello_cli {
	uint32_t magic;
	uint32_t version;
};
/* Where the client's live byte is: on the page at ring_ref. */
#define HOST_CLI_LIVE_OFF ((uint32_t)offsetof(struct vmsg_vchan_page, cli_live))

/* epoll tags */
enum { HOST_TAG_EVENT = 1, HOST_TAG_LISTEN = 2, HOST_TAG_CONN = 3 };

struct vmsg_host_platform {
	struct vmsg_platform base; /* first: the ops table */
	bool server;
	char path[108]; /* sizeof(sun_path) */
	/* The access rules (vmsg/host.h): the uid the peer must have
	 * (VMSG_HOST_ANY_UID: any), and the server's socket file mode. */
	uid_t peer_uid;
	mode_t mode;

	int epfd;      /* groups evfd, listen_fd, conn_fd */
	int evfd;      /* our event port */
	int peer_evfd; /* the peer's event port; -1 until known */
	int memfd;     /* the shared pages */
	uint32_t pages; /* memfd size in pages */

	/* Server: our own live byte (what the client clears when we die;
	 * the client's is at HOST_CLI_LIVE_OFF, by the protocol). */
	uint32_t notify_page, notify_off;

	/* Server: the rendezvous. */
	int listen_fd;
	dev_t listen_dev;
	ino_t listen_ino;
	uint32_t ring_ref, port;

	int conn_fd;   /* the connected socket; -1 before / after */
	bool peer_in;  /* server: hello received; client: lookup done */
	bool bound;    /* client: port_bind done */
	bool live_mapped; /* client: the page with our live byte is mapped */

	/* Where the peer's live byte is, cleared when the peer dies: written
	 * through the memfd (pwrite), so that it never depends on what the
	 * channel has mapped or unmapped, and costs no mapping to set up. */
	bool peer_live_known;
	uint32_t peer_live_page, peer_live_off;
	/* Server: a private mapping of the published page, made by publish
	 * (before any client), for admitting the client (a compare-and-swap
	 * of its live byte needs memory, not a pwrite). */
	uint8_t *admit_page;
	uint32_t admit_ref;
};

static inline struct vmsg_host_platform *vmsg__host_of(struct vmsg_platform *p)
{
	return (struct vmsg_host_platform *)p;
}

/* host_platform.c */
int vmsg__host_epoll_add(struct vmsg_host_platform *h, int fd, uint32_t tag,
			 uint32_t events);
void vmsg__host_epoll_del(struct vmsg_host_platform *h, int fd);
void vmsg__host_set_nonblock(int fd);
bool vmsg__host_is_eventfd(int fd);
/* Our event port: a new eventfd in our epoll set (edge-triggered). */
int vmsg__host_new_eventfd(struct vmsg_host_platform *h);

/* host_rendezvous.c */
int vmsg__host_publish(struct vmsg_platform *p, uint32_t ring_ref,
		       uint32_t port);
void vmsg__host_unpublish(struct vmsg_platform *p);
int vmsg__host_lookup(struct vmsg_platform *p, uint32_t *ring_ref,
		      uint32_t *port, int timeout_ms);
/* Server housekeeping: accept pending connections (the first becomes our
 * client and gets the handshake; any other is closed at once). 1 when the
 * client's hello came with it (the client is in), else 0. */
int vmsg__host_accept(struct vmsg_host_platform *h);
/* Server: try to read the client's hello without blocking. 1 when it was
 * received and stored and the client admitted (its live byte moved from
 * WAITING to UP, unless it did that itself), 0 when nothing is there yet, -errno when the
 * connection is dead or sent something invalid. */
int vmsg__host_recv_hello(struct vmsg_host_platform *h);

#endif
