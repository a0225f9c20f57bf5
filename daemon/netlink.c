/* SPDX-License-Identifier: MIT */
#include "netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <stdlib.h>
#include <sys/socket.h>

int netlink_open(int family, int flags, struct mnl_socket **ret)
{
	struct mnl_socket *s = mnl_socket_open2(family, flags | SOCK_CLOEXEC);
	int r;

	if (!s)
		return -errno;
	if (mnl_socket_bind(s, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		mnl_socket_close(s);
		return r;
	}
	*ret = s;
	return 0;
}

static int join(struct mnl_socket *s, const unsigned *groups, size_t n_groups, int rcvbuf)
{
	int fd = mnl_socket_get_fd(s);

	for (size_t i = 0; i < n_groups; i++) {
		unsigned g = groups[i];

		if (mnl_socket_setsockopt(s, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0)
			return -errno;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	return 0;
}

int netlink_listener_init(struct netlink_listener *l, int family, const unsigned *groups,
			  size_t n_groups, int rcvbuf, size_t buf_size)
{
	int r;

	*l = (struct netlink_listener){ .buf = malloc(buf_size), .buf_size = buf_size };
	if (!l->buf)
		return -ENOMEM;
	r = netlink_open(family, SOCK_NONBLOCK, &l->sock);
	if (r == 0)
		r = join(l->sock, groups, n_groups, rcvbuf);
	if (r < 0)
		netlink_listener_finish(l);
	return r;
}

void netlink_listener_finish(struct netlink_listener *l)
{
	if (l->sock)
		mnl_socket_close(l->sock);
	free(l->buf);
	*l = (struct netlink_listener){ 0 };
}

int netlink_listener_fd(const struct netlink_listener *l)
{
	return mnl_socket_get_fd(l->sock);
}

ssize_t netlink_recv(struct netlink_listener *l)
{
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(l->sock, l->buf, l->buf_size);

		if (n >= 0)
			return n;
		if (errno == EAGAIN)
			return 0;
		if (errno == ENOBUFS || errno == ENOSPC)
			return -ENOBUFS;
		if (errno != EINTR)
			return -errno;
	}
}
