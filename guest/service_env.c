/* The vmsgd client's world in the unikernel (vmsg_service_env.h): channels
 * over Xen (lib/xenplat on the PVH hooks), the machine's domid, clock,
 * sleep and pages. No pollable fd: vmsg_ctl_fd() is -ENOTSUP. The client
 * itself is lib/service, the same code as on Linux. */
#include "guest_internal.h"
#include "vmsg_service_env.h"

static int pvh_own_domid(void)
{
	return guest_domid();
}

static uint64_t pvh_now_ms(void)
{
	return guest_now_ns() / 1000000u;
}

static int pvh_xs_directory(const char *path, char *buf, size_t cap)
{
	return guest_xs_directory(0, path, buf, cap);
}

static const struct vmsg__svc_env pvh_env = {
	VMSG__SVC_XEN_ENV_OPS,
	.own_domid = pvh_own_domid,
	.now_ms = pvh_now_ms,
	.sleep_ms = guest_sleep_ms,
	.xs_directory = pvh_xs_directory,
	.alloc = guest_alloc,
	.free = guest_free,
	.poll = 0,
};

/* No host mode in a unikernel: the common texts. */
const char *vmsg__svc_target_strerror(int err)
{
	(void)err;
	return 0;
}

int vmsg_ctl_open(vmsg_ctl **out, int timeout_ms)
{
	return vmsg__ctl_open(out, &pvh_env, timeout_ms);
}
