/* failalloc: an LD_PRELOAD library that fails the Nth allocation made by
 * vmsg code, and reports at exit what vmsg code allocated and never freed.
 *
 * It interposes malloc, calloc, realloc, reallocarray, aligned_alloc,
 * posix_memalign, memalign, strdup, strndup and free, and forwards every
 * call to glibc's exported __libc_* functions (strdup and strndup become a
 * __libc_malloc plus a copy). A call is "vmsg's" when its return address
 * lies in an executable segment of the main program (the tests and vmsgd
 * link vmsg statically) or of a loaded libvmsg.so: allocations that glibc,
 * libuv, libxenstore, protobuf-c or jansson make for themselves, even on
 * vmsg's behalf, are neither counted nor failed (their callers cannot be
 * told apart from their own bookkeeping, and their failures are theirs to
 * handle). Environment:
 *
 *   FAILALLOC_N=K        fail the Kth vmsg allocation (1-based) of each
 *                        process, once, with errno ENOMEM; 0 or unset:
 *                        count only
 *   FAILALLOC_PROG=NAME  be active only in processes whose executable's
 *                        base name is NAME (so that `xensim run` and
 *                        shells between the driver and the program are
 *                        not counted); unset: every process
 *   FAILALLOC_REPORT=F   append one line per process at normal exit
 *                        (exit() or return from main; _exit skips it):
 *                          failalloc: pid P prog NAME calls C injected I live L
 *                        then one "failalloc: live ..." line per vmsg
 *                        allocation still live (its caller as
 *                        object+offset, for addr2line, and its size),
 *                        after "failalloc: injected at OBJECT+OFFSET"
 *                        when a failure was injected. The failure
 *                        itself appends "failalloc: injecting call N
 *                        in pid P" as it happens.
 *                        Unset: stderr.
 *
 * A forked child keeps its parent's count (the fork copies it), and
 * counts on from there. Threads share the count under a lock. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

#define MAX_RANGES 16
#define TABLE_BITS 16 /* live vmsg allocations tracked: 64 Ki slots */
#define TABLE_SIZE (1u << TABLE_BITS)
#define TOMB ((void *)1)

struct range {
	uintptr_t lo, hi;
};

struct live {
	void *p;
	void *caller;
	size_t size;
};

static struct range ranges[MAX_RANGES];
static unsigned nranges;
static int active;         /* set by the constructor when configured */
static unsigned long fail_at; /* FAILALLOC_N */
static unsigned long calls;   /* vmsg allocations seen */
static unsigned long injected;
static void *injected_at;     /* the failed call's return address */
static unsigned long nlive;
static int overflow;          /* the table filled up: live count unknown */
static struct live *table;    /* mmap-ed, so that it is not itself a malloc */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static __thread int inside;   /* dladdr etc. may allocate: do not recurse */

static int add_range(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	int *first = data;
	int take = *first || strstr(info->dlpi_name, "libvmsg.so") != NULL;
	*first = 0;
	if (!take)
		return 0;
	for (int i = 0; i < info->dlpi_phnum && nranges < MAX_RANGES; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		ranges[nranges].lo = info->dlpi_addr + ph->p_vaddr;
		ranges[nranges].hi = ranges[nranges].lo + ph->p_memsz;
		nranges++;
	}
	return 0;
}

static const char *prog_name(void)
{
	static char name[256];
	if (name[0])
		return name;
	ssize_t n = readlink("/proc/self/exe", name, sizeof name - 1);
	if (n <= 0) {
		strcpy(name, "?");
		return name;
	}
	name[n] = '\0';
	char *slash = strrchr(name, '/');
	if (slash)
		memmove(name, slash + 1, strlen(slash + 1) + 1);
	return name;
}

__attribute__((constructor)) static void failalloc_init(void)
{
	const char *want = getenv("FAILALLOC_PROG");
	if (want && strcmp(want, prog_name()) != 0)
		return;
	const char *n = getenv("FAILALLOC_N");
	fail_at = n ? strtoul(n, NULL, 10) : 0;
	table = mmap(NULL, TABLE_SIZE * sizeof *table, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (table == MAP_FAILED)
		return;
	int first = 1; /* dl_iterate_phdr lists the main program first */
	dl_iterate_phdr(add_range, &first);
	active = 1;
}

static int is_vmsg(void *caller)
{
	uintptr_t a = (uintptr_t)caller;
	if (!active || inside)
		return 0;
	for (unsigned i = 0; i < nranges; i++)
		if (a >= ranges[i].lo && a < ranges[i].hi)
			return 1;
	return 0;
}

static size_t slot_of(const void *p)
{
	uintptr_t h = (uintptr_t)p;
	h ^= h >> 17;
	h *= 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> (64 - TABLE_BITS));
}

/* Called with the lock held. */
static void track(void *p, void *caller, size_t size)
{
	size_t i = slot_of(p);
	for (unsigned n = 0; n < TABLE_SIZE; n++, i = (i + 1) & (TABLE_SIZE - 1)) {
		if (table[i].p == NULL || table[i].p == TOMB) {
			table[i] = (struct live){ p, caller, size };
			nlive++;
			return;
		}
	}
	overflow = 1;
}

/* Called with the lock held; 1 if p was a tracked allocation. */
static int untrack(void *p)
{
	size_t i = slot_of(p);
	for (unsigned n = 0; n < TABLE_SIZE; n++, i = (i + 1) & (TABLE_SIZE - 1)) {
		if (table[i].p == NULL)
			return 0;
		if (table[i].p == p) {
			table[i].p = TOMB;
			nlive--;
			return 1;
		}
	}
	return 0;
}

/* Says at once, in the report, that the failure is being injected: a
 * driver watching a daemon learns which of its steps came after it. */
static void announce(unsigned long n)
{
	const char *path = getenv("FAILALLOC_REPORT");
	if (!path)
		return;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	char line[128];
	int len = snprintf(line, sizeof line,
			   "failalloc: injecting call %lu in pid %d\n", n,
			   (int)getpid());
	if (write(fd, line, (size_t)len) < 0) {
		/* nothing to do: the exit report says it again */
	}
	close(fd);
}

/* Counts a vmsg allocation; 1 if this one must fail. */
static int count_and_decide(void *caller)
{
	pthread_mutex_lock(&lock);
	int fail = ++calls == fail_at;
	if (fail) {
		injected++;
		injected_at = caller;
	}
	pthread_mutex_unlock(&lock);
	if (fail) {
		inside++; /* getenv, open: no allocation counted meanwhile */
		announce(fail_at);
		inside--;
	}
	return fail;
}

static void *note(void *p, void *caller, size_t size)
{
	if (p) {
		pthread_mutex_lock(&lock);
		track(p, caller, size);
		pthread_mutex_unlock(&lock);
	}
	return p;
}

void *malloc(size_t size)
{
	void *caller = __builtin_return_address(0);
	if (!is_vmsg(caller))
		return __libc_malloc(size);
	if (count_and_decide(caller)) {
		errno = ENOMEM;
		return NULL;
	}
	return note(__libc_malloc(size), caller, size);
}

void *calloc(size_t n, size_t size)
{
	void *caller = __builtin_return_address(0);
	if (!is_vmsg(caller))
		return __libc_calloc(n, size);
	if (count_and_decide(caller)) {
		errno = ENOMEM;
		return NULL;
	}
	return note(__libc_calloc(n, size), caller, n * size);
}

static void *do_realloc(void *old, size_t size, void *caller)
{
	int mine = is_vmsg(caller);
	if (mine && count_and_decide(caller)) {
		errno = ENOMEM;
		return NULL; /* old stays valid, as realloc promises */
	}
	if (!active)
		return __libc_realloc(old, size);
	void *p = __libc_realloc(old, size);
	if (p == NULL && size != 0)
		return NULL;
	pthread_mutex_lock(&lock);
	int was = old && untrack(old);
	if (p && (mine || was))
		track(p, caller, size);
	pthread_mutex_unlock(&lock);
	return p;
}

void *realloc(void *old, size_t size)
{
	return do_realloc(old, size, __builtin_return_address(0));
}

void *reallocarray(void *old, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size) {
		errno = ENOMEM;
		return NULL;
	}
	return do_realloc(old, n * size, __builtin_return_address(0));
}

static void *do_memalign(size_t align, size_t size, void *caller)
{
	if (!is_vmsg(caller))
		return __libc_memalign(align, size);
	if (count_and_decide(caller)) {
		errno = ENOMEM;
		return NULL;
	}
	return note(__libc_memalign(align, size), caller, size);
}

void *memalign(size_t align, size_t size)
{
	return do_memalign(align, size, __builtin_return_address(0));
}

void *aligned_alloc(size_t align, size_t size)
{
	return do_memalign(align, size, __builtin_return_address(0));
}

int posix_memalign(void **out, size_t align, size_t size)
{
	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	void *p = do_memalign(align, size, __builtin_return_address(0));
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

static char *dup_n(const char *s, size_t n, void *caller)
{
	size_t len = strnlen(s, n);
	char *p;
	if (is_vmsg(caller)) {
		if (count_and_decide(caller)) {
			errno = ENOMEM;
			return NULL;
		}
		p = note(__libc_malloc(len + 1), caller, len + 1);
	} else {
		p = __libc_malloc(len + 1);
	}
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

char *strdup(const char *s)
{
	return dup_n(s, SIZE_MAX, __builtin_return_address(0));
}

char *strndup(const char *s, size_t n)
{
	return dup_n(s, n, __builtin_return_address(0));
}

void free(void *p)
{
	if (p && active) {
		pthread_mutex_lock(&lock);
		untrack(p);
		pthread_mutex_unlock(&lock);
	}
	__libc_free(p);
}

/* "OBJECT+0xOFFSET (SYMBOL)" for addr2line -e OBJECT OFFSET. */
static void where(char *buf, size_t cap, void *addr)
{
	Dl_info di;
	const char *obj = "?", *sym = "?";
	uintptr_t off = (uintptr_t)addr;
	if (dladdr(addr, &di)) {
		obj = di.dli_fname && di.dli_fname[0] ? di.dli_fname : "main";
		sym = di.dli_sname ? di.dli_sname : "?";
		off -= (uintptr_t)di.dli_fbase;
	}
	snprintf(buf, cap, "%s+0x%lx (%s)", obj, (unsigned long)off, sym);
}

/* The report: plain write(2)s into a stack buffer, no stdio (whose buffers
 * may already be gone at this point of exit). */
__attribute__((destructor)) static void failalloc_report(void)
{
	if (!active)
		return;
	inside = 1;
	const char *path = getenv("FAILALLOC_REPORT");
	int fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644)
		      : dup(2);
	if (fd < 0)
		return;
	char line[512];
	pthread_mutex_lock(&lock);
	int n = snprintf(line, sizeof line,
			 "failalloc: pid %d prog %s calls %lu injected %lu live %lu%s\n",
			 (int)getpid(), prog_name(), calls, injected, nlive,
			 overflow ? " (table overflow)" : "");
	if (write(fd, line, (size_t)n) < 0)
		goto out;
	char at[320];
	if (injected_at) {
		where(at, sizeof at, injected_at);
		n = snprintf(line, sizeof line, "failalloc: injected at %s\n", at);
		if (write(fd, line, (size_t)n) < 0)
			goto out;
	}
	for (size_t i = 0; i < TABLE_SIZE; i++) {
		if (table[i].p == NULL || table[i].p == TOMB)
			continue;
		where(at, sizeof at, table[i].caller);
		n = snprintf(line, sizeof line,
			     "failalloc: live %zu bytes from %s\n",
			     table[i].size, at);
		if (write(fd, line, (size_t)n) < 0)
			break;
	}
out:
	pthread_mutex_unlock(&lock);
	close(fd);
}
