/* The TAP device side of vmsg-tap: plain ioctls on /dev/net/tun and on a
 * socket of the namespace the device lives in. */
#define _GNU_SOURCE
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int fail(char *err, size_t cap, int e, const char *what,
		const char *name)
{
	snprintf(err, cap, "%s %s: %s", what, name, strerror(e));
	return -e;
}

int tap_enter_netns(const char *name, char *err, size_t cap)
{
	char path[256];
	int fd, e;

	if (strchr(name, '/'))
		snprintf(path, sizeof path, "%s", name);
	else
		snprintf(path, sizeof path, "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(err, cap, errno, "network namespace", path);
	e = setns(fd, CLONE_NEWNET) < 0 ? errno : 0;
	close(fd);
	if (e)
		return fail(err, cap, e, "entering network namespace", path);
	return 0;
}

int tap_open(char *name, char *err, size_t cap)
{
	struct ifreq ifr;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return fail(err, cap, errno, "opening", "/dev/net/tun");
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		return fail(err, cap, e, "creating TAP device", name);
	}
	snprintf(name, IFNAMSIZ, "%s", ifr.ifr_name);
	return fd;
}

/* An ioctl on the device through a socket of the current namespace. */
static int dev_ioctl(unsigned long req, struct ifreq *ifr, char *err,
		     size_t cap, const char *what)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int e = 0;

	if (s < 0)
		return fail(err, cap, errno, what, ifr->ifr_name);
	if (ioctl(s, req, ifr) < 0)
		e = errno;
	close(s);
	return e ? fail(err, cap, e, what, ifr->ifr_name) : 0;
}

int tap_set_mtu(const char *name, uint32_t mtu, char *err, size_t cap)
{
	struct ifreq ifr = {0};

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_mtu = (int)mtu;
	return dev_ioctl(SIOCSIFMTU, &ifr, err, cap, "setting the MTU of");
}

int tap_set_mac(const char *name, const uint8_t mac[6], char *err,
		size_t cap)
{
	struct ifreq ifr = {0};

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return dev_ioctl(SIOCSIFHWADDR, &ifr, err, cap, "setting the MAC of");
}

int tap_get_mac(const char *name, uint8_t mac[6], char *err, size_t cap)
{
	struct ifreq ifr = {0};
	int r;

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if ((r = dev_ioctl(SIOCGIFHWADDR, &ifr, err, cap,
			   "reading the MAC of")) < 0)
		return r;
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

int tap_up(const char *name, char *err, size_t cap)
{
	struct ifreq ifr = {0};
	int r;

	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if ((r = dev_ioctl(SIOCGIFFLAGS, &ifr, err, cap,
			   "reading the flags of")) < 0)
		return r;
	ifr.ifr_flags |= IFF_UP;
	return dev_ioctl(SIOCSIFFLAGS, &ifr, err, cap, "bringing up");
}

int tap_carrier(int fd, bool on)
{
	int v = on;
	return ioctl(fd, TUNSETCARRIER, &v) < 0 ? -errno : 0;
}
