/* Output: every byte goes to I/O port 0xe9 (Xen prints it in its own log
 * as "(dN) ..." with guest_loglvl=all; a domU may not use console_io) and
 * to the PV console ring (xenconsoled: `xl console`, guest-NAME.log).
 *
 * The ring is ours to produce into (out_prod) and xenconsoled's to consume
 * (out_cons). When it is full we block on the console's event channel,
 * which xenconsoled signals after draining, with a short deadline so a
 * console daemon that is not there (no xenconsoled) costs milliseconds,
 * not the appliance.
 */
#include "guest_internal.h"

#include "vmsg_barrier.h"

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

static void write_bytes(const char *s, size_t n)
{
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

/* ---- printf ---------------------------------------------------------- */

struct out {
	char buf[128];
	size_t n;
};

static void emit(struct out *o, char ch)
{
	if (o->n == sizeof(o->buf)) {
		write_bytes(o->buf, o->n);
		o->n = 0;
	}
	o->buf[o->n++] = ch;
}

static void emit_num(struct out *o, uint64_t v, unsigned base, bool neg,
		     int width, char pad)
{
	char tmp[24];
	int n = 0;
	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (neg)
		tmp[n++] = '-';
	for (int i = n; i < width; i++)
		emit(o, pad);
	while (n)
		emit(o, tmp[--n]);
}

void guest_printf(const char *fmt, ...)
{
	struct out o = {.n = 0};
	__builtin_va_list ap;
	__builtin_va_start(ap, fmt);
	for (const char *f = fmt; *f; f++) {
		if (*f != '%') {
			emit(&o, *f);
			continue;
		}
		f++;
		char pad = ' ';
		int width = 0, lng = 0;
		if (*f == '0') {
			pad = '0';
			f++;
		}
		while (*f >= '0' && *f <= '9')
			width = width * 10 + (*f++ - '0');
		while (*f == 'l' || *f == 'z') {
			lng++;
			f++;
		}
		switch (*f) {
		case 'd':
		case 'i': {
			int64_t v = lng ? __builtin_va_arg(ap, int64_t)
					: __builtin_va_arg(ap, int);
			emit_num(&o, v < 0 ? (uint64_t)0 - (uint64_t)v
					   : (uint64_t)v,
				 10, v < 0, width, pad);
			break;
		}
		case 'u':
		case 'x': {
			uint64_t v = lng ? __builtin_va_arg(ap, uint64_t)
					 : __builtin_va_arg(ap, unsigned);
			emit_num(&o, v, *f == 'u' ? 10 : 16, false, width, pad);
			break;
		}
		case 'p':
			emit(&o, '0');
			emit(&o, 'x');
			emit_num(&o, (uintptr_t)__builtin_va_arg(ap, void *), 16,
				 false, width, pad);
			break;
		case 's': {
			const char *s = __builtin_va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			int len = 0;
			while (s[len])
				len++;
			for (int i = len; i < width; i++)
				emit(&o, ' ');
			while (*s)
				emit(&o, *s++);
			break;
		}
		case 'c':
			emit(&o, (char)__builtin_va_arg(ap, int));
			break;
		case '%':
			emit(&o, '%');
			break;
		default:
			if (!*f)
				goto done;
			emit(&o, '%');
			emit(&o, *f);
		}
	}
done:
	__builtin_va_end(ap);
	if (o.n)
		write_bytes(o.buf, o.n);
}
