/* Fuzz target: vmsgd's policy file parser (dom0/vmsgd/policy.c over
 * inih): the input is the file. A file that loads must describe a policy
 * whose lookups work: every service found by its name, every bridge
 * naming a service of the file or a connect bridge's own, no domain list
 * allowing domain 0 (a Xen policy's); and it must free without a leak. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_peer.h"
#include "vmsgd.h"

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy p;
	char err[512], buf[256];

	if (fd < 0) {
		/* One in-memory file, rewritten for each input. */
		fd = memfd_create("vmsgd-policy", 0);
		CHECK(fd >= 0);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(pwrite(fd, data, size, 0) == (ssize_t)size);
	err[0] = '\0';
	if (policy_load(path, &p, err, sizeof(err)) < 0) {
		/* A refusal says where and why. */
		CHECK(strncmp(err, path, strlen(path)) == 0 && strlen(err) > strlen(path) + 1);
		return 0;
	}
	for (size_t i = 0; i < p.nsvc; i++) {
		const struct policy_service *s = &p.svc[i];
		CHECK(s->name[0] && memchr(s->name, 0, sizeof(s->name)));
		CHECK(policy_find(&p, s->name) == s);
		/* Domain 0 never (Xen); in host mode 0 is root, a user. */
		CHECK(p.host || (!policy_allows(&s->offer, 0) &&
				 !policy_allows(&s->open, 0)));
		policy_domlist_str(&s->offer, buf, sizeof(buf));
		policy_domlist_str(&s->open, buf, 8); /* cut short */
		CHECK(memchr(buf, 0, 8));
	}
	for (size_t i = 0; i < p.nbr; i++) {
		const struct policy_bridge *b = &p.br[i];
		CHECK(b->name[0] && b->service[0]);
		if (!b->listen)
			CHECK(policy_bridge_connect(&p, b->service) != NULL);
	}
	policy_free(&p);
	return 0;
}
