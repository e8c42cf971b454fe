/* Reload (SIGHUP, vmsgctl reload): the policy file read again; the
 * bridges follow it; what is open stays. Its own file: main.c (the
 * signal) and ctlsock.c (the command) both call it, and it calls
 * neither. */
#include <stdio.h>
#include <string.h>

#include "vmsgd.h"

int vmsgd_reload(struct vmsgd *d, char *err, size_t cap)
{
	struct policy np;
	if (policy_load(d->config, &np, err, cap) < 0) {
		vmsgd_log(LOG_ERROR, "reload failed, keeping the old policy: "
				     "%s",
			  err);
		return -1;
	}
	if (np.host != d->pol.host ||
	    (np.host && strcmp(np.host_dir, d->pol.host_dir) != 0)) {
		snprintf(err, cap, "%s: backend and host_dir change only at "
				   "restart",
			 d->config);
		vmsgd_log(LOG_ERROR, "reload failed, keeping the old policy: "
				     "%s",
			  err);
		policy_free(&np);
		return -1;
	}
	if (strcmp(np.control_socket, d->pol.control_socket) != 0)
		vmsgd_log(LOG_WARN, "reload: control_socket changes only at "
				    "restart (still %s)",
			  d->ctl_path);
	/* Bridges follow the new policy (listeners started or stopped);
	 * one that cannot start rejects the reload as a whole. */
	if (bridges_apply(d, &np, err, cap) < 0) {
		vmsgd_log(LOG_ERROR, "reload failed, keeping the old policy: "
				     "%s",
			  err);
		policy_free(&np);
		return -1;
	}
	policy_free(&d->pol);
	d->pol = np;
	vmsgd_log_level = d->cli_log_level >= 0 ? d->cli_log_level
						: d->pol.log_level;
	/* Existing channels stay: policy is checked at offer and open. */
	vmsgd_log(LOG_INFO, "policy reloaded from %s (%zu services)",
		  d->config, d->pol.nsvc);
	return 0;
}
