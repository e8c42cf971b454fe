/* Private: what the two Linux worlds of the vmsgd client share
 * (env_linux.c, Xen; env_host.c, host mode): libc's clock, sleep and
 * memory, and vmsg_ctl_fd()'s epoll set. */
#ifndef VMSG_SVC_ENV_LINUX_H
#define VMSG_SVC_ENV_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "vmsg_service_env.h"

uint64_t vmsg__svc_linux_now_ms(void);
void vmsg__svc_linux_sleep_ms(unsigned ms);
void *vmsg__svc_linux_alloc(size_t size);
void vmsg__svc_linux_free(void *p, size_t size);
extern const struct vmsg__svc_poll_ops vmsg__svc_linux_poll;

/* env_host.c: host mode (vmsg/service.h, "Host mode"). */
extern const struct vmsg__svc_env vmsg__svc_host_env;
/* $VMSG_HOST_VMSGD, or NULL when unset or empty (Xen mode). */
const char *vmsg__svc_host_dir(void);

#endif
