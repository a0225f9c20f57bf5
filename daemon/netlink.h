/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * The netlink sockets natwardend listens on: rtnetlink for the router's own addresses
 * (localaddr.c), nftables for changes to its table (monitor.c). Both are opened, joined to
 * their multicast groups and read the same way; what a message means stays with its module.
 */
struct mnl_socket;

/* A close-on-exec socket of the netlink `family`, bound to a port id of its own. */
int netlink_open(int family, int flags, struct mnl_socket **ret);

struct netlink_listener {
	struct mnl_socket *sock;
	char *buf; /* one datagram: read it before the next netlink_recv() */
	size_t buf_size;
};

/*
 * A non-blocking socket of `family` in the multicast `groups`, a receive buffer of `rcvbuf`
 * bytes (SO_RCVBUFFORCE needs CAP_NET_ADMIN; without it, what net.core.rmem_max allows) and a
 * datagram buffer of `buf_size` bytes. Returns 0 or a negative errno (-ENOMEM, socket, bind,
 * membership: some groups need CAP_NET_ADMIN); on failure `l` holds nothing to finish.
 */
int netlink_listener_init(struct netlink_listener *l, int family, const unsigned *groups,
			  size_t n_groups, int rcvbuf, size_t buf_size);
void netlink_listener_finish(struct netlink_listener *l);
int netlink_listener_fd(const struct netlink_listener *l);

/*
 * Read one datagram into l->buf. Returns its length, 0 when none is pending, -ENOBUFS when
 * notifications were lost (the receive buffer overran, or a datagram did not fit: the rest
 * still comes), or another negative errno. An interrupted read is retried.
 */
ssize_t netlink_recv(struct netlink_listener *l);
