/* blk-check: the real-Xen storage scenario's disk checker
 * (tests/xen/scenarios/95-storage.sh), a Linux program over lib/block.
 *
 *   blk-check connect DOMID PORT SEED
 *       In a guest: connect to the block device domain DOMID serves on a
 *       direct Xen channel at /local/domain/DOMID/data/vchan/<us>/PORT
 *       (vmsg-blockd --xen <us>:PORT), negotiate, then
 *       - read the first half of the disk and print its CRC
 *         ("BLKCHECK read LEN crc CRC"),
 *       - write the pattern of SEED over the second half (requests of
 *         256 KiB, 8 outstanding), FLUSH, read it back and compare
 *         ("BLKCHECK wrote LEN crc CRC, read back equal").
 *   blk-check pattern SEED LEN
 *       The pattern's first LEN bytes on stdout (dom0 compares the image
 *       file with it).
 *   blk-check crc FILE OFFSET LEN
 *       The CRC of LEN bytes of FILE at OFFSET (dom0's side of the read).
 *
 * The CRC is CRC-32 (the zlib polynomial). Exit 0, 1 on any failure (with
 * a "BLKCHECK FAIL ..." line), 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmsg/block.h>
#include <vmsg/xen.h>

#define CHUNK (256u * 1024u)
#define DEPTH 8u

static uint32_t crc_table[256];

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t n)
{
	crc = ~crc;
	while (n--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* The pattern: xorshift64 of SEED, 8 bytes little-endian per step. */
struct pat {
	uint64_t x;
};

static void pat_fill(struct pat *p, uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		p->x ^= p->x << 13;
		p->x ^= p->x >> 7;
		p->x ^= p->x << 17;
		for (size_t k = 0; k < 8 && i + k < n; k++)
			buf[i + k] = (uint8_t)(p->x >> (8 * k));
	}
}

static int fail(const char *what, int err)
{
	printf("BLKCHECK FAIL %s: %s\n", what, vmsg_strerror(err));
	return 1;
}

static unsigned long long num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "blk-check: '%s': not a number\n", s);
		exit(2);
	}
	return v;
}

/* The requests of [off, off+len) in CHUNK pieces, DEPTH outstanding;
 * WRITE takes its data from buf, READ fills it. */
static int run(vmsg_blk_client *cl, unsigned op, uint8_t *buf, uint64_t off,
	       uint64_t len)
{
	uint64_t next = 0, done = 0;
	while (done < len) {
		while (next < len && vmsg_blk_client_outstanding(cl) < DEPTH) {
			uint32_t n = len - next < CHUNK ? (uint32_t)(len - next) : CHUNK;
			struct vmsg_blk_io io = {
				.op = (uint16_t)op, .length = n,
				.offset = off + next, .buf = buf + next,
				.user = next,
			};
			int r = vmsg_blk_client_submit(cl, &io, 30000);
			if (r < 0)
				return r;
			next += n;
		}
		struct vmsg_blk_done cp;
		int r = vmsg_blk_client_reap(cl, &cp, 1, 30000);
		if (r < 0)
			return r;
		if (r == 0)
			return -ETIMEDOUT;
		if (cp.status < 0)
			return cp.status;
		uint64_t at = cp.user;
		done += len - at < CHUNK ? len - at : CHUNK;
	}
	return 0;
}

static int do_connect(unsigned dom, const char *port, uint64_t seed)
{
	uint16_t us;
	char path[256];
	int r;
	if ((r = vmsg_xen_own_domid(&us)) < 0)
		return fail("our domain id", r);
	if ((r = vmsg_xen_path(path, sizeof path, (uint16_t)dom, us, port)) < 0)
		return fail("path", r);
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.rx_ring_size = o.tx_ring_size = 256u * 1024u;
	o.max_msg = CHUNK + 64u;
	vmsg_chan *c;
	if ((r = vmsg_xen_connect(&c, (uint16_t)dom, path, &o, 60000)) < 0)
		return fail(path, r);
	size_t sz = vmsg_blk_client_size(DEPTH, CHUNK);
	void *mem = aligned_alloc(8, (sz + 7) & ~(size_t)7);
	vmsg_blk_client *cl;
	if (!mem || (r = vmsg_blk_client_init(&cl, mem, sz, c, DEPTH, CHUNK,
					      30000)) < 0)
		return fail("negotiation", mem ? r : -ENOMEM);
	const struct vmsg_blk_info *info = vmsg_blk_client_info(cl);
	uint64_t half = info->size / 2 / CHUNK * CHUNK;
	printf("BLKCHECK connected to %s: %llu bytes, max_req %u\n", path,
	       (unsigned long long)info->size, info->max_req);
	if (half == 0 || info->max_req < CHUNK)
		return fail("disk too small or requests too short", -EINVAL);
	uint8_t *a = malloc(half), *b = malloc(half);
	if (!a || !b)
		return fail("memory", -ENOMEM);

	if ((r = run(cl, VMSG_BLK_OP_READ, a, 0, half)) < 0)
		return fail("read", r);
	printf("BLKCHECK read %llu crc %08x\n", (unsigned long long)half,
	       crc_update(0, a, half));

	struct pat p = { seed ? seed : 1 };
	pat_fill(&p, a, half);
	if ((r = run(cl, VMSG_BLK_OP_WRITE, a, half, half)) < 0)
		return fail("write", r);
	if ((r = vmsg_blk_client_io(cl, VMSG_BLK_OP_FLUSH, NULL, 0, 0, 0,
				    30000)) < 0)
		return fail("flush", r);
	if ((r = run(cl, VMSG_BLK_OP_READ, b, half, half)) < 0)
		return fail("read back", r);
	if (memcmp(a, b, half) != 0)
		return fail("read back: not what was written", -EIO);
	printf("BLKCHECK wrote %llu crc %08x, read back equal\n",
	       (unsigned long long)half, crc_update(0, a, half));
	vmsg_blk_client_fini(cl);
	vmsg_chan_close(c);
	free(mem);
	free(a);
	free(b);
	return 0;
}

static int do_pattern(uint64_t seed, uint64_t len)
{
	struct pat p = { seed ? seed : 1 };
	static uint8_t buf[CHUNK];
	while (len) {
		size_t n = len < CHUNK ? (size_t)len : CHUNK;
		/* CHUNK is a multiple of 8: the stream is the same however
		 * it is cut. */
		pat_fill(&p, buf, n);
		if (fwrite(buf, 1, n, stdout) != n)
			return 1;
		len -= n;
	}
	return fflush(stdout) ? 1 : 0;
}

static int do_crc(const char *file, uint64_t off, uint64_t len)
{
	static uint8_t buf[CHUNK];
	uint32_t crc = 0;
	int fd = open(file, O_RDONLY);
	if (fd < 0) {
		perror(file);
		return 1;
	}
	while (len) {
		size_t n = len < CHUNK ? (size_t)len : CHUNK;
		ssize_t got = pread(fd, buf, n, (off_t)off);
		if (got <= 0) {
			fprintf(stderr, "blk-check: %s: short read\n", file);
			return 1;
		}
		crc = crc_update(crc, buf, (size_t)got);
		off += (uint64_t)got;
		len -= (uint64_t)got;
	}
	close(fd);
	printf("%08x\n", crc);
	return 0;
}

int main(int argc, char **argv)
{
	crc_init();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "connect") == 0)
		return do_connect((unsigned)num(argv[2]), argv[3], num(argv[4]));
	if (argc == 4 && strcmp(argv[1], "pattern") == 0)
		return do_pattern(num(argv[2]), num(argv[3]));
	if (argc == 5 && strcmp(argv[1], "crc") == 0)
		return do_crc(argv[2], num(argv[3]), num(argv[4]));
	fprintf(stderr, "usage: blk-check connect DOMID PORT SEED | pattern SEED LEN |"
		" crc FILE OFFSET LEN\n");
	return 2;
}
