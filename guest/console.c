/* Output goes to the PV console ring (xenconsoled: `xl console`,
 * guest-NAME.log). Before the ring is known, and once the unikernel is
 * crashing (guest__console_panic), every byte also goes to I/O port 0xe9:
 * Xen prints it in its own log as "(dN) ..." with guest_loglvl=all (a domU
 * may not use console_io). Not always: each OUT is a VM exit that Xen must
 * emulate, a byte at a time, and QEMU's emulated SVM (tests/xen) gets an
 * intercepted exit wrong now and then; a line a message was thousands of
 * exits per run.
 *
 * The ring is ours to produce into (out_prod) and xenconsoled's to consume
 * (out_cons). When it is full we block on the console's event channel,
 * which xenconsoled signals after draining, with a short deadline so a
 * console daemon that is not there (no xenconsoled) costs milliseconds,
 * not the appliance.
 */
#include "guest_internal.h"

#include "vmsg_barrier.h"
#include "vmsg_fmt.h"

#define CONS_OUT_SIZE 2048u
#define CONS_MASK(i) ((i) & (CONS_OUT_SIZE - 1))
/* How long a full ring may keep us before we drop output. */
#define CONS_STALL_NS 200000000ull

void guest__console_init(void)
{
	uint64_t pfn = 0, port = 0;
	if (guest__hvm_param(XEN_HVM_PARAM_CONSOLE_PFN, &pfn) < 0 || !pfn)
		return;
	if (guest__hvm_param(XEN_HVM_PARAM_CONSOLE_EVTCHN, &port) < 0)
		return;
	guest__m.cons_port = (uint32_t)port;
	guest__m.cons = (struct xen_cons_ring *)(uintptr_t)(pfn << XEN_PAGE_SHIFT);
}

static void outb_e9(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		__asm__ __volatile__("outb %0, $0xe9" ::"a"(s[i]));
}

static void ring_write(const char *s, size_t n)
{
	struct xen_cons_ring *c = guest__m.cons;
	uint64_t give_up = 0;

	while (n) {
		/* Acquire: xenconsoled has read what out_cons covers. */
		uint32_t cons = vmsg__load_acquire(&c->out_cons);
		uint32_t prod = c->out_prod;
		uint32_t used = prod - cons;
		if (used >= CONS_OUT_SIZE) {
			if (used > CONS_OUT_SIZE)
				return; /* nonsense from the other side */
			if (!guest__m.shared)
				return; /* too early to block: drop */
			uint64_t now = guest__now_ns();
			if (!give_up)
				give_up = now + CONS_STALL_NS;
			if (now >= give_up)
				return;
			guest__evtchn_send(guest__m.cons_port);
			guest__evtchn_wait(guest__m.cons_port, give_up);
			continue;
		}
		uint32_t k = CONS_OUT_SIZE - used;
		if (k > n)
			k = (uint32_t)n;
		for (uint32_t i = 0; i < k; i++)
			c->out[CONS_MASK(prod + i)] = s[i];
		/* Release: the bytes before the index. */
		vmsg__store_release(&c->out_prod, prod + k);
		s += k;
		n -= k;
	}
	guest__evtchn_send(guest__m.cons_port);
}

static bool panicking;

void guest__console_panic(void)
{
	panicking = true;
}

static void write_bytes(const char *s, size_t n)
{
	if (!guest__m.cons || panicking)
		outb_e9(s, n);
	if (guest__m.cons)
		ring_write(s, n);
}

void guest_puts(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	write_bytes(s, n);
}

void guest__console_flush(void)
{
	struct xen_cons_ring *c = guest__m.cons;
	if (!c || !guest__m.shared)
		return;
	uint64_t until = guest__now_ns() + 2000000000ull;
	while (vmsg__load_acquire(&c->out_cons) != c->out_prod &&
	       guest__now_ns() < until) {
		guest__evtchn_send(guest__m.cons_port);
		guest__evtchn_wait(guest__m.cons_port,
				   guest__now_ns() + 20000000ull);
	}
}

/* ---- printf: lib/util/fmt.c's formatter, in pieces of up to 128 bytes. */

struct out {
	char buf[128];
	size_t n;
};

static void emit(void *ctx, const char *s, size_t n)
{
	struct out *o = ctx;
	for (size_t i = 0; i < n; i++) {
		if (o->n == sizeof(o->buf)) {
			write_bytes(o->buf, o->n);
			o->n = 0;
		}
		o->buf[o->n++] = s[i];
	}
}

void guest_printf(const char *fmt, ...)
{
	struct out o = {.n = 0};
	va_list ap;
	va_start(ap, fmt);
	vmsg__vformat(emit, &o, fmt, ap);
	va_end(ap);
	if (o.n)
		write_bytes(o.buf, o.n);
}
