/* proto_chan: control messages over a real host channel between two
 * processes. Each scenario forks a client, serves at a fresh temp path and
 * runs one function on each side:
 *   hello     - Hello exchange both ways with each side's values; an Error
 *               round trip; an application-range protobuf message; a message
 *               larger than one frame (the fragmented fallback); a type with
 *               no descriptor (-ENOMSG, left queued); an arena too small
 *               (-ENOMEM, consumed, channel fine)
 *   version   - a peer of another major version: -EPROTONOSUPPORT on both
 *               sides, each with the error text and the other's Error message
 *   garbage   - an unparsable Hello payload gives -EBADMSG and the channel
 *               keeps working; the same as the first message of a Hello
 *               exchange; an Error instead of a Hello gives -ECONNREFUSED
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmsg/chan.h>
#include <vmsg/host.h>
#include <vmsg/proto.h>

#include "vmsg_test.h"

#define T_MS 30000 /* generous: a loaded 2-core machine */
#define APP_TYPE 0x0123u
#define RAW_TYPE 0x0200u

typedef void (*side_fn)(vmsg_chan *c);

/* The current scenario's temp dir and socket path, removed even when an
 * assertion aborts the server side (the client then sees -EPIPE and ends). */
static char dir[512], path[600];

static void cleanup_on_abort(int sig)
{
	unlink(path);
	rmdir(dir);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void run(const char *name, side_fn server, side_fn client)
{
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/vmsg-proto-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/sock", dir);
	signal(SIGABRT, cleanup_on_abort);

	fflush(NULL);
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		signal(SIGABRT, SIG_DFL);
		vmsg_chan *c;
		int r = vmsg_host_connect(&c, path, NULL, T_MS);
		if (r < 0) {
			fprintf(stderr, "client connect: %s\n", vmsg_strerror(r));
			_exit(2);
		}
		client(c);
		vmsg_chan_close(c);
		fflush(NULL);
		_exit(0);
	}

	vmsg_chan *s;
	ASSERT_EQ(vmsg_host_serve(&s, path, NULL), 0);
	ASSERT_EQ(vmsg_chan_accept(s, T_MS), 0);
	server(s);

	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		VMSG_TEST_FAIL("%s: client failed (status 0x%x)", name, st);
	vmsg_chan_close(s);
	unlink(path); /* normally already gone: the server removes it */
	ASSERT_EQ(rmdir(dir), 0);
	printf("proto_chan: %s ok\n", name);
}

/* Receive one message decoded as the built-in type, asserting its type. */
static ProtobufCMessage *recv_as(vmsg_chan *c, struct vmsg_arena *a,
				 uint16_t want)
{
	uint16_t type = 0;
	ProtobufCMessage *m = NULL;
	int r = vmsg_proto_recv(c, NULL, a, &type, &m, T_MS);
	if (r < 0)
		VMSG_TEST_FAIL("vmsg_proto_recv: %d %s", r, vmsg_strerror(r));
	ASSERT_EQ(type, want);
	ASSERT_TRUE(m != NULL);
	return m;
}

/* ---- hello ------------------------------------------------------------- */

static _Alignas(8) unsigned char big_arena[512 * 1024];
#define BIG_TEXT (100 * 1024) /* over a 64 KiB ring's largest frame */
#define ALIGN8(n) (((n) + 7u) & ~(size_t)7u)
/* Hello{version 42, name of NAME2_LEN bytes}: 2 + 2 + NAME2_LEN bytes. */
#define NAME2_LEN 48u
#define NAME2_PAYLOAD (4u + NAME2_LEN)

static void check_peer(const struct vmsg_hello_info *p, const char *name)
{
	ASSERT_EQ(p->version, VMSG_PROTO_VERSION);
	ASSERT_EQ(p->features, VMSG_FEATURES_SUPPORTED);
	ASSERT_EQ(p->max_msg, VMSG_DEFAULT_MAX_MSG);
	ASSERT_TRUE(strcmp(p->name, name) == 0);
	ASSERT_EQ(p->error_code, 0);
	ASSERT_EQ(p->error[0], '\0');
}

static void hello_server(vmsg_chan *c)
{
	struct vmsg_hello_info peer;
	ASSERT_EQ(vmsg_hello_exchange(c, "proto-test-server", &peer, T_MS), 0);
	check_peer(&peer, "proto-test-client");

	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(&a, big_arena, sizeof big_arena), 0);

	/* Error round trip: we send one, the client sends it back. */
	int r = vmsg_proto_send_error(c, -ENOENT, "no such service: disk0",
				      0x0010, T_MS);
	ASSERT_GT(r, 0);
	Vmsg__Control__Error *e =
		(Vmsg__Control__Error *)recv_as(c, &a, VMSG_TYPE_ERROR);
	ASSERT_EQ(e->code, -ENOENT);
	ASSERT_EQ(e->ref_type, 0x0010);
	ASSERT_TRUE(strcmp(e->text, "echo: no such service: disk0") == 0);

	/* An application-range message: decoded with an explicit descriptor. */
	uint16_t type = 0;
	ProtobufCMessage *m = NULL;
	ASSERT_GT(vmsg_proto_recv(c, &vmsg__control__hello__descriptor, &a,
				  &type, &m, T_MS),
		  0);
	ASSERT_EQ(type, APP_TYPE);
	Vmsg__Control__Hello *h = (Vmsg__Control__Hello *)m;
	ASSERT_EQ(h->version, 42);
	ASSERT_TRUE(strcmp(h->name, "app") == 0);

	/* Larger than one frame: sent fragmented, reassembled, decoded. */
	e = (Vmsg__Control__Error *)recv_as(c, &a, VMSG_TYPE_ERROR);
	ASSERT_EQ(strlen(e->text), BIG_TEXT);
	for (size_t i = 0; i < BIG_TEXT; i++)
		ASSERT_EQ(e->text[i], 'a' + (char)(i % 26));
	vmsg_arena_reset(&a);

	/* A type with no built-in descriptor stays queued. */
	r = vmsg_proto_recv(c, NULL, &a, &type, &m, T_MS);
	ASSERT_EQ(r, -ENOMSG);
	ASSERT_EQ(vmsg_arena_used(&a), 0);
	char raw[16];
	ASSERT_EQ(vmsg_chan_recv(c, &type, raw, sizeof raw, T_MS), 3);
	ASSERT_EQ(type, RAW_TYPE);
	ASSERT_MEM_EQ(raw, "raw", 3);

	/* An arena too small for the message: -ENOMEM, the message is gone,
	 * the arena holds nothing new, the next message arrives. */
	/* Sized so that the second message's payload copy and decoded
	 * struct fit but its name does not (see hello_client). */
	_Alignas(8) static unsigned char small[1024];
	struct vmsg_arena sa;
	size_t cap = ALIGN8(NAME2_PAYLOAD) + sizeof(Vmsg__Control__Hello) +
		     ALIGN8(NAME2_LEN + 1);
	ASSERT_EQ(vmsg_arena_init(&sa, small, cap), 0);
	ASSERT_TRUE(vmsg_arena_alloc(&sa, 8) != NULL);
	ASSERT_EQ(vmsg_proto_recv(c, NULL, &sa, &type, &m, T_MS), -ENOMEM);
	ASSERT_EQ(vmsg_arena_used(&sa), 8);
	/* The payload fits, the decoded message does not: also -ENOMEM, and
	 * what the failed unpack allocated is given back. */
	ASSERT_EQ(vmsg_proto_recv(c, NULL, &sa, &type, &m, T_MS), -ENOMEM);
	ASSERT_EQ(vmsg_arena_used(&sa), 8);
	e = (Vmsg__Control__Error *)recv_as(c, &a, VMSG_TYPE_ERROR);
	ASSERT_TRUE(strcmp(e->text, "still here") == 0);

	ASSERT_GT(vmsg_proto_send_error(c, 0, "done", 0, T_MS), 0);
}

static void hello_client(vmsg_chan *c)
{
	struct vmsg_hello_info peer;
	ASSERT_EQ(vmsg_hello_exchange(c, "proto-test-client", &peer, T_MS), 0);
	check_peer(&peer, "proto-test-server");

	_Alignas(8) static unsigned char buf[4096];
	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(&a, buf, sizeof buf), 0);
	Vmsg__Control__Error *e =
		(Vmsg__Control__Error *)recv_as(c, &a, VMSG_TYPE_ERROR);
	ASSERT_EQ(e->code, -ENOENT);
	char text[128];
	snprintf(text, sizeof text, "echo: %s", e->text);
	ASSERT_GT(vmsg_proto_send_error(c, e->code, text, (uint16_t)e->ref_type,
					T_MS),
		  0);

	Vmsg__Control__Hello h = VMSG__CONTROL__HELLO__INIT;
	h.version = 42;
	h.name = "app";
	ASSERT_GT(vmsg_proto_send(c, APP_TYPE, &h.base, 0, T_MS), 0);

	/* Invalid sends. */
	ASSERT_EQ(vmsg_proto_send(c, VMSG_TYPE_PAD, &h.base, 0, T_MS), -EINVAL);
	ASSERT_EQ(vmsg_proto_send(c, APP_TYPE, NULL, 0, T_MS), -EINVAL);
	ASSERT_EQ(vmsg_proto_send(c, APP_TYPE, &h.base, 0x80, T_MS), -EINVAL);

	char *big = malloc(BIG_TEXT + 1);
	ASSERT_TRUE(big != NULL);
	for (size_t i = 0; i < BIG_TEXT; i++)
		big[i] = 'a' + (char)(i % 26);
	big[BIG_TEXT] = '\0';
	ASSERT_GT(BIG_TEXT, vmsg_chan_max_frame(c));
	int r = vmsg_proto_send_error(c, -EIO, big, 0, T_MS);
	ASSERT_GT(r, BIG_TEXT);
	free(big);

	ASSERT_EQ(vmsg_chan_send(c, RAW_TYPE, "raw", 3, 0, T_MS), 3);

	/* Too big for the server's small arena even as a payload... */
	char name[200];
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	h.name = name;
	ASSERT_GT(vmsg_proto_send(c, VMSG_TYPE_HELLO, &h.base, 0, T_MS), 0);
	/* ... and a payload that fits but decodes into more than is left. */
	char name2[NAME2_LEN + 1];
	memset(name2, 'm', NAME2_LEN);
	name2[NAME2_LEN] = '\0';
	h.name = name2;
	ASSERT_EQ(vmsg__control__hello__get_packed_size(&h), NAME2_PAYLOAD);
	ASSERT_GT(vmsg_proto_send(c, VMSG_TYPE_HELLO, &h.base, 0, T_MS), 0);
	ASSERT_GT(vmsg_proto_send_error(c, 0, "still here", 0, T_MS), 0);

	vmsg_arena_reset(&a);
	e = (Vmsg__Control__Error *)recv_as(c, &a, VMSG_TYPE_ERROR);
	ASSERT_TRUE(strcmp(e->text, "done") == 0);
}

/* ---- version ----------------------------------------------------------- */

/* After a refused Hello, read the Error the other side sent. */
static void expect_refusal(vmsg_chan *c)
{
	_Alignas(8) unsigned char buf[2048];
	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(&a, buf, sizeof buf), 0);
	Vmsg__Control__Error *e =
		(Vmsg__Control__Error *)recv_as(c, &a, VMSG_TYPE_ERROR);
	ASSERT_EQ(e->code, -EPROTONOSUPPORT);
	ASSERT_EQ(e->ref_type, VMSG_TYPE_HELLO);
	ASSERT_TRUE(strstr(e->text, "not supported") != NULL);
}

static void version_server(vmsg_chan *c)
{
	struct vmsg_hello_info peer;
	ASSERT_EQ(vmsg_hello_exchange(c, "v1", &peer, T_MS), -EPROTONOSUPPORT);
	ASSERT_EQ(peer.version, 2u << 16 | 7u);
	ASSERT_TRUE(strcmp(peer.name, "v2") == 0);
	ASSERT_EQ(peer.error_code, -EPROTONOSUPPORT);
	printf("server: %s\n", peer.error);
	ASSERT_TRUE(strstr(peer.error, "version 2.7 is not supported") != NULL);
	expect_refusal(c);
}

static void version_client(vmsg_chan *c)
{
	struct vmsg_hello_info ours, peer;
	vmsg_hello_info_init(&ours, "v2", VMSG_DEFAULT_MAX_MSG);
	ours.version = 2u << 16 | 7u;
	ASSERT_EQ(vmsg_hello_exchange_ex(c, &ours, &peer, T_MS),
		  -EPROTONOSUPPORT);
	ASSERT_EQ(peer.version, VMSG_PROTO_VERSION);
	ASSERT_EQ(peer.error_code, -EPROTONOSUPPORT);
	printf("client: %s\n", peer.error);
	ASSERT_TRUE(strstr(peer.error, "version 1.0 is not supported") != NULL);
	expect_refusal(c);
}

/* ---- garbage ------------------------------------------------------------- */

/* A Hello whose name claims 2^32 bytes, and one cut off mid-varint. */
static const uint8_t bad_len[] = { 0x08, 0x01, 0x22, 0x80, 0x80,
				   0x80, 0x80, 0x10, 'x' };
static const uint8_t bad_cut[] = { 0x08, 0xff, 0xff };

static void garbage_server(vmsg_chan *c)
{
	_Alignas(8) unsigned char buf[4096];
	struct vmsg_arena a;
	uint16_t type;
	ProtobufCMessage *m;
	ASSERT_EQ(vmsg_arena_init(&a, buf, sizeof buf), 0);

	/* Plain receives: -EBADMSG, consumed, nothing left in the arena. */
	ASSERT_EQ(vmsg_proto_recv(c, NULL, &a, &type, &m, T_MS), -EBADMSG);
	ASSERT_EQ(vmsg_proto_recv(c, NULL, &a, &type, &m, T_MS), -EBADMSG);
	ASSERT_EQ(vmsg_arena_used(&a), 0);
	ASSERT_EQ(vmsg_chan_state(c), VMSG_CHAN_OPEN);
	Vmsg__Control__Error *e =
		(Vmsg__Control__Error *)recv_as(c, &a, VMSG_TYPE_ERROR);
	ASSERT_TRUE(strcmp(e->text, "after garbage") == 0);

	/* A Hello exchange whose greeting is garbage. */
	struct vmsg_hello_info peer;
	ASSERT_EQ(vmsg_hello_exchange(c, "s", &peer, T_MS), -EBADMSG);
	/* ... whose greeting is not a control message at all. */
	ASSERT_EQ(vmsg_hello_exchange(c, "s", &peer, T_MS), -EBADMSG);
	/* ... answered with an Error: -ECONNREFUSED, its text kept, sanitized. */
	ASSERT_EQ(vmsg_hello_exchange(c, "s", &peer, T_MS), -ECONNREFUSED);
	ASSERT_EQ(peer.error_code, -EACCES);
	ASSERT_TRUE(strcmp(peer.error, "denied by policy?") == 0);
	/* ... and finally a good one: the channel survived all of that. */
	ASSERT_EQ(vmsg_hello_exchange(c, "s", &peer, T_MS), 0);
	ASSERT_TRUE(strcmp(peer.name, "c") == 0);
}

static void garbage_client(vmsg_chan *c)
{
	ASSERT_EQ(vmsg_chan_send(c, VMSG_TYPE_HELLO, bad_len, sizeof bad_len, 0,
				 T_MS),
		  (int)sizeof bad_len);
	ASSERT_EQ(vmsg_chan_send(c, VMSG_TYPE_ERROR, bad_cut, sizeof bad_cut, 0,
				 T_MS),
		  (int)sizeof bad_cut);
	ASSERT_GT(vmsg_proto_send_error(c, 0, "after garbage", 0, T_MS), 0);

	ASSERT_EQ(vmsg_chan_send(c, VMSG_TYPE_HELLO, bad_len, sizeof bad_len, 0,
				 T_MS),
		  (int)sizeof bad_len);
	ASSERT_EQ(vmsg_chan_send(c, RAW_TYPE, "hi", 2, 0, T_MS), 2);
	ASSERT_GT(vmsg_proto_send_error(c, -EACCES, "denied by policy\n", 0,
					T_MS),
		  0);

	/* The server's first three Hellos, then our good exchange. */
	_Alignas(8) unsigned char buf[2048];
	struct vmsg_arena a;
	ASSERT_EQ(vmsg_arena_init(&a, buf, sizeof buf), 0);
	for (int i = 0; i < 3; i++) {
		recv_as(c, &a, VMSG_TYPE_HELLO);
		vmsg_arena_reset(&a);
	}
	struct vmsg_hello_info peer;
	ASSERT_EQ(vmsg_hello_exchange(c, "c", &peer, T_MS), 0);
	ASSERT_TRUE(strcmp(peer.name, "s") == 0);
}

int main(void)
{
	run("hello", hello_server, hello_client);
	run("version", version_server, version_client);
	run("garbage", garbage_server, garbage_client);
	return 0;
}
