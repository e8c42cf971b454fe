/* vmsgctl: ask vmsgd over its control socket. Sends one request line and
 * copies the answer: "ok" then the body to stdout (exit 0), or
 * "error: TEXT" to stderr (exit 1). docs/vmsgd.md has the protocol. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/vmsgd.sock"

static void usage(FILE *f)
{
	fprintf(f, "usage: vmsgctl [--socket PATH] [--json] COMMAND\n"
		   "\n"
		   "commands:\n"
		   "  list domains     guest domains and their control channels\n"
		   "  list services    offered services\n"
		   "  list channels    channels brokered\n"
		   "  policy           the policy in force\n"
		   "  reload           re-read the policy file (as SIGHUP)\n"
		   "\n"
		   "  -s, --socket PATH  vmsgd's socket (default " DEFAULT_SOCKET
		   ")\n"
		   "  -j, --json         JSON instead of a table\n"
		   "  -h, --help         this text\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = DEFAULT_SOCKET;
	int json = 0, o;
	while ((o = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			path = optarg;
			break;
		case 'j':
			json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	char req[256];
	int n = argc - optind;
	if (n == 2 && !strcmp(argv[optind], "list") &&
	    (!strcmp(argv[optind + 1], "domains") ||
	     !strcmp(argv[optind + 1], "services") ||
	     !strcmp(argv[optind + 1], "channels")))
		snprintf(req, sizeof req, "list %s%s\n", argv[optind + 1],
			 json ? " json" : "");
	else if (n == 1 && !strcmp(argv[optind], "policy"))
		snprintf(req, sizeof req, "policy%s\n", json ? " json" : "");
	else if (n == 1 && !strcmp(argv[optind], "reload"))
		snprintf(req, sizeof req, "reload\n");
	else {
		usage(stderr);
		return 2;
	}

	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path) {
		fprintf(stderr, "vmsgctl: socket path too long\n");
		return 2;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		fprintf(stderr, "vmsgctl: cannot reach vmsgd at %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	size_t len = strlen(req);
	if (write(s, req, len) != (ssize_t)len) {
		fprintf(stderr, "vmsgctl: write: %s\n", strerror(errno));
		return 1;
	}
	/* Read everything, then judge the first line. */
	size_t cap = 4096, got = 0;
	char *buf = malloc(cap);
	for (;;) {
		if (!buf)
			return 1;
		if (got + 1 >= cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			continue;
		}
		ssize_t r = read(s, buf + got, cap - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			fprintf(stderr, "vmsgctl: read: %s\n", strerror(errno));
			return 1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(s);
	buf[got] = '\0';
	int rc;
	if (!strncmp(buf, "ok\n", 3)) {
		fputs(buf + 3, stdout);
		rc = 0;
	} else if (!strncmp(buf, "error: ", 7)) {
		fprintf(stderr, "vmsgctl: %s", buf + 7);
		rc = 1;
	} else {
		fprintf(stderr, "vmsgctl: no answer from vmsgd\n");
		rc = 1;
	}
	free(buf);
	return rc;
}
