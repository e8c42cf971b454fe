/* vmsgctl: ask vmsgd over its control socket. Sends one request line and
 * copies the answer: "ok" then the body to stdout (exit 0), or
 * "error: TEXT" to stderr (exit 1). docs/vmsgd.md has the protocol. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <vmsg/version.h>

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
		   "  -V, --version      the version, then exit\n"
		   "  -h, --help         this text\n"
		   "\n"
		   "Exit status: 0 answered, 1 vmsgd refused or could not be\n"
		   "reached, 2 bad usage.\n");
}

/* Builds the request line for the command words, or says which word is
 * wrong (and returns false). */
static bool make_request(int n, char **w, bool json, char *req, size_t cap)
{
	const char *js = json ? " json" : "";
	if (n == 0) {
		fprintf(stderr, "vmsgctl: no command given (list domains, list "
				"services, list channels, policy, reload; see "
				"vmsgctl --help)\n");
		return false;
	}
	if (!strcmp(w[0], "list")) {
		if (n < 2) {
			fprintf(stderr, "vmsgctl: 'list' of what? (domains, "
					"services or channels)\n");
			return false;
		}
		if (strcmp(w[1], "domains") && strcmp(w[1], "services") &&
		    strcmp(w[1], "channels")) {
			fprintf(stderr, "vmsgctl: cannot list '%s' (domains, "
					"services or channels)\n",
				w[1]);
			return false;
		}
		if (n > 2) {
			fprintf(stderr, "vmsgctl: unexpected '%s' after "
					"'list %s'\n",
				w[2], w[1]);
			return false;
		}
		snprintf(req, cap, "list %s%s\n", w[1], js);
		return true;
	}
	if (!strcmp(w[0], "policy") || !strcmp(w[0], "reload")) {
		if (n > 1) {
			fprintf(stderr, "vmsgctl: unexpected '%s' after '%s'\n",
				w[1], w[0]);
			return false;
		}
		snprintf(req, cap, "%s%s\n", w[0],
			 !strcmp(w[0], "policy") ? js : "");
		return true;
	}
	fprintf(stderr, "vmsgctl: unknown command '%s' (list, policy, reload; "
			"see vmsgctl --help)\n",
		w[0]);
	return false;
}

/* Why the socket could not be reached, in an operator's terms. */
static void say_unreachable(const char *path, int err)
{
	const char *hint;
	switch (err) {
	case ENOENT:
		hint = "no such socket: is vmsgd running? (its control_socket, "
		       "or vmsgctl --socket PATH)";
		break;
	case ECONNREFUSED:
		hint = "nobody listens there (a stale socket of a vmsgd that "
		       "died?): is vmsgd running?";
		break;
	case EACCES:
	case EPERM:
		hint = "permission denied: the socket is for root and vmsgd's "
		       "own user (run as root)";
		break;
	default:
		hint = strerror(err);
	}
	fprintf(stderr, "vmsgctl: cannot reach vmsgd at %s: %s\n", path, hint);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *path = DEFAULT_SOCKET;
	int json = 0, o;
	while ((o = getopt_long(argc, argv, "s:jhV", opts, NULL)) != -1) {
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
		case 'V':
			printf("vmsgctl %s\n", vmsg_version());
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	char req[256];
	if (!make_request(argc - optind, argv + optind, json, req, sizeof req))
		return 2;

	struct sockaddr_un a = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof a.sun_path) {
		fprintf(stderr, "vmsgctl: socket path too long\n");
		return 2;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0) {
		say_unreachable(path, errno);
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
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				return 1;
			}
			buf = nb;
			cap *= 2;
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
