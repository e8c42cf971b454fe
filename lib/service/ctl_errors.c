/* Why vmsg_ctl_open() could not attach, and what that means to a person.
 * Freestanding, as the rest of the client: the folder is read through the
 * target's table (vmsg_service_env.h), so a unikernel learns the same.
 *
 * Seen from a guest, "no vmsgd" and "other processes of this domain hold
 * every control channel vmsgd serves it" look alike at the xenstore level: in both cases no
 * keys can be read (vmsg's server removes them once its client is live).
 * vmsgd therefore keeps a folder per domain it serves,
 * VMSG_CTL_PATH_PREFIX/<domid>, readable by that domain, and publishes the
 * channel's keys inside it (docs/protocol.md, "Service control
 * protocol"). At the deadline:
 *   no folder                  -> -ENOENT    (no vmsgd serves this domain)
 *   the folder, no keys        -> -EBUSY     (other processes hold all:
 *                                 vmsgd serves the next one when a
 *                                 process is in, up to its limit)
 *   the folder and its keys    -> -ETIMEDOUT (keys we could not use, or a
 *                                 Hello that did not come in time)
 * A vmsgd killed without a restart leaves its folders and keys behind:
 * its guests then read -ETIMEDOUT (or -EBUSY), until a vmsgd starts and
 * clears them. */
#include "service_private.h"
#include "vmsg_errno.h"
#include "vmsg_fmt.h"

int vmsg__svc_why_not(vmsg_ctl *ctl, int last)
{
	/* Host mode: the rendezvous said why itself (-ENOENT: nobody at the
	 * socket; -EACCES: refused; -EUSERS: our user, or all users, hold as
	 * many clients as vmsgd's policy allows); anything else is a vmsgd
	 * that did not get as far as a Hello in time. */
	if (ctl->env->ctl_connect)
		return last == -ENOENT || last == -EACCES || last == -EUSERS
			       ? last
			       : -ETIMEDOUT;
	char path[64], names[1024];
	vmsg__snprintf(path, sizeof path, VMSG_CTL_PATH_PREFIX "/%u",
		       (unsigned)ctl->domid);
	/* Absent, not ours to read, or no xenstore: not vmsgd's mark. */
	int n = ctl->env->xs_directory(path, names, sizeof names);
	if (n == -ENAMETOOLONG)
		return -ETIMEDOUT; /* more than vmsgd ever puts there */
	if (n < 0)
		return -ENOENT;
	const char *p = names;
	for (int i = 0; i < n; i++) {
		size_t len = __builtin_strlen(p);
		if (len == 8 && !__builtin_memcmp(p, "ring-ref", 8))
			return -ETIMEDOUT;
		p += len + 1;
	}
	return -EBUSY;
}

const char *vmsg_ctl_strerror(int err)
{
	const char *own = vmsg__svc_target_strerror(err);
	if (own)
		return own;
	switch (err) {
	case -ENOENT:
		return "no vmsgd serves this domain: is vmsgd running in dom0 "
		       "(and is this a Xen domain, or a process under `xensim "
		       "run --domid N`)?";
	case -EBUSY:
		return "other processes of this domain hold every control "
		       "channel vmsgd serves it (max_sessions_per_domain in "
		       "vmsgd's policy, 4 by default): wait for one to close, "
		       "or raise the limit";
	case -ETIMEDOUT:
		return "vmsgd did not answer in time: it may be overloaded, or "
		       "was killed and not restarted; try again, with a "
		       "longer timeout, or restart vmsgd";
	case -ECONNREFUSED:
		return "vmsgd refused this domain's greeting";
	case -EPROTONOSUPPORT:
		return "vmsgd speaks an incompatible protocol version: update "
		       "vmsgd or this program";
	default:
		return vmsg_strerror(err);
	}
}
