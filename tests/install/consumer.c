/* A program built against an installed libvmsg through pkg-config, as an
 * application would be: it checks a few plain calls, then sends one ping and
 * gets one pong over the host backend between two processes.
 * Exit 0 on success; the reason on stderr otherwise. */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmsg/chan.h>
#include <vmsg/frame.h>
#include <vmsg/host.h>

#define TYPE_PING VMSG_TYPE_APP_MIN
#define TYPE_PONG (VMSG_TYPE_APP_MIN + 1)
#define TIMEOUT_MS 20000

static int fail(const char *who, const char *what, int err)
{
	fprintf(stderr, "consumer %s: %s: %d (%s)\n", who, what, err,
		vmsg_strerror(err));
	return 1;
}

/* Child: connect, send "ping", expect "pong". */
static int client(const char *path, const struct vmsg_chan_opts *o)
{
	vmsg_chan *c;
	char buf[16];
	uint16_t type = 0;
	int r = vmsg_host_connect(&c, path, o, TIMEOUT_MS);
	if (r < 0)
		return fail("client", "connect", r);
	r = vmsg_chan_send(c, TYPE_PING, "ping", 4, 0, TIMEOUT_MS);
	if (r != 4) {
		vmsg_chan_close(c);
		return fail("client", "send", r);
	}
	r = vmsg_chan_recv(c, &type, buf, sizeof(buf), TIMEOUT_MS);
	vmsg_chan_close(c);
	if (r < 0)
		return fail("client", "recv", r);
	if (r != 4 || type != TYPE_PONG || memcmp(buf, "pong", 4) != 0)
		return fail("client", "unexpected reply", -EPROTO);
	return 0;
}

/* Parent: serve, wait for the client, answer its ping. */
static int server(const char *path, const struct vmsg_chan_opts *o)
{
	vmsg_chan *c;
	char buf[16];
	uint16_t type = 0;
	int r = vmsg_host_serve(&c, path, o);
	if (r < 0)
		return fail("server", "serve", r);
	r = vmsg_chan_accept(c, TIMEOUT_MS);
	if (r < 0)
		goto out;
	r = vmsg_chan_recv(c, &type, buf, sizeof(buf), TIMEOUT_MS);
	if (r < 0)
		goto out;
	if (r != 4 || type != TYPE_PING || memcmp(buf, "ping", 4) != 0) {
		vmsg_chan_close(c);
		return fail("server", "unexpected message", -EPROTO);
	}
	r = vmsg_chan_send(c, TYPE_PONG, "pong", 4, 0, TIMEOUT_MS);
out:
	vmsg_chan_close(c);
	return r < 0 ? fail("server", "accept/recv/send", r) : 0;
}

int main(void)
{
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	if (o.max_msg != VMSG_DEFAULT_MAX_MSG) {
		fprintf(stderr, "consumer: vmsg_chan_opts_init: max_msg %zu\n",
			o.max_msg);
		return 1;
	}
	const char *s = vmsg_strerror(-EPROTO);
	if (s == NULL || s[0] == '\0') {
		fprintf(stderr, "consumer: vmsg_strerror(-EPROTO) is empty\n");
		return 1;
	}

	const char *tmp = getenv("TMPDIR");
	char dir[4096], path[4200];
	snprintf(dir, sizeof(dir), "%s/vmsg-consumer.XXXXXX",
		 tmp && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("consumer: mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/sock", dir);

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("consumer: fork");
		rmdir(dir);
		return 1;
	}
	if (pid == 0)
		exit(client(path, &o)); /* exit, not _exit: LeakSanitizer runs at exit */

	int rc = server(path, &o);
	int status;
	if (rc != 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "consumer: client did not exit 0 (status 0x%x)\n",
			status);
		rc = 1;
	}
	unlink(path); /* the server removes it; in case it did not */
	rmdir(dir);
	if (rc == 0)
		printf("consumer: ping/pong over %s ok\n", path);
	return rc;
}
