/* The policy file: INI, parsed by inih, validated strictly. Every error
 * names FILE:LINE; the first one wins. Nothing is allowed unless a
 * [service NAME] section says so (default deny). */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "vmsgd.h"

#define SVC_PREFIX "service "
#define BRIDGE_PREFIX "bridge "

struct parse {
	const char *file;
	char dir[PATH_MAX]; /* the file's directory, absolute */
	FILE *f;
	int line; /* lines read so far: the line inih is looking at */
	struct policy *p;
	char *err;
	size_t cap;
	bool failed;
	struct policy_service *cur; /* NULL: [daemon] or none */
	struct policy_bridge *curb; /* the [bridge NAME] being read */
	bool in_daemon;
	bool has_mode; /* of cur */
	bool seen_daemon;
	char section[256]; /* inih's current section, to see it change */
	bool any_section;
	/* inih reports keys only, with their section's name: a header that
	 * repeats the section just read ("[a] k=1 [a] k=2") would look like
	 * one section. The reader flags every header line it passes, so the
	 * next key starts a new section whatever its name. */
	bool header_seen;
	int header_line;
	/* Keys of the current section, to reject one given twice. */
	struct {
		char name[64];
		int line;
	} keys[32];
	size_t nkeys;
	bool indented; /* the line just read starts with a blank */
	bool oom;      /* failed for want of memory, not for the file */
};

static void fail(struct parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void fail(struct parse *ps, const char *fmt, ...)
{
	if (ps->failed)
		return;
	ps->failed = true;
	int n = snprintf(ps->err, ps->cap, "%s:%d: ", ps->file, ps->line);
	if (n < 0 || (size_t)n >= ps->cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ps->err + n, ps->cap - (size_t)n, fmt, ap);
	va_end(ap);
}

/* Out of memory: no fault of the file's, and policy_load says so. */
static void fail_oom(struct parse *ps)
{
	fail(ps, "out of memory");
	ps->oom = true;
}

/* inih's reader, counting lines so that the handler knows where it is. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *ps = stream;
	char *r = fgets(str, num, ps->f);
	if (!r)
		return NULL;
	ps->line++;
	const char *t = r;
	while (*t == ' ' || *t == '\t')
		t++;
	if (*t == '[') {
		ps->header_seen = true;
		ps->header_line = ps->line;
	}
	ps->indented = t > r;
	size_t n = strlen(r);
	if (n && r[n - 1] != '\n' && !feof(ps->f)) {
		/* inih's line buffer is fixed; a longer line would be split
		 * and half of it misread. Stop here instead. */
		fail(ps, "line longer than %d bytes", num - 2);
		return NULL;
	}
	return r;
}

static bool parse_u64(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	if (!*v || *v == '-' || *v == '+')
		return false;
	char *end;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return false;
	*out = x;
	return true;
}

/* A user name as useradd takes it. */
static bool user_name_ok(const char *t)
{
	if (!((*t >= 'a' && *t <= 'z') || *t == '_'))
		return false;
	size_t n = 0;
	for (; t[n]; n++)
		if (n >= 32 || !((t[n] >= 'a' && t[n] <= 'z') ||
				 (t[n] >= '0' && t[n] <= '9') || t[n] == '_' ||
				 t[n] == '-' || t[n] == '.'))
			return false;
	return true;
}

/* "*" (everyone), "" or "none" (nobody), or comma-separated ids: guest
 * domids, or in host mode uids and user names (each name looked up now,
 * kept as its uid). Which of these the backend takes is checked once the
 * whole file is read (check_lists): [daemon] may come last.
 * 1: parsed; 0: not a list; -ENOENT: a user name no user has (*bad
 * names it); -ENOMEM. */
static int parse_domlist(const char *v, struct domlist *l, int line,
			 char *bad, size_t badcap)
{
	free(l->ids);
	memset(l, 0, sizeof *l);
	l->line = line;
	while (*v == ' ')
		v++;
	if (!strcmp(v, "*")) {
		l->any = true;
		return 1;
	}
	if (!*v || !strcmp(v, "none"))
		return 1;
	char *copy = strdup(v), *save = NULL;
	if (!copy)
		return -ENOMEM;
	int ok = 1;
	for (char *tok = strtok_r(copy, ",", &save); tok && ok;
	     tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ')
			tok++;
		char *e = tok + strlen(tok);
		while (e > tok && e[-1] == ' ')
			*--e = '\0';
		uint64_t id;
		if (user_name_ok(tok)) {
			struct passwd *pw = getpwnam(tok);
			if (!pw) {
				snprintf(bad, badcap, "%s", tok);
				ok = -ENOENT;
				break;
			}
			id = pw->pw_uid;
			l->names = true;
		} else if (!parse_u64(tok, 0, UINT32_MAX - 1u, &id)) {
			ok = 0;
			break;
		}
		uint32_t *n = realloc(l->ids, (l->n + 1) * sizeof *n);
		if (!n) {
			ok = -ENOMEM;
			break;
		}
		l->ids = n;
		l->ids[l->n++] = (uint32_t)id;
	}
	free(copy);
	if (ok <= 0) {
		free(l->ids);
		l->ids = NULL;
		l->n = 0;
		l->names = false;
	}
	return ok;
}

static bool parse_addr(const char *v, struct policy_bridge *b, bool listen,
		       char *why, size_t cap);

/* The metrics endpoint shows what every guest does: loopback or a UNIX
 * socket only (a remote Prometheus scrapes through an exporter or a
 * tunnel the operator sets up on purpose). */
static bool loopback(const struct policy_bridge *b)
{
	if (!b->is_tcp)
		return true;
	return b->ipv6 ? !strcmp(b->host, "::1")
		       : !strncmp(b->host, "127.", 4);
}

/* A [daemon] limit key (docs/vmsgd.md, "Limits"): its field and range. */
struct limit_key {
	const char *name;
	size_t off;
	uint32_t min, max;
};

/* The limit key `name`, or NULL for another key. */
static const struct limit_key *limit_key(const char *name)
{
#define LK(key, field, lo, hi) {key, offsetof(struct rl_limits, field), lo, hi}
	static const struct limit_key keys[] = {
		LK("requests_per_s", requests_per_s, 1, RL_LIMIT_MAX),
		LK("requests_burst", requests_burst, 1, RL_LIMIT_MAX),
		LK("abuse_per_s", abuse_per_s, 1, RL_LIMIT_MAX),
		LK("abuse_burst", abuse_burst, 1, RL_LIMIT_MAX),
		LK("log_per_s", log_per_s, 1, RL_LIMIT_MAX),
		LK("log_burst", log_burst, 1, RL_LIMIT_MAX),
		LK("messages_per_wakeup", messages_per_wakeup, 1, RL_LIMIT_MAX),
		/* 64 KiB: a bridge's socket read; 1 GiB: the largest max_msg */
		LK("max_queued_bytes_per_domain", max_queued_bytes, 65536,
		   1u << 30),
		LK("max_pending_opens_per_domain", max_pending_opens, 1, 4096),
		/* the tick looks every 500 ms */
		LK("partial_message_ms", partial_message_ms, 500, 3600000),
		LK("reset_backoff_ms", reset_backoff_ms, 1, 600000),
		LK("reset_backoff_max_ms", reset_backoff_max_ms, 1, 3600000),
		/* each costs dom0 a granted page and an event channel */
		LK("max_sessions_per_domain", max_sessions, 1, 64),
		/* host mode; the most client numbers there are */
		LK("max_clients_per_user", max_clients_per_user, 1, 32751),
		LK("max_host_clients", max_host_clients, 1, 32751),
	};
#undef LK
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (!strcmp(name, keys[i].name))
			return &keys[i];
	return NULL;
}

static int on_daemon_key(struct parse *ps, const char *name, const char *v)
{
	struct policy *p = ps->p;
	if (!strcmp(name, "log_level")) {
		int lv = vmsgd_log_level_parse(v);
		if (lv < 0) {
			fail(ps, "log_level '%s': expected error, warn, info "
				 "or debug", v);
			return 0;
		}
		p->log_level = lv;
	} else if (!strcmp(name, "control_socket")) {
		/* A relative path is the policy file's neighbour: vmsgd
		 * works in "/" once detached, and vmsgctl runs anywhere. */
		int n = v[0] == '/' || !*v
				? snprintf(p->control_socket,
					   sizeof p->control_socket, "%s", v)
				: snprintf(p->control_socket,
					   sizeof p->control_socket, "%s/%s",
					   ps->dir, v);
		if (!*v || n < 0 || (size_t)n >= sizeof p->control_socket) {
			fail(ps, "control_socket '%s': expected a path of at "
				 "most %zu bytes (relative: to the policy "
				 "file's directory)",
			     v, sizeof p->control_socket - 1);
			return 0;
		}
	} else if (!strcmp(name, "backend")) {
		if (!strcmp(v, "xen")) {
			p->host = false;
		} else if (!strcmp(v, "host")) {
			p->host = true;
		} else {
			fail(ps, "backend '%s': expected 'xen' (the default) or "
				 "'host' (processes of this machine, no Xen)",
			     v);
			return 0;
		}
	} else if (!strcmp(name, "host_dir")) {
		/* Relative: the policy file's neighbour, as control_socket
		 * ("./" dropped: every byte counts, see HOST_DIR_MAX). */
		while (v[0] == '.' && v[1] == '/')
			v += 2;
		int n = v[0] == '/' || !*v
				? snprintf(p->host_dir, sizeof p->host_dir,
					   "%s", v)
				: snprintf(p->host_dir, sizeof p->host_dir,
					   "%s/%s", ps->dir, v);
		if (!*v || n < 0 || (size_t)n >= sizeof p->host_dir) {
			fail(ps, "host_dir '%s': expected a path of at most %d "
				 "bytes (relative: to the policy file's "
				 "directory), so that the sockets inside fit",
			     v, HOST_DIR_MAX);
			return 0;
		}
	} else if (!strcmp(name, "metrics")) {
		char why[160];
		if (!parse_addr(v, &p->metrics, true, why, sizeof why)) {
			fail(ps, "metrics '%s': %s", v, why);
			return 0;
		}
		if (p->metrics.seqpacket) {
			fail(ps, "metrics '%s': HTTP needs a stream: use "
				 "unix:PATH or tcp:HOST:PORT", v);
			return 0;
		}
		if (!loopback(&p->metrics)) {
			fail(ps, "metrics '%s': a TCP address must be loopback "
				 "(127.x.x.x or [::1]); or use unix:PATH", v);
			return 0;
		}
#ifndef VMSGD_HAVE_METRICS
		fail(ps, "metrics: this vmsgd was built without libmicrohttpd");
		return 0;
#endif
		p->has_metrics = true;
	} else if (limit_key(name)) {
		const struct limit_key *k = limit_key(name);
		uint64_t x;
		if (!parse_u64(v, k->min, k->max, &x)) {
			fail(ps, "%s '%s': expected %u..%u", name, v, k->min,
			     k->max);
			return 0;
		}
		*(uint32_t *)((char *)&p->limits + k->off) = (uint32_t)x;
	} else if (!strcmp(name, "bridge_flush_ms")) {
		uint64_t x;
		if (!parse_u64(v, 0, BRIDGE_FLUSH_MAX_MS, &x)) {
			fail(ps, "bridge_flush_ms '%s': expected 0..%u", v,
			     BRIDGE_FLUSH_MAX_MS);
			return 0;
		}
		p->bridge_flush_ms = (uint32_t)x;
	} else {
		fail(ps, "unknown key '%s' in [daemon]", name);
		return 0;
	}
	return 1;
}

static int on_service_key(struct parse *ps, const char *name, const char *v)
{
	struct policy_service *s = ps->cur;
	uint64_t x;
	if (!strcmp(name, "offer") || !strcmp(name, "open")) {
		char bad[40] = "";
		int r = parse_domlist(v, !strcmp(name, "offer") ? &s->offer
								 : &s->open,
				      ps->line, bad, sizeof bad);
		if (r == -ENOMEM) {
			fail_oom(ps);
			return 0;
		}
		if (r == -ENOENT) {
			fail(ps, "%s = '%s': no user is called '%s' (host mode "
				 "lists users by name or uid)",
			     name, v, bad);
			return 0;
		}
		if (r == 0) {
			fail(ps, "%s = '%s': expected '*', 'none' or "
				 "comma-separated guest domids (1..32751); in "
				 "host mode user names or uids",
			     name, v);
			return 0;
		}
	} else if (!strcmp(name, "mode")) {
		if (!strcmp(v, "direct")) {
			s->mode = MODE_DIRECT;
		} else if (!strcmp(v, "relayed")) {
			s->mode = MODE_RELAYED;
		} else {
			fail(ps, "mode '%s': expected 'direct' or 'relayed'", v);
			return 0;
		}
		ps->has_mode = true;
	} else if (!strcmp(name, "setup")) {
		if (!strcmp(v, "message")) {
			s->setup_xenstore = false;
		} else if (!strcmp(v, "xenstore")) {
			s->setup_xenstore = true;
		} else {
			fail(ps, "setup '%s': expected 'message' or 'xenstore'",
			     v);
			return 0;
		}
	} else if (!strcmp(name, "spare")) {
		if (!strcmp(v, "yes")) {
			s->spare = SPARE_YES;
		} else if (!strcmp(v, "no")) {
			s->spare = SPARE_NO;
		} else if (!strcmp(v, "auto")) {
			s->spare = SPARE_AUTO;
		} else {
			fail(ps, "spare '%s': expected 'auto', 'yes' or 'no'",
			     v);
			return 0;
		}
	} else if (!strcmp(name, "max_channels_per_domain")) {
		if (!parse_u64(v, 1, 4096, &x)) {
			fail(ps, "max_channels_per_domain '%s': expected "
				 "1..4096", v);
			return 0;
		}
		s->max_channels = (uint32_t)x;
	} else if (!strcmp(name, "ring_size")) {
		if (!parse_u64(v, 1024, 1u << 20, &x) || (x & (x - 1))) {
			fail(ps, "ring_size '%s': expected a power of two "
				 "from 1024 to 1048576", v);
			return 0;
		}
		s->ring_size = (uint32_t)x;
	} else if (!strcmp(name, "max_msg")) {
		if (!parse_u64(v, 1, 1u << 30, &x)) {
			fail(ps, "max_msg '%s': expected 1..1073741824", v);
			return 0;
		}
		s->max_msg = x;
	} else {
		fail(ps, "unknown key '%s' in [service %s]", name, s->name);
		return 0;
	}
	return 1;
}

/* "unix:/abs/path", "seqpacket:/abs/path" (a SOCK_SEQPACKET UNIX socket)
 * or "tcp:HOST:PORT" (HOST a numeric IPv4 address or [IPv6]; no name
 * lookups, which would block the loop). */
static bool parse_addr(const char *v, struct policy_bridge *b, bool listen,
		       char *why, size_t cap)
{
	if (strlen(v) >= sizeof b->addr) {
		snprintf(why, cap, "longer than %zu bytes", sizeof b->addr - 1);
		return false;
	}
	snprintf(b->addr, sizeof b->addr, "%s", v);
	bool seq = !strncmp(v, "seqpacket:", 10);
	if (seq || !strncmp(v, "unix:", 5)) {
		const char *path = v + (seq ? 10 : 5);
		if (path[0] != '/' || strlen(path) >= sizeof b->path) {
			snprintf(why, cap, "a UNIX socket path must be absolute "
					   "and at most %zu bytes",
				 sizeof b->path - 1);
			return false;
		}
		b->is_tcp = false;
		b->seqpacket = seq;
		snprintf(b->path, sizeof b->path, "%s", path);
		return true;
	}
	if (strncmp(v, "tcp:", 4) != 0) {
		snprintf(why, cap, "expected unix:PATH, seqpacket:PATH or "
				   "tcp:HOST:PORT");
		return false;
	}
	const char *h = v + 4, *colon;
	char host[64];
	size_t hl;
	if (h[0] == '[') {
		const char *rb = strchr(h, ']');
		if (!rb || rb[1] != ':') {
			snprintf(why, cap, "expected tcp:[IPV6]:PORT");
			return false;
		}
		hl = (size_t)(rb - h - 1);
		if (hl >= sizeof host)
			hl = sizeof host; /* rejected below */
		else
			memcpy(host, h + 1, hl);
		colon = rb + 1;
		b->ipv6 = true;
	} else {
		colon = strrchr(h, ':');
		if (!colon) {
			snprintf(why, cap, "expected tcp:HOST:PORT");
			return false;
		}
		hl = (size_t)(colon - h);
		if (hl < sizeof host)
			memcpy(host, h, hl);
		b->ipv6 = false;
	}
	if (hl == 0 || hl >= sizeof host) {
		snprintf(why, cap, "bad host");
		return false;
	}
	host[hl] = '\0';
	struct sockaddr_in6 a6;
	struct sockaddr_in a4;
	if (b->ipv6 ? uv_ip6_addr(host, 0, &a6) != 0
		    : uv_ip4_addr(host, 0, &a4) != 0) {
		snprintf(why, cap, "host '%s' is not a numeric IP%s address "
				   "(names are not looked up)",
			 host, b->ipv6 ? "v6" : "v4");
		return false;
	}
	uint64_t port;
	/* Port 0 (listen only): the kernel picks one; vmsgctl shows it. */
	if (!parse_u64(colon + 1, listen ? 0 : 1, 65535, &port)) {
		snprintf(why, cap, "port '%s': expected %s..65535", colon + 1,
			 listen ? "0" : "1");
		return false;
	}
	snprintf(b->host, sizeof b->host, "%s", host);
	b->port = (int)port;
	b->is_tcp = true;
	return true;
}

static int on_bridge_key(struct parse *ps, const char *name, const char *v)
{
	struct policy_bridge *b = ps->curb;
	char why[160];
	if (!strcmp(name, "service")) {
		if (!vmsg_service_name_ok(v)) {
			fail(ps, "service '%s': a name is 1..%d of "
				 "[A-Za-z0-9._-]",
			     v, VMSG_SERVICE_NAME_MAX);
			return 0;
		}
		snprintf(b->service, sizeof b->service, "%s", v);
	} else if (!strcmp(name, "listen") || !strcmp(name, "connect")) {
		if (b->addr[0]) {
			fail(ps, "[bridge %s]: give exactly one of 'listen' "
				 "and 'connect'",
			     b->name);
			return 0;
		}
		b->listen = !strcmp(name, "listen");
		if (!parse_addr(v, b, b->listen, why, sizeof why)) {
			fail(ps, "%s = '%s': %s", name, v, why);
			return 0;
		}
	} else if (!strcmp(name, "msg_type")) {
		uint64_t x;
		/* Type 0 is not a message type (vmsg_chan_send: -EINVAL). */
		if (!parse_u64(v, 1, 65535, &x)) {
			fail(ps, "msg_type '%s': expected 1..65535", v);
			return 0;
		}
		b->msg_type = (uint16_t)x;
		b->has_msg_type = true;
	} else {
		fail(ps, "unknown key '%s' in [bridge %s]", name, b->name);
		return 0;
	}
	return 1;
}

static void end_section(struct parse *ps)
{
	if (ps->cur && !ps->has_mode)
		fail(ps, "[service %s] (from line %d) has no 'mode'",
		     ps->cur->name, ps->cur->line);
	if (ps->curb && !ps->curb->service[0])
		fail(ps, "[bridge %s] (from line %d) has no 'service'",
		     ps->curb->name, ps->curb->line);
	if (ps->curb && !ps->curb->addr[0])
		fail(ps, "[bridge %s] (from line %d) has neither 'listen' nor "
			 "'connect'",
		     ps->curb->name, ps->curb->line);
	ps->curb = NULL;
	ps->cur = NULL;
	ps->in_daemon = false;
}

static int on_section(struct parse *ps, const char *section)
{
	end_section(ps);
	if (!strcmp(section, "daemon")) {
		if (ps->seen_daemon) {
			fail(ps, "[daemon] given twice");
			return 0;
		}
		ps->seen_daemon = ps->in_daemon = true;
		return 1;
	}
	struct policy *p = ps->p;
	size_t bl = strlen(BRIDGE_PREFIX);
	if (!strncmp(section, BRIDGE_PREFIX, bl)) {
		const char *bname = section + bl;
		/* Same alphabet as service names: it is printed and logged. */
		if (!vmsg_service_name_ok(bname)) {
			fail(ps, "[bridge %s]: a name is 1..%d of "
				 "[A-Za-z0-9._-]",
			     bname, VMSG_SERVICE_NAME_MAX);
			return 0;
		}
		for (size_t i = 0; i < p->nbr; i++)
			if (!strcmp(p->br[i].name, bname)) {
				fail(ps, "[bridge %s] given twice", bname);
				return 0;
			}
		struct policy_bridge *nb =
			realloc(p->br, (p->nbr + 1) * sizeof *nb);
		if (!nb) {
			fail_oom(ps);
			return 0;
		}
		p->br = nb;
		struct policy_bridge *b = &p->br[p->nbr++];
		memset(b, 0, sizeof *b);
		snprintf(b->name, sizeof b->name, "%s", bname);
		b->line = ps->line;
		ps->curb = b;
		return 1;
	}
	size_t pl = strlen(SVC_PREFIX);
	if (strncmp(section, SVC_PREFIX, pl) != 0) {
		fail(ps, "unknown section [%s]: expected [daemon], "
			 "[service NAME] or [bridge NAME]", section);
		return 0;
	}
	const char *name = section + pl;
	if (!vmsg_service_name_ok(name)) {
		fail(ps, "[service %s]: a name is 1..%d of [A-Za-z0-9._-]",
		     name, VMSG_SERVICE_NAME_MAX);
		return 0;
	}
	if (policy_find(p, name)) {
		fail(ps, "[service %s] given twice", name);
		return 0;
	}
	struct policy_service *n = realloc(p->svc, (p->nsvc + 1) * sizeof *n);
	if (!n) {
		fail_oom(ps);
		return 0;
	}
	p->svc = n;
	struct policy_service *s = &p->svc[p->nsvc++];
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", name);
	s->line = ps->line;
	s->max_channels = 16;
	s->ring_size = VMSG_DEFAULT_RING_SIZE;
	s->max_msg = 1u << 20;
	ps->cur = s;
	ps->has_mode = false;
	return 1;
}

/* A key given twice in one section would silently keep the last value;
 * every key means one thing once. Unknown keys are rejected by the
 * section's own handler, so the list is short. */
static bool note_key(struct parse *ps, const char *section, const char *name)
{
	for (size_t i = 0; i < ps->nkeys; i++)
		if (!strcmp(ps->keys[i].name, name)) {
			/* inih reads an indented line after a key as more of
			 * that key's value and reports the key again. */
			if (ps->indented && i == ps->nkeys - 1)
				fail(ps, "[%s]: '%s' continues on an indented "
					 "line: give a value on one line",
				     section, name);
			else
				fail(ps, "[%s]: '%s' given twice (first at "
					 "line %d)",
				     section, name, ps->keys[i].line);
			return false;
		}
	if (ps->nkeys < sizeof ps->keys / sizeof ps->keys[0]) {
		snprintf(ps->keys[ps->nkeys].name,
			 sizeof ps->keys[ps->nkeys].name, "%s", name);
		ps->keys[ps->nkeys++].line = ps->line;
	}
	return true;
}

static int handler(void *user, const char *section, const char *name,
		   const char *value)
{
	struct parse *ps = user;
	if (ps->failed)
		return 0;
	/* Debian's inih calls us for keys only: a section starts when the
	 * name inih passes changes. (A header with no keys under it is never
	 * seen, and allows nothing.) */
	if (!ps->any_section || ps->header_seen ||
	    strcmp(section, ps->section) != 0) {
		ps->any_section = true;
		ps->header_seen = false;
		ps->nkeys = 0;
		snprintf(ps->section, sizeof ps->section, "%s", section);
		if (!*section) {
			fail(ps, "key '%s' outside any section", name);
			return 0;
		}
		/* Section errors and "(from line N)" name the header. */
		int key_line = ps->line;
		if (ps->header_line)
			ps->line = ps->header_line;
		int ok = on_section(ps, section);
		ps->line = key_line;
		if (!ok)
			return 0;
	}
	if (!note_key(ps, section, name))
		return 0;
	if (ps->in_daemon)
		return on_daemon_key(ps, name, value);
	if (ps->curb)
		return on_bridge_key(ps, name, value);
	if (ps->cur)
		return on_service_key(ps, name, value);
	return 0; /* not reached: every section is daemon or service */
}

/* Cross-section rules, once everything is read (sections come in any
 * order). Errors name the bridge's header line. */
static void check_bridges(struct parse *ps)
{
	struct policy *p = ps->p;
	for (size_t i = 0; i < p->nbr && !ps->failed; i++) {
		struct policy_bridge *b = &p->br[i];
		ps->line = b->line;
		if (b->has_msg_type && !b->seqpacket) {
			fail(ps, "[bridge %s]: msg_type is for seqpacket: "
				 "bridges only (a byte stream has no messages)",
			     b->name);
			return;
		}
		if (!b->has_msg_type)
			b->msg_type = BRIDGE_MSG_TYPE_DEFAULT;
		if (!policy_find(p, b->service)) {
			fail(ps, "[bridge %s]: no [service %s] section says "
				 "who may %s it",
			     b->name, b->service, b->listen ? "offer" : "open");
			return;
		}
		for (size_t j = 0; j < i; j++) {
			const struct policy_bridge *o = &p->br[j];
			/* Port 0: the kernel gives each its own port. */
			/* unix: and seqpacket: of one path are one file. */
			if (b->listen && o->listen && b->is_tcp == o->is_tcp &&
			    !(b->is_tcp && b->port == 0) &&
			    (b->is_tcp ? !strcmp(b->addr, o->addr)
				       : !strcmp(b->path, o->path))) {
				fail(ps, "[bridge %s]: listens on %s as "
					 "[bridge %s] does",
				     b->name, b->addr, o->name);
				return;
			}
			if (!strcmp(b->service, o->service) &&
			    (!b->listen || !o->listen)) {
				fail(ps, "[bridge %s]: service '%s' is already "
					 "bridged by [bridge %s] (a connect "
					 "bridge makes dom0 its only provider)",
				     b->name, b->service, o->name);
				return;
			}
		}
	}
}

/* Xen's lists hold guest domids only (dom0 is vmsgd's own domain); host
 * mode's hold uids. Relayed services and bridges need Xen (vmsgd's own
 * ends are Xen channels). Errors name the key's or the header's line. */
static void check_backend(struct parse *ps)
{
	struct policy *p = ps->p;
	for (size_t i = 0; i < p->nsvc && !ps->failed; i++) {
		struct policy_service *s = &p->svc[i];
		s->offer.users = s->open.users = p->host;
		const struct domlist *ls[2] = {&s->offer, &s->open};
		for (int k = 0; k < 2 && !p->host; k++) {
			bool bad = ls[k]->names;
			for (size_t j = 0; j < ls[k]->n; j++)
				bad |= ls[k]->ids[j] < 1 ||
				       ls[k]->ids[j] > 0x7fef;
			if (bad) {
				ps->line = ls[k]->line;
				fail(ps, "[service %s]: %s: expected '*', "
					 "'none' or comma-separated guest "
					 "domids (1..32751); user names and "
					 "uids need [daemon] backend = host",
				     s->name, k ? "open" : "offer");
				return;
			}
		}
		if (p->host && s->mode == MODE_RELAYED) {
			ps->line = s->line;
			fail(ps, "[service %s]: mode = relayed needs Xen: in "
				 "host mode (backend = host) every service is "
				 "direct",
			     s->name);
			return;
		}
	}
	if (p->host && p->nbr && !ps->failed) {
		ps->line = p->br[0].line;
		fail(ps, "[bridge %s]: bridges need Xen: not available with "
			 "backend = host",
		     p->br[0].name);
	}
}

int policy_load(const char *file, struct policy *out, char *err, size_t cap)
{
	struct parse ps = {.file = file, .err = err, .cap = cap};
	struct policy p = {.log_level = LOG_INFO,
			   .bridge_flush_ms = BRIDGE_FLUSH_DEFAULT_MS,
			   .limits = {RL_REQ_RATE, RL_REQ_BURST, RL_ABUSE_RATE,
				      RL_ABUSE_BURST, RL_LOG_RATE, RL_LOG_BURST,
				      RL_PER_WAKEUP, RL_QUEUED_BYTES,
				      RL_PENDING_OPENS, RL_PARTIAL_MS,
				      RL_BACKOFF_MS, RL_BACKOFF_MAX_MS,
				      RL_SESSIONS, RL_CLIENTS_PER_USER,
				      RL_HOST_CLIENTS}};
	snprintf(p.control_socket, sizeof p.control_socket, "/run/vmsgd.sock");
	snprintf(p.host_dir, sizeof p.host_dir, "/run/vmsg");
	ps.p = &p;
	ps.f = fopen(file, "r");
	if (!ps.f) {
		snprintf(err, cap, "%s:0: cannot open: %s", file,
			 strerror(errno));
		return -1;
	}
	char real[PATH_MAX];
	if (realpath(file, real)) {
		char *slash = strrchr(real, '/');
		*slash = '\0'; /* realpath's answer is absolute */
		snprintf(ps.dir, sizeof ps.dir, "%s", real[0] ? real : "/");
	} else {
		snprintf(ps.dir, sizeof ps.dir, ".");
	}
	int r = ini_parse_stream(reader, &ps, handler, &ps);
	fclose(ps.f);
	if (!ps.failed && r > 0) {
		/* A syntax error inih found itself (no handler call). */
		ps.line = r;
		fail(&ps, "syntax error (expected [section] or key = value)");
	} else if (!ps.failed && r < 0) {
		fail(&ps, "cannot read the file");
	}
	if (!ps.failed)
		end_section(&ps);
	if (!ps.failed)
		check_bridges(&ps);
	if (!ps.failed)
		check_backend(&ps);
	if (ps.failed) {
		policy_free(&p);
		return ps.oom ? -ENOMEM : -1;
	}
	*out = p;
	return 0;
}

void policy_free(struct policy *p)
{
	for (size_t i = 0; i < p->nsvc; i++) {
		free(p->svc[i].offer.ids);
		free(p->svc[i].open.ids);
	}
	free(p->svc);
	p->svc = NULL;
	p->nsvc = 0;
	free(p->br);
	p->br = NULL;
	p->nbr = 0;
}

const struct policy_bridge *policy_bridge_connect(const struct policy *p,
						  const char *service)
{
	for (size_t i = 0; i < p->nbr; i++)
		if (!p->br[i].listen && !strcmp(p->br[i].service, service))
			return &p->br[i];
	return NULL;
}

const struct policy_service *policy_find(const struct policy *p,
					 const char *name)
{
	for (size_t i = 0; i < p->nsvc; i++)
		if (!strcmp(p->svc[i].name, name))
			return &p->svc[i];
	return NULL;
}

bool policy_allows(const struct domlist *l, uint32_t id)
{
	if (id == 0 && !l->users)
		return false; /* dom0 is vmsgd's own domain */
	if (l->any)
		return true;
	for (size_t i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return true;
	return false;
}

void policy_domlist_str(const struct domlist *l, char *buf, size_t cap)
{
	if (l->any) {
		snprintf(buf, cap, "*");
		return;
	}
	if (!l->n) {
		snprintf(buf, cap, "none");
		return;
	}
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < l->n && off < cap; i++) {
		struct passwd *pw = l->users ? getpwuid((uid_t)l->ids[i]) : NULL;
		int n = pw ? snprintf(buf + off, cap - off, "%s%s",
				      i ? "," : "", pw->pw_name)
			   : snprintf(buf + off, cap - off, "%s%u",
				      i ? "," : "", (unsigned)l->ids[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}
