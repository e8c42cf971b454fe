/* Host mode (docs/vmsgd.md, "Host mode"): vmsgd between processes of one
 * machine, with no Xen. Instead of xenstore's list of domains, clients
 * arrive on host_dir/vmsgd.sock; each connection is a client of its own
 * (a session with a number in place of a domid), known by the uid and pid
 * the kernel gives (SO_PEERCRED), and the policy names users. vmsgd serves
 * its control channel on the host backend at host_dir/ctl/<n> (only that
 * uid may connect), answers "ok <n> <path>\n" and closes the connection;
 * lib/service/env_host.c is the other side. Each client costs vmsgd
 * fds until it goes, connected or not: a user holds at most
 * max_clients_per_user of them, all users max_host_clients (room_for);
 * one more is answered "error -EUSERS <why>". A provider serves its
 * channels inside host_dir/c/<n>, a folder vmsgd makes for it: its own
 * and mode 0711, so nobody else can put a socket there and a consumer
 * reaches a path it is told without listing the folder.
 *
 * Layout of host_dir (made at start, mode 0711, what a killed vmsgd left
 * inside removed):
 *   vmsgd.sock     the rendezvous (mode 0666: the policy decides)
 *   ctl/<n>        client n's control channel, served by vmsgd
 *   c/<n>/<id>     channel id, served by provider n */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <vmsg/host.h>
#include <vmsg/xen.h>

#include "vmsgd.h"

/* Remove what is inside dir; folders `depth` levels down too. */
static void clear_dir(const char *dir, int depth)
{
	DIR *dp = opendir(dir);
	if (!dp)
		return;
	struct dirent *e;
	while ((e = readdir(dp)) != NULL) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char p[PATH_MAX];
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (depth > 0) {
				clear_dir(p, depth - 1);
				(void)rmdir(p);
			}
		} else {
			(void)unlink(p);
		}
	}
	closedir(dp);
}

/* A folder of ours with `mode` whatever the umask; an existing one must
 * be ours and a folder. */
static int own_dir(const char *p, mode_t mode)
{
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	struct stat st;
	if (lstat(p, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid())
		return -EEXIST;
	return chmod(p, mode) < 0 ? -errno : 0;
}

/* The name of user `uid`, or its number. */
static void user_name(uint32_t uid, char *buf, size_t cap)
{
	struct passwd *pw = getpwuid((uid_t)uid);
	if (pw && strlen(pw->pw_name) < cap)
		snprintf(buf, cap, "%s", pw->pw_name);
	else
		snprintf(buf, cap, "%u", (unsigned)uid);
}

static void user_of(struct session *s)
{
	user_name(s->uid, s->user, sizeof s->user);
}

/* ---- the host world of a session (struct session_ops) */

static int host_serve(struct session *s, vmsg_chan **out, char *path,
		      size_t cap)
{
	struct vmsgd *d = s->d;
	snprintf(path, cap, "%s/ctl/%u", d->host_dir, (unsigned)s->num);
	struct vmsg_chan_opts o;
	vmsg_chan_opts_init(&o);
	o.max_msg = VMSG_CTL_MSG_MAX;
	struct vmsg_host_opts ho;
	vmsg_host_opts_init(&ho);
	ho.peer_uid = (uid_t)s->uid; /* the client's uid, and no other */
	ho.mode = (uid_t)s->uid == geteuid() ? 0600 : 0666;
	int r = vmsg_host_serve_opts(out, path, &o, &ho);
	if (r < 0)
		vmsgd_log(LOG_WARN, "domain %u: cannot serve its control "
				    "channel at %s: %s",
			  (unsigned)s->num, path, vmsg_strerror(r));
	return r;
}

/* The client's folder for the channels it serves: its own, 0711. */
static int host_mark(struct session *s, bool on)
{
	struct vmsgd *d = s->d;
	char p[PATH_MAX];
	snprintf(p, sizeof p, "%s/c/%u", d->host_dir, (unsigned)s->num);
	if (!on) {
		clear_dir(p, 0);
		(void)rmdir(p);
		return 0;
	}
	user_of(s);
	clear_dir(p, 0); /* an earlier client's of this number */
	(void)rmdir(p);
	if (mkdir(p, 0700) < 0) {
		int r = -errno;
		vmsgd_log(LOG_WARN, "cannot make %s: %s", p, strerror(errno));
		return r;
	}
	if ((uid_t)s->uid != geteuid() &&
	    chown(p, (uid_t)s->uid, (gid_t)-1) < 0) {
		/* Only root gives a folder away. Not logged here: the
		 * refusal is, within the log budget (on_client), since such
		 * a user may connect in a loop. */
		(void)rmdir(p);
		return -EACCES;
	}
	if (chmod(p, 0711) < 0) {
		int r = -errno;
		(void)rmdir(p);
		return r;
	}
	return 0;
}

static void host_chan_path(struct vmsgd *d, uint16_t provider, uint32_t id,
			   char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/c/%u/%u", d->host_dir, (unsigned)provider,
		 id);
}

const struct session_ops host_session_ops = {
	.serve = host_serve,
	.mark = host_mark,
	.chan_path = host_chan_path,
	.respawn = false,
};

/* ---- the rendezvous */

/* A free client number: numbers go round (1..32751) so that a new
 * client seldom gets a number a recent one had. */
static int new_number(struct vmsgd *d)
{
	for (unsigned i = 0; i < VMSG_DOMID_LIMIT; i++) {
		if (++d->next_client == 0 ||
		    d->next_client >= VMSG_DOMID_LIMIT)
			d->next_client = 1;
		if (!session_find(d, d->next_client))
			return d->next_client;
	}
	return -EUSERS;
}

/* Room for one more client of user `uid` (docs/vmsgd.md, "Limits"): 0,
 * or -EUSERS and, in why, the limit it would pass. What counts is every
 * client vmsgd holds, those whose control channel still waits for them
 * too: each costs vmsgd a socket and more fds (RL_HOST_CLIENTS) until it
 * goes, and a user that connects here in a loop must not take them all.
 * The user's own limit first: a user who floods is told of its own. */
static int room_for(struct vmsgd *d, uint32_t uid, char *why, size_t cap)
{
	const struct rl_limits *l = &d->pol.limits;
	uint32_t mine, all;
	session_count_clients(d, uid, &mine, &all);
	if (mine >= l->max_clients_per_user) {
		snprintf(why, cap, "uid %u has %u clients on vmsgd, its limit "
				   "(max_clients_per_user)",
			 (unsigned)uid, (unsigned)mine);
		return -EUSERS;
	}
	if (all >= l->max_host_clients) {
		snprintf(why, cap, "vmsgd has %u clients, its limit "
				   "(max_host_clients)",
			 (unsigned)all);
		return -EUSERS;
	}
	return 0;
}

/* A refusal at the rendezvous, logged within the log budget (log_burst,
 * then log_per_s lines), whoever it was: a client refused connects again
 * at once (its library retries until its deadline, a hostile one in a
 * loop), and each time would be a line. The next line logged says how
 * many were not. */
static void log_refusal(struct vmsgd *d, const struct ucred *cred,
			const char *why)
{
	uint32_t sup = 0;
	if (!rl_log(&d->host_rl, &d->pol.limits, vmsgd_now_ms(), &sup))
		return;
	char more[48] = "", user[33];
	if (sup)
		snprintf(more, sizeof more, " (%u more not logged)", sup);
	user_name(cred->uid, user, sizeof user);
	vmsgd_log(LOG_WARN, "host client (user %s, uid %u, pid %d) refused: "
			    "%s%s",
		  user, (unsigned)cred->uid, (int)cred->pid, why, more);
}

/* One line to the client, on a socket with an empty buffer: it fits. */
static void answer(int fd, const char *line)
{
	(void)!send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void on_client(uv_stream_t *srv, int status)
{
	struct vmsgd *d = srv->data;
	if (status < 0 || d->stopping)
		return;
	uv_pipe_t *c = malloc(sizeof *c);
	if (!c || uv_pipe_init(d->loop, c, 0) < 0) {
		free(c);
		return;
	}
	if (uv_accept(srv, (uv_stream_t *)c) < 0) {
		uv_close((uv_handle_t *)c, (uv_close_cb)free);
		return;
	}
	uv_os_fd_t fd;
	struct ucred cred;
	socklen_t len = sizeof cred;
	char line[256];
	int n = -1;
	if (uv_fileno((uv_handle_t *)c, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		uv_close((uv_handle_t *)c, (uv_close_cb)free);
		return;
	}
	char why[160] = "";
	int r = room_for(d, cred.uid, why, sizeof why);
	if (r == 0 && (r = new_number(d)) > 0) {
		n = r;
		r = session_new(d, (uint16_t)n, cred.uid, cred.pid);
	}
	/* host_mark's refusal: only root gives a folder away. */
	if (r == -EACCES && geteuid() != 0 && cred.uid != geteuid())
		snprintf(why, sizeof why, "vmsgd runs as uid %u and cannot "
					  "give this user a folder; run "
					  "vmsgd as root to serve several "
					  "users",
			 (unsigned)geteuid());
	if (r < 0) {
		if (!why[0]) /* not a limit: no number, or not served */
			snprintf(why, sizeof why, "%s", vmsg_strerror(r));
		log_refusal(d, &cred, why);
		snprintf(line, sizeof line, "error %d %s\n", r, why);
	} else {
		snprintf(line, sizeof line, "ok %d %s/ctl/%d\n", n,
			 d->host_dir, n);
	}
	answer(fd, line);
	uv_close((uv_handle_t *)c, (uv_close_cb)free);
}

int host_start(struct vmsgd *d)
{
	char p[PATH_MAX];
	int r = own_dir(d->pol.host_dir, 0711);
	if (r < 0) {
		vmsgd_log(LOG_ERROR, "host_dir %s: %s", d->pol.host_dir,
			  r == -EEXIST ? "exists and is not a folder of ours"
				       : strerror(-r));
		return -1;
	}
	/* Its real path, as clients name it (env_host.c resolves theirs):
	 * the paths vmsgd hands out must begin with it. Read at start only:
	 * a reload does not move it. */
	errno = 0;
	if (!realpath(d->pol.host_dir, p) || strlen(p) > HOST_DIR_MAX) {
		vmsgd_log(LOG_ERROR, "host_dir %s: %s", d->pol.host_dir,
			  errno ? strerror(errno) : "its real path is too long");
		return -1;
	}
	memcpy(d->host_dir, p, strlen(p) + 1); /* fits: checked above */
	const char *dir = d->host_dir;
	snprintf(d->host_sock_path, sizeof d->host_sock_path, "%s/vmsgd.sock",
		 dir);
	/* A live vmsgd there answers; a killed one's socket does not. */
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", d->host_sock_path);
	if (probe >= 0 &&
	    connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
		close(probe);
		vmsgd_log(LOG_ERROR, "another vmsgd serves host mode at %s",
			  d->host_sock_path);
		d->host_sock_path[0] = '\0';
		return -1;
	}
	if (probe >= 0)
		close(probe);
	(void)unlink(d->host_sock_path);
	const char *sub[2] = {"ctl", "c"};
	for (int i = 0; i < 2; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, sub[i]);
		clear_dir(p, 1); /* a killed vmsgd's */
		if ((r = own_dir(p, 0711)) < 0) {
			vmsgd_log(LOG_ERROR, "%s: %s", p, strerror(-r));
			return -1;
		}
	}
	if ((r = uv_pipe_init(d->loop, &d->host_sock, 0)) < 0) {
		vmsgd_log(LOG_ERROR, "cannot listen on %s: %s",
			  d->host_sock_path, uv_strerror(r));
		return -1;
	}
	d->host_sock.data = d;
	d->host_open = true;
	if ((r = uv_pipe_bind(&d->host_sock, d->host_sock_path)) == 0 &&
	    chmod(d->host_sock_path, 0666) < 0) /* the policy decides */
		r = uv_translate_sys_error(errno);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&d->host_sock, 128, on_client);
	if (r < 0) {
		vmsgd_log(LOG_ERROR, "cannot listen on %s: %s",
			  d->host_sock_path, uv_strerror(r));
		return -1;
	}
	vmsgd_log(LOG_INFO, "host mode: clients at %s", d->host_sock_path);
	return 0;
}

void host_stop(struct vmsgd *d)
{
	if (!d->host_open)
		return;
	d->host_open = false;
	uv_close((uv_handle_t *)&d->host_sock, NULL);
	if (d->host_sock_path[0])
		(void)unlink(d->host_sock_path);
}
