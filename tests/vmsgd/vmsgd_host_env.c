/* vmsgd_host_env: the host-mode client's world (lib/service/env_host.c)
 * lets in only the uid vmsgd names. A provider's served channel for a
 * consumer of uid U refuses a process of any other uid (-EACCES at the
 * connecting end), and its socket file lets U reach it (0666 when U is not
 * ours, 0600 when it is); a consumer told the provider runs as U refuses a
 * server of another uid. The served channel for our own uid connects (the
 * control). Also: the paths vmsgd may ask us to serve at are
 * DIR/c/<n>/ with DIR the real path of $VMSG_HOST_VMSGD (a relative one,
 * through a link, still matches vmsgd's), and nothing is host mode without
 * the variable. Needs no root: the other uid is one we are not. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmsg/chan.h>

#include "../../lib/service/env_linux.h"
#include "vmsg_test.h"

static const struct vmsg__svc_env *env = &vmsg__svc_host_env;

/* A child that serves one channel at path for peer_uid and waits for a
 * client (the host backend answers connects from inside its calls); the
 * socket file's mode in *mode once it is there. */
static pid_t serve_child(const char *path, uint32_t peer_uid, int *mode)
{
	int p[2];
	ASSERT_EQ(pipe(p), 0);
	pid_t pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct vmsg_chan_opts o;
		vmsg_chan_opts_init(&o);
		vmsg_chan *c;
		int m = -1;
		struct stat st;
		if (env->serve(&c, 1, peer_uid, path, &o) == 0 &&
		    stat(path, &st) == 0)
			m = (int)(st.st_mode & 0777);
		if (write(p[1], &m, sizeof m) != (ssize_t)sizeof m || m < 0)
			_exit(1);
		(void)vmsg_chan_accept(c, 5000);
		_exit(0);
	}
	close(p[1]);
	ASSERT_EQ(read(p[0], mode, sizeof *mode), (ssize_t)sizeof *mode);
	close(p[0]);
	ASSERT_GE(*mode, 0);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGTERM);
	int st;
	ASSERT_EQ(waitpid(pid, &st, 0), pid);
}

int main(void)
{
	const char *base = getenv("TMPDIR");
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s/vmsgd_host_env.XXXXXX",
		 base && strlen(base) < 60 ? base : "/tmp");
	ASSERT_TRUE(mkdtemp(dir) != NULL);
	uint32_t me = (uint32_t)geteuid();
	uint32_t other = me == 65534 ? 65533 : 65534;
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	vmsg_chan *c;
	int mode;
	char path[PATH_MAX + 32];

	/* Not host mode without the variable (or with it empty). */
	unsetenv("VMSG_HOST_VMSGD");
	ASSERT_TRUE(vmsg__svc_host_dir() == NULL);
	setenv("VMSG_HOST_VMSGD", "", 1);
	ASSERT_TRUE(vmsg__svc_host_dir() == NULL);

	/* The prefix is under the real path, however the variable says it. */
	char link[PATH_MAX + 8], real[PATH_MAX], prefix[PATH_MAX + 32];
	ASSERT_TRUE(realpath(dir, real) != NULL);
	snprintf(link, sizeof link, "%s/l", dir);
	ASSERT_EQ(symlink(real, link), 0);
	setenv("VMSG_HOST_VMSGD", link, 1);
	ASSERT_GT(env->serve_prefix(prefix, sizeof prefix, 7), 0);
	char want[PATH_MAX + 32];
	snprintf(want, sizeof want, "%s/c/7/", real);
	ASSERT_EQ(strcmp(prefix, want), 0);
	ASSERT_EQ(unlink(link), 0);

	/* Served for another uid: reachable by it, refused to us. */
	snprintf(path, sizeof path, "%s/for-other", dir);
	pid_t pid = serve_child(path, other, &mode);
	ASSERT_EQ(mode, 0666);
	ASSERT_EQ(env->connect(&c, 1, me, path, &o, 3000), -EACCES);
	reap(pid);
	unlink(path);

	/* Served for us: connects (the control). */
	snprintf(path, sizeof path, "%s/for-me", dir);
	pid = serve_child(path, me, &mode);
	ASSERT_EQ(mode, 0600);
	ASSERT_EQ(env->connect(&c, 1, me, path, &o, 3000), 0);
	vmsg_chan_close(c);
	reap(pid);
	unlink(path);

	/* A consumer told the provider runs as another uid refuses ours. */
	snprintf(path, sizeof path, "%s/squat", dir);
	pid = serve_child(path, me, &mode);
	ASSERT_EQ(env->connect(&c, 1, other, path, &o, 3000), -EACCES);
	reap(pid);
	unlink(path);

	rmdir(dir);
	printf("vmsgd_host_env: ok (uid %u; the other uid %u refused both "
	       "ways)\n",
	       me, other);
	return 0;
}
