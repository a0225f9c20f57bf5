/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "router.h"

/*
 * The router's own IPv4 addresses, from the kernel over rtnetlink (NETLINK_ROUTE): no root
 * needed, nothing read from the policy. One socket listens to the RTNLGRP_IPV4_IFADDR,
 * RTNLGRP_IPV4_ROUTE and RTNLGRP_LINK multicast groups (an sd-event I/O source); every dump
 * goes through a socket of its own, opened for that dump, so that a dump's replies never mix
 * with the notifications.
 *
 * Subscribe first, then dump: a change made after localaddr_new() is always noticed by
 * localaddr_drain(), so a dump that raced with it is followed by another one.
 */
struct localaddr;

/* Returns 0 or a negative errno (socket, bind, membership). */
int localaddr_new(struct localaddr **ret);
void localaddr_free(struct localaddr *m);
/* Non-blocking, close-on-exec; readable when a notification is pending. */
int localaddr_fd(const struct localaddr *m);

/*
 * A fresh, sorted view of what the kernel delivers locally (`ret` need not be initialized;
 * written only on success):
 *   - every IPv4 address of every interface, up or down: ADDRESS (IFA_LOCAL, the subnet's
 *     prefix length, the interface's name: not the label), the directed broadcast of its
 *     subnet when the prefix is shorter than /31, and IFA_BROADCAST when it is another one;
 *   - every route of type local, broadcast or anycast in any routing table: a /32 local route
 *     of an address is that ADDRESS, a /32 broadcast route is BROADCAST (with the length of
 *     a subnet of ours it belongs to, if any), anything else LOCAL_ROUTE (AnyIP: `ip route
 *     add local 10.0.0.0/8 dev lo`, a local address in another table).
 * Returns 0, -E2BIG (more than ROUTER_VIEW_MAX entries or interfaces), -EAGAIN (the kernel
 * kept interrupting the dump: changes are going on, try again), -ENOMEM, or another -errno
 * from netlink.
 */
int localaddr_dump(struct localaddr *m, struct router_view *ret);

/*
 * Read what is pending (at most a fixed budget of datagrams per call; the fd stays readable
 * when more is left). *ret_changed is true when an address came or went, a local, broadcast
 * or anycast route came, went or was replaced, a link changed (a link going down drops its
 * routes without a RTM_DELROUTE; a rename changes the names), or notifications were lost
 * (ENOBUFS): dump again and compare. Returns 0 or a negative errno (then assume a change).
 * Spurious changes are possible (any link notification counts); missed ones are not.
 */
int localaddr_drain(struct localaddr *m, bool *ret_changed);
