/* xen_grant_probe.c - try to map one grant of another domain, read-only.
 *
 *   xen-grant-probe DOMID GREF
 *
 * The permissions scenario runs it in a guest that is not the grant's
 * intended peer: Xen must refuse the mapping. Prints "GRANT mapped" and
 * exits 0 if the page could be mapped, "GRANT refused: <errno text>" and
 * exits 1 if not; 2 on bad usage or when the gnttab device cannot be
 * opened (then nothing was proved either way). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <xengnttab.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: xen-grant-probe DOMID GREF\n");
		return 2;
	}
	char *end1, *end2;
	unsigned long domid = strtoul(argv[1], &end1, 0);
	unsigned long gref = strtoul(argv[2], &end2, 0);
	if (*end1 || *end2 || end1 == argv[1] || end2 == argv[2] ||
	    domid >= 0x7ff0 || gref > UINT32_MAX) {
		fprintf(stderr, "xen-grant-probe: bad DOMID or GREF\n");
		return 2;
	}
	xengnttab_handle *h = xengnttab_open(NULL, 0);
	if (!h) {
		fprintf(stderr, "xen-grant-probe: gnttab: %s\n", strerror(errno));
		return 2;
	}
	void *p = xengnttab_map_grant_ref(h, (uint32_t)domid, (uint32_t)gref,
					  PROT_READ);
	int rc;
	if (p) {
		printf("GRANT mapped domid=%lu gref=%lu\n", domid, gref);
		xengnttab_unmap(h, p, 1);
		rc = 0;
	} else {
		printf("GRANT refused domid=%lu gref=%lu: %s\n", domid, gref,
		       strerror(errno));
		rc = 1;
	}
	xengnttab_close(h);
	return rc;
}
