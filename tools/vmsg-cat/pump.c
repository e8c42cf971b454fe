/* vmsg-cat: the copy loop. One poll() over stdin, stdout, the channel's fd
 * and the signal pipe; the channel is only ever called with timeout 0, so
 * the loop sleeps in poll() alone. A channel call that returns -EAGAIN has
 * asked the peer for the kick that makes the fd readable again (chan.h),
 * so every wait on the channel ends in a wake-up, never in a spin.
 *
 * Ending: vchan has no half-close. At stdin's EOF, once everything read
 * from it is in the ring, we keep copying the channel to stdout until the
 * peer closes, or for at most --linger ms, then close (which the peer sees
 * after the last byte we sent). When the peer closes first, we copy out
 * what it sent and stop reading stdin. */
#define _GNU_SOURCE
#include "cat.h"
#include "vmsg_clock.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (64u * 1024u) /* one stdin read; one framed message at most */

struct pump {
	const struct cat_opts *o;
	vmsg_chan *c;
	int in_fd, out_fd;     /* stdin and stdout, or a command's pipes */
	const char *out_name;  /* for messages: "stdout" or "the command" */
	/* channel -> stdout */
	uint8_t *rbuf;         /* raw reads land here */
	const uint8_t *out;    /* still to write to stdout */
	size_t out_len;
	bool peeked;           /* framed: out points into a peeked message */
	bool peer_closed;
	/* stdin -> channel */
	uint8_t *wbuf;
	size_t in_off, in_len; /* wbuf[in_off, in_len) still to send */
	bool stdin_ready, stdin_eof;
	/* stats for --verbose */
	uint64_t bytes_in, bytes_out;
	int status; /* CAT_EXIT_FAIL once something went wrong */
};

/* Channel -> out: one read or peek. Returns true on progress. */
static bool chan_in(struct pump *p)
{
	struct vmsg_msg m;
	int r;

	if (p->out_len || p->peeked || p->peer_closed || p->status)
		return false;
	if (p->o->framed) {
		r = vmsg_chan_peek(p->c, &m, 0);
		if (r >= 0) {
			/* Copied to stdout as they are: nothing here parses
			 * the (untrusted, shared) bytes. */
			p->out = m.data;
			p->out_len = m.len;
			p->peeked = true;
			p->bytes_in += m.len;
			return true;
		}
	} else {
		r = vmsg_chan_read(p->c, p->rbuf, CHUNK, 0);
		if (r > 0) {
			p->out = p->rbuf;
			p->out_len = (size_t)r;
			p->bytes_in += (uint64_t)r;
			return true;
		}
	}
	switch (r) {
	case -EAGAIN:
		return false;
	case -EPIPE:
		cat_info(p->o, "the peer closed the channel");
		p->peer_closed = true;
		return true;
	case -EMSGSIZE: /* framed: an over-size message was dropped */
		cat_err("dropped a received message larger than %d bytes "
			"(see --max-msg)", vmsg_chan_max_msg(p->c));
		return true;
	default:
		/* A framed side reads a raw peer's bytes as frame headers. */
		cat_err("receiving from %s: %s%s", cat_addr(p->o),
			cat_strerror(r),
			r == -EPROTO && p->o->framed
				? " (does the peer use --framed too? a raw "
				  "byte stream is not frames)"
				: "");
		p->status = CAT_EXIT_FAIL;
		return true;
	}
}

/* out -> stdout: one write. */
static bool out_write(struct pump *p)
{
	ssize_t n;

	if (p->status || (!p->out_len && !p->peeked))
		return false;
	if (p->out_len) {
		n = write(p->out_fd, p->out, p->out_len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return false;
			cat_err("writing to %s: %s", p->out_name,
				strerror(errno));
			p->status = CAT_EXIT_FAIL;
			return true;
		}
		p->out += n;
		p->out_len -= (size_t)n;
		p->bytes_out += (uint64_t)n;
	}
	if (!p->out_len && p->peeked) { /* all of it written: consume it */
		int r = vmsg_chan_release(p->c);
		if (r < 0) {
			cat_err("receiving from %s: %s", cat_addr(p->o),
				cat_strerror(r));
			p->status = CAT_EXIT_FAIL;
		}
		p->peeked = false;
	}
	return true;
}

/* stdin -> wbuf: one read, only after poll() said it will not block. */
static bool stdin_read(struct pump *p)
{
	ssize_t n;

	if (!p->stdin_ready || p->in_len || p->stdin_eof || p->peer_closed ||
	    p->status)
		return false;
	p->stdin_ready = false;
	n = read(p->in_fd, p->wbuf, CHUNK);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return false;
		cat_err("reading stdin: %s", strerror(errno));
		p->status = CAT_EXIT_FAIL;
		return true;
	}
	if (n == 0) {
		cat_info(p->o, "end of stdin");
		p->stdin_eof = true;
	}
	p->in_off = 0;
	p->in_len = (size_t)n;
	return true;
}

/* wbuf -> channel. Raw: as much as fits. Framed: the chunk is one message;
 * a message sent in fragments that did not all fit goes on at the next
 * call with the same arguments (chan.h). */
static bool chan_out(struct pump *p)
{
	int r;

	if (p->in_off == p->in_len || p->peer_closed || p->status)
		return false;
	if (p->o->framed)
		r = vmsg_chan_send(p->c, p->o->type, p->wbuf, p->in_len, 0, 0);
	else
		r = vmsg_chan_write(p->c, p->wbuf + p->in_off,
				    p->in_len - p->in_off, 0);
	if (r >= 0) {
		p->in_off = p->o->framed ? p->in_len : p->in_off + (size_t)r;
		if (p->in_off == p->in_len)
			p->in_off = p->in_len = 0;
		return true;
	}
	switch (r) {
	case -EAGAIN:
		return false;
	case -EPIPE: /* the peer is gone; cat_pump() reports the rest */
		cat_info(p->o, "the peer closed the channel");
		p->peer_closed = true;
		return true;
	default:
		cat_err("sending to %s: %s", cat_addr(p->o), cat_strerror(r));
		p->status = CAT_EXIT_FAIL;
		return true;
	}
}

/* Make the output non-blocking if it is a pipe or a socket, so that a slow
 * reader never stalls the other direction; *restore gets the old flags. */
static int out_nonblock(int fd, int *restore)
{
	struct stat st;
	int fl;

	*restore = -1;
	if (fstat(fd, &st) < 0 ||
	    !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode)))
		return 0;
	if ((fl = fcntl(fd, F_GETFL)) < 0)
		return -errno;
	if (!(fl & O_NONBLOCK)) {
		if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
			return -errno;
		*restore = fl;
	}
	return 0;
}

int cat_pump(const struct cat_opts *o, vmsg_chan *c, int in_fd, int out_fd,
	     int stop_fd, volatile int *stop)
{
	struct pump p = { .o = o, .c = c, .in_fd = in_fd, .out_fd = out_fd,
			  .out_name = out_fd == STDOUT_FILENO ? "stdout"
							      : "the command" };
	int64_t linger_end = -1;
	int cfd = vmsg_chan_fd(c), restore;

	p.rbuf = malloc(CHUNK);
	p.wbuf = malloc(CHUNK);
	if (!p.rbuf || !p.wbuf) {
		cat_err("out of memory");
		p.status = CAT_EXIT_FAIL;
	} else if (cfd < 0) {
		cat_err("%s has no pollable fd: %s", cat_addr(o),
			cat_strerror(cfd));
		p.status = CAT_EXIT_FAIL;
	}
	out_nonblock(out_fd, &restore);

	while (!p.status) {
		bool progress;

		do {
			progress = chan_in(&p);
			progress |= out_write(&p);
			progress |= stdin_read(&p);
			progress |= chan_out(&p);
		} while (progress && !p.status);
		if (p.status)
			break;

		/* Done? The peer closed and all it sent is on stdout. */
		if (p.peer_closed && !p.out_len && !p.peeked)
			break;
		/* stdin ended and all of it is in the ring: linger. */
		if (p.stdin_eof && !p.in_len) {
			if (o->linger_ms == 0)
				break;
			if (o->linger_ms > 0 && linger_end < 0)
				linger_end = (int64_t)vmsg__clock_ms() + o->linger_ms;
			if (linger_end >= 0 && (int64_t)vmsg__clock_ms() >= linger_end) {
				cat_info(o, "--linger ran out: closing");
				break;
			}
		}

		struct pollfd f[4];
		int n = 0, in_i = -1, out_i = -1, c_i;
		c_i = n;
		f[n++] = (struct pollfd){ .fd = cfd, .events = POLLIN };
		f[n++] = (struct pollfd){ .fd = stop_fd, .events = POLLIN };
		if (!p.stdin_eof && !p.in_len && !p.peer_closed &&
		    !p.stdin_ready) {
			in_i = n;
			f[n++] = (struct pollfd){ .fd = in_fd,
						  .events = POLLIN };
		}
		if (p.out_len) {
			out_i = n;
			f[n++] = (struct pollfd){ .fd = out_fd,
						  .events = POLLOUT };
		}
		int wait = -1;
		if (linger_end >= 0) {
			int64_t left = linger_end - (int64_t)vmsg__clock_ms();
			wait = left < 0 ? 0 : (int)left;
		}
		if (poll(f, (nfds_t)n, wait) < 0 && errno != EINTR) {
			cat_err("poll: %s", strerror(errno));
			p.status = CAT_EXIT_FAIL;
			break;
		}
		if (*stop) { /* the signal pipe woke us */
			cat_info(o, "stopped by signal %d", *stop);
			p.status = CAT_EXIT_SIGNAL + *stop;
			break;
		}
		if (f[c_i].revents)
			vmsg_chan_ack(c);
		if (in_i >= 0 && f[in_i].revents)
			p.stdin_ready = true;
		if (out_i >= 0 && (f[out_i].revents & (POLLERR | POLLNVAL))) {
			cat_err("writing to %s: %s", p.out_name,
				f[out_i].revents & POLLERR ? "broken pipe"
							   : "not open");
			p.status = CAT_EXIT_FAIL;
		}
	}

	/* Input we read but the peer left before taking is lost: say so. */
	if (!p.status && p.peer_closed && p.in_len > p.in_off) {
		cat_err("the peer closed %s with %zu bytes of our input unsent",
			cat_addr(o), p.in_len - p.in_off);
		p.status = CAT_EXIT_FAIL;
	}
	cat_info(o, "%llu bytes from the channel, %llu written to stdout",
		 (unsigned long long)p.bytes_in,
		 (unsigned long long)p.bytes_out);
	if (restore >= 0)
		fcntl(out_fd, F_SETFL, restore);
	free(p.rbuf);
	free(p.wbuf);
	return p.status;
}
