/* The echo appliance's cmdline check (echo_args.h). Before this check an
 * unknown key was ignored and a bad value read as the default, so
 * `role=clinet` quietly served and `--help` waited for a client. */
#include "echo_args.h"

#include <vmsg/guest.h>
#include <vmsg/guest_args.h>
#include <vmsg/service.h>
#include <vmsg/xen.h>

/* The lengths match echo.c's buffers (port, open: 31 bytes); numbers are
 * capped where echo.c would misread a larger one. */
static const struct guest_arg keys[] = {
	{"port", GUEST_ARG_NAME, 1, 31, 0, 0},
	{"peer", GUEST_ARG_UINT, 0, VMSG_DOMID_LIMIT - 1, 0, 0},
	{"mode", GUEST_ARG_WORDS, 0, 0, "msg|raw", 0},
	{"clients", GUEST_ARG_UINT, 0, 1000000000u, 0, 0},
	{"cksum", GUEST_ARG_WORDS, 0, 0, "0|1", 0},
	{"role", GUEST_ARG_WORDS, 0, 0, "server|client", 0},
	{"count", GUEST_ARG_UINT, 0, 1000000000u, 0, 0},
	{"size", GUEST_ARG_UINT, 1, 1u << 20, 0, 0},
	{"open", GUEST_ARG_NAME, 1, 31, 0, 0},
	{"again", GUEST_ARG_UINT, 0, 3600000u, 0, 0},
	{"vmsgd", GUEST_ARG_WORDS, 0, 0, "0|1", 0},
	{"svc", GUEST_ARG_NAME, 1, VMSG_SERVICE_NAME_MAX, 0, 0},
	{"forward", GUEST_ARG_NAME, 1, VMSG_SERVICE_NAME_MAX, 0, 0},
	{"multi", GUEST_ARG_UINT, 1, 16, 0, 0},
	{"gate", GUEST_ARG_UINT, 1, 16, 0, 0},
	{"wait", GUEST_ARG_UINT, 1, 3600, 0, 0},
	GUEST_ARGS_SDK,
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const char usage[] =
	"usage: echo-appliance [KEY=VALUE ...] (the unikernel: the xl cmdline)\n"
	"serve an echo channel (the default):\n"
	"  port=NAME     channel /local/domain/<us>/data/vchan/<peer>/NAME (echo)\n"
	"  peer=DOMID    the client's domain (0)\n"
	"  mode=msg|raw  echo typed messages (msg) or a byte stream (raw)\n"
	"  clients=N     stop after N clients (0: never)\n"
	"  multi=N       serve N channels at once (1..16), NAME0..NAME<N-1>\n"
	"  cksum=0|1     print a checksum of what each client sent\n"
	"be the client of an echo channel:\n"
	"  role=client   connect to domain peer's port, send count=N messages\n"
	"through vmsgd:\n"
	"  vmsgd=1       offer service svc=NAME (echo) and echo on each channel,\n"
	"                up to 16 at once; clients=N: stop after N channels;\n"
	"                forward=OTHER: pass each consumer's messages on to\n"
	"                service OTHER and its replies back (a layer);\n"
	"                gate=N: echo nothing until N channels are open at\n"
	"                once (1..16)\n"
	"  open=NAME     open service NAME: count=N (100) messages of 1..size=B\n"
	"                (40000, at most 1048576) bytes, each echo checked;\n"
	"                again=MS: once more after MS ms\n"
	"  wait=S        with vmsgd=1 or open=: wait up to S s (1..3600, 120)\n"
	"                for vmsgd to serve this domain's control channel\n"
	"the Linux program (echo-appliance) also takes:\n"
	"  host=DIR      host backend: channels are UNIX sockets in DIR\n"
	"  domid=N       the domain number to report with host=\n";

int echo_args_check(const char *cmdline)
{
	return guest_args_check("echo-appliance", usage, keys, NKEYS, cmdline);
}
