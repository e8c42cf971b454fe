/* vmsg-tap's TAP device: create it (in a network namespace if asked), set
 * its MTU, address, carrier and state. Each call returns >= 0 or -errno
 * and, on failure, writes what failed into err (cap bytes). */
#ifndef VMSG_TAP_TAP_H
#define VMSG_TAP_TAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Enter network namespace `name` (/run/netns/NAME, as `ip netns add`
 * makes) for the rest of this process's life. */
int tap_enter_netns(const char *name, char *err, size_t cap);

/* Create (or attach to) TAP device `name` (a template such as "vtap%d"
 * is fine; the actual name is written back, IFNAMSIZ bytes), without
 * packet information, non-blocking and close-on-exec. Returns its fd. */
int tap_open(char *name, char *err, size_t cap);

/* Set the device's MTU; its MAC (when mac is not NULL); bring it up. */
int tap_set_mtu(const char *name, uint32_t mtu, char *err, size_t cap);
int tap_set_mac(const char *name, const uint8_t mac[6], char *err,
		size_t cap);
int tap_get_mac(const char *name, uint8_t mac[6], char *err, size_t cap);
int tap_up(const char *name, char *err, size_t cap);

/* Carrier on or off (TUNSETCARRIER): the stack sees the link's state. */
int tap_carrier(int fd, bool on);

#endif
