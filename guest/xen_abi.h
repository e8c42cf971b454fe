/* Private to guest/: the parts of Xen's public ABI the unikernel uses, for
 * x86-64 PVH guests. Values and layouts are those of Xen's public headers
 * (xen.h, sched.h, event_channel.h, grant_table.h, memory.h, hvm/params.h,
 * hvm/start_info.h, io/xs_wire.h, io/console.h); the names are ours. Each
 * struct's size is checked where the ABI fixes it.
 */
#ifndef GUEST_XEN_ABI_H
#define GUEST_XEN_ABI_H

#include <stdint.h>

#define XEN_PAGE_SHIFT 12
#define XEN_PAGE_SIZE 4096u
#define XEN_DOMID_SELF 0x7ff0u

/* Hypercall numbers (entry nr * 32 of the hypercall page). */
#define XEN_HC_memory_op 12
#define XEN_HC_console_io 18
#define XEN_HC_grant_table_op 20
#define XEN_HC_sched_op 29
#define XEN_HC_event_channel_op 32
#define XEN_HC_hvm_op 34

/* ---- sched_op */
#define XEN_SCHEDOP_yield 0
#define XEN_SCHEDOP_shutdown 2
#define XEN_SCHEDOP_poll 3
#define XEN_SHUTDOWN_poweroff 0
#define XEN_SHUTDOWN_crash 3

struct xen_sched_shutdown {
	uint32_t reason;
};

struct xen_sched_poll {
	uint32_t *ports;  /* guest handle: a pointer on x86-64 */
	uint32_t nr_ports;
	uint32_t pad;
	uint64_t timeout; /* absolute Xen system time in ns; 0: none */
};
_Static_assert(sizeof(struct xen_sched_poll) == 24, "sched_poll");

/* ---- event_channel_op */
#define XEN_EVTCHNOP_bind_interdomain 0
#define XEN_EVTCHNOP_close 3
#define XEN_EVTCHNOP_send 4
#define XEN_EVTCHNOP_alloc_unbound 6

struct xen_evtchn_alloc_unbound {
	uint16_t dom, remote_dom;
	uint32_t port; /* out */
};

struct xen_evtchn_bind_interdomain {
	uint16_t remote_dom;
	uint16_t pad;
	uint32_t remote_port;
	uint32_t local_port; /* out */
};

struct xen_evtchn_port {
	uint32_t port; /* close, send */
};

#define XEN_EVTCHNOP_status 5
#define XEN_EVTCHNSTAT_interdomain 2
struct xen_evtchn_status {
	uint16_t dom;    /* DOMID_SELF */
	uint16_t pad;
	uint32_t port;
	uint32_t status; /* out: XEN_EVTCHNSTAT_* */
	uint32_t vcpu;   /* out */
	uint32_t u[2];   /* out: the other end, unused here */
};

/* ---- grant_table_op, grant table v1 */
#define XEN_GNTTABOP_map_grant_ref 0
#define XEN_GNTTABOP_unmap_grant_ref 1
#define XEN_GNTTABOP_query_size 6
#define XEN_GNTMAP_host_map 2u
#define XEN_GTF_permit_access 1u
#define XEN_GTF_readonly 4u
#define XEN_GTF_reading 8u
#define XEN_GTF_writing 16u
/* Refs 0..7 are the toolstack's (console, xenstore). */
#define XEN_GNTTAB_RESERVED 8u

struct xen_grant_entry_v1 {
	uint16_t flags;
	uint16_t domid;
	uint32_t frame;
};
_Static_assert(sizeof(struct xen_grant_entry_v1) == 8, "grant_entry_v1");

struct xen_gnttab_map {
	uint64_t host_addr; /* PVH/HVM: a guest-physical address */
	uint32_t flags;
	uint32_t ref;
	uint16_t dom;
	int16_t status;     /* out */
	uint32_t handle;    /* out */
	uint64_t dev_bus_addr;
};
_Static_assert(sizeof(struct xen_gnttab_map) == 32, "gnttab_map_grant_ref");

struct xen_gnttab_unmap {
	uint64_t host_addr;
	uint64_t dev_bus_addr;
	uint32_t handle;
	int16_t status; /* out */
	uint16_t pad;
};
_Static_assert(sizeof(struct xen_gnttab_unmap) == 24, "gnttab_unmap_grant_ref");

struct xen_gnttab_query_size {
	uint16_t dom;
	uint16_t pad;
	uint32_t nr_frames;     /* out */
	uint32_t max_nr_frames; /* out */
	int16_t status;         /* out */
	uint16_t pad2;
};

/* ---- memory_op */
#define XEN_XENMEM_add_to_physmap 7
#define XEN_MAPSPACE_shared_info 0
#define XEN_MAPSPACE_grant_table 1

struct xen_add_to_physmap {
	uint16_t domid;
	uint16_t size;
	uint32_t space;
	uint64_t idx;
	uint64_t gpfn;
};
_Static_assert(sizeof(struct xen_add_to_physmap) == 24, "add_to_physmap");

/* ---- hvm_op */
#define XEN_HVMOP_get_param 1
#define XEN_HVM_PARAM_STORE_PFN 1
#define XEN_HVM_PARAM_STORE_EVTCHN 2
#define XEN_HVM_PARAM_CONSOLE_PFN 17
#define XEN_HVM_PARAM_CONSOLE_EVTCHN 18

struct xen_hvm_param {
	uint16_t domid;
	uint16_t pad;
	uint32_t index;
	uint64_t value;
};

/* ---- shared_info (x86-64): 32 vcpu_info of 64 bytes, then the 2-level
 * event channel bitmaps. */
struct xen_vcpu_time_info {
	uint32_t version; /* odd while Xen updates the record */
	uint32_t pad0;
	uint64_t tsc_timestamp;
	uint64_t system_time;
	uint32_t tsc_to_system_mul;
	int8_t tsc_shift;
	int8_t flags;
	uint8_t pad1[2];
};
_Static_assert(sizeof(struct xen_vcpu_time_info) == 32, "vcpu_time_info");

struct xen_vcpu_info {
	uint8_t upcall_pending;
	uint8_t upcall_mask;
	uint8_t pad[6];
	uint64_t pending_sel;
	uint64_t arch_cr2;
	uint64_t arch_pad;
	struct xen_vcpu_time_info time;
};
_Static_assert(sizeof(struct xen_vcpu_info) == 64, "vcpu_info");

struct xen_shared_info {
	struct xen_vcpu_info vcpu_info[32];
	uint64_t evtchn_pending[64];
	uint64_t evtchn_mask[64];
	/* wallclock and arch fields follow; unused */
};

/* ---- hvm_start_info (PVH boot), version >= 1 */
#define XEN_HVM_START_MAGIC 0x336ec578u
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define XEN_MEMMAP_RAM 1u

struct xen_hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;   /* version >= 1 */
	uint32_t memmap_entries; /* version >= 1 */
	uint32_t reserved;
};

struct xen_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

/* ---- io/console.h */
struct xen_cons_ring {
	char in[1024];
	char out[2048];
	uint32_t in_cons, in_prod;
	uint32_t out_cons, out_prod;
};

/* ---- io/xs_wire.h */
#define XS_RING_SIZE 1024u
#define XS_PAYLOAD_MAX 4096u

enum xs_msg_type {
	XS_DIRECTORY = 1,
	XS_READ = 2,
	XS_WATCH = 4,
	XS_UNWATCH = 5,
	XS_TRANSACTION_START = 6,
	XS_TRANSACTION_END = 7,
	XS_WRITE = 11,
	XS_MKDIR = 12,
	XS_RM = 13,
	XS_SET_PERMS = 14,
	XS_WATCH_EVENT = 15,
	XS_ERROR = 16,
};

struct xs_msg_hdr {
	uint32_t type;
	uint32_t req_id;
	uint32_t tx_id;
	uint32_t len; /* payload bytes that follow */
};

struct xs_ring_intf {
	char req[XS_RING_SIZE];
	char rsp[XS_RING_SIZE];
	uint32_t req_cons, req_prod;
	uint32_t rsp_cons, rsp_prod;
};

#endif
