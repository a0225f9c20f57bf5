/* SPDX-License-Identifier: MIT */
#include "localaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ipv4.h"
#include "macro.h"
#include "netlink.h"

#define RCVBUF (4 << 20)   /* 4 MiB of notifications before ENOBUFS */
#define MSGBUF (32 << 10)  /* a dump fills what recvmsg offers, up to 32 KiB a datagram */
#define DRAIN_BUDGET 256   /* datagrams per localaddr_drain() */
#define DUMP_TRIES 5	   /* dumps interrupted by changes (NLM_F_DUMP_INTR) before -EAGAIN */

struct localaddr {
	struct netlink_listener nl; /* notifications only; its buffer serves the dumps too */
};

struct link {
	int index;
	char name[IFNAME_MAX + 1];
};

/* One dump: links, then addresses, then routes, each through the same short-lived socket. */
struct dump {
	struct mnl_socket *nl;
	uint32_t seq;
	char *buf;
	struct link *links; /* sorted by index once the links are in */
	size_t n_links, allocated_links;
	struct router_view view;    /* the addresses; sorted before the routes come */
	struct router_view subnets; /* the addresses' subnets (as LOCAL_ROUTE) with a broadcast */
	struct router_view routes;  /* what the routes add, merged into view at the end */
	bool have_default;	    /* an IPv4 default route in the main table was seen: */
	uint32_t default_metric;    /* the lowest metric, */
	char default_if[IFNAME_MAX + 1]; /* and its interface */
	int error;		    /* from a callback */
};

int localaddr_new(struct localaddr **ret)
{
	/* rtnetlink lets anyone listen to these groups: no capability needed */
	static const unsigned groups[] = { RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_LINK,
					   RTNLGRP_IPV6_IFADDR };
	struct localaddr *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	r = netlink_listener_init(&m->nl, NETLINK_ROUTE, groups, ELEMENTSOF(groups), RCVBUF,
				  MSGBUF);
	if (r < 0) {
		free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void localaddr_free(struct localaddr *m)
{
	if (!m)
		return;
	netlink_listener_finish(&m->nl);
	free(m);
}

int localaddr_fd(const struct localaddr *m)
{
	return netlink_listener_fd(&m->nl);
}

static bool is_local_type(uint8_t type)
{
	return type == RTN_LOCAL || type == RTN_BROADCAST || type == RTN_ANYCAST;
}

static bool attr_in_addr(const struct nlattr *a, uint32_t *ret)
{
	if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
		return false;
	*ret = ntohl(mnl_attr_get_u32(a));
	return true;
}

/* ---- links: index -> name ---------------------------------------------------------------- */

static int link_cmp(const void *a, const void *b)
{
	const struct link *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

static int links_add(struct dump *d, int index, const char *name)
{
	if (d->n_links >= ROUTER_VIEW_MAX)
		return -E2BIG;
	if (d->n_links == d->allocated_links) {
		size_t want = MAX(d->allocated_links * 2, (size_t)16);
		struct link *grown = reallocarray(d->links, want, sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		d->links = grown;
		d->allocated_links = want;
	}
	d->links[d->n_links].index = index;
	snprintf(d->links[d->n_links].name, sizeof(d->links->name), "%s", name);
	d->n_links++;
	return 0;
}

static int on_link(struct dump *d, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return -EBADMSG;
	mnl_attr_for_each(a, nlh, sizeof(*ifi))
		if (mnl_attr_get_type(a) == IFLA_IFNAME &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			return links_add(d, ifi->ifi_index, mnl_attr_get_str(a));
	return 0;
}

/*
 * The interface's name; for an interface that appeared after the link dump, the label's base
 * ("lan0" of "lan0:1": interface names cannot hold ':'), else "".
 */
static void ifname_of(const struct dump *d, int index, const char *label,
		      char ret[static IFNAME_MAX + 1])
{
	struct link key = { .index = index };
	const struct link *l = d->n_links == 0 ? NULL :
		bsearch(&key, d->links, d->n_links, sizeof(*d->links), link_cmp);

	if (l)
		snprintf(ret, IFNAME_MAX + 1, "%s", l->name);
	else if (label)
		snprintf(ret, IFNAME_MAX + 1, "%.*s", (int)strcspn(label, ":"), label);
	else
		ret[0] = '\0';
}

/* ---- addresses ----------------------------------------------------------------------------- */

struct ifa_attrs {
	bool has_local, has_address, has_broadcast;
	uint32_t local, address, broadcast;
	const char *label;
};

static void parse_ifa(const struct nlmsghdr *nlh, struct ifa_attrs *ret)
{
	const struct nlattr *a;

	*ret = (struct ifa_attrs){ 0 };
	mnl_attr_for_each(a, nlh, sizeof(struct ifaddrmsg)) {
		switch (mnl_attr_get_type(a)) {
		case IFA_LOCAL:
			ret->has_local = attr_in_addr(a, &ret->local);
			break;
		case IFA_ADDRESS:
			ret->has_address = attr_in_addr(a, &ret->address);
			break;
		case IFA_BROADCAST:
			ret->has_broadcast = attr_in_addr(a, &ret->broadcast);
			break;
		case IFA_LABEL:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				ret->label = mnl_attr_get_str(a);
			break;
		}
	}
}

/* An IPv6 address: IFA_LOCAL (point-to-point) or IFA_ADDRESS, as for IPv4; no broadcast. */
static int on_addr6(struct dump *d, const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	const struct in6 *local = NULL, *address = NULL, *own;
	char name[IFNAME_MAX + 1];

	if (ifa->ifa_prefixlen > 128)
		return 0;
	mnl_attr_for_each(a, nlh, sizeof(struct ifaddrmsg)) {
		uint16_t type = mnl_attr_get_type(a);
		if (mnl_attr_get_payload_len(a) != sizeof(struct in6))
			continue;
		if (type == IFA_LOCAL)
			local = mnl_attr_get_payload(a);
		else if (type == IFA_ADDRESS)
			address = mnl_attr_get_payload(a);
	}
	own = local ? local : address;
	if (!own)
		return 0;
	ifname_of(d, (int)ifa->ifa_index, NULL, name);
	return router_view_add6(&d->view, own, ifa->ifa_prefixlen, name);
}

/*
 * IFA_LOCAL is our address; IFA_ADDRESS is the same, or the peer's on a point-to-point link
 * (`ip addr add A peer B/len`), and the kernel derives the subnet and its broadcast from it.
 */
static int on_addr(struct dump *d, const struct nlmsghdr *nlh)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct ifa_attrs at;
	char name[IFNAME_MAX + 1];
	uint32_t own, base, mask;
	uint8_t len;
	int r;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifa)))
		return -EBADMSG;
	if (ifa->ifa_family == AF_INET6)
		return on_addr6(d, nlh);
	if (ifa->ifa_family != AF_INET || ifa->ifa_prefixlen > 32)
		return 0;
	parse_ifa(nlh, &at);
	if (!at.has_local && !at.has_address)
		return 0;
	len = ifa->ifa_prefixlen;
	mask = prefix4_mask(len);
	own = at.has_local ? at.local : at.address;
	base = at.has_address ? at.address : own;
	ifname_of(d, (int)ifa->ifa_index, at.label, name);

	if (base == own)
		r = router_view_add_address(&d->view, own, len, name);
	else /* point-to-point: the subnet, and so its broadcast, is the peer's */
		r = router_view_add(&d->view, ROUTER_ADDRESS, own, len, name);
	if (r >= 0 && base != own && len < 31)
		r = router_view_add(&d->view, ROUTER_BROADCAST, base | ~mask, len, name);
	if (r >= 0 && at.has_broadcast) {
		bool in_subnet = len < 31 && (at.broadcast & mask) == (base & mask);

		r = router_view_add(&d->view, ROUTER_BROADCAST, at.broadcast, in_subnet ? len : 32,
				    name);
	}
	if (r >= 0 && len < 31)
		r = router_view_add(&d->subnets, ROUTER_LOCAL_ROUTE, base, len, name);
	return r;
}

/* ---- routes -------------------------------------------------------------------------------- */

static int add_route(struct dump *d, uint8_t type, uint32_t dst, uint8_t len, const char *name)
{
	/* d->view holds the addresses only, sorted */
	const struct router_addr *known = len == 32 ? router_view_match(&d->view, dst) : NULL;
	const struct router_addr *subnet;

	if (type == RTN_LOCAL && known && known->kind == ROUTER_ADDRESS)
		return 0; /* the local route every address gets */
	if (type == RTN_BROADCAST && len == 32) {
		if (known)
			return 0; /* a directed broadcast (or an address) we have already */
		/* e.g. the network address, on kernels that made it a broadcast */
		subnet = router_view_match(&d->subnets, dst);
		return router_view_add(&d->routes, ROUTER_BROADCAST, dst, subnet ? subnet->len : 32,
				       name);
	}
	return router_view_add(&d->routes, ROUTER_LOCAL_ROUTE, dst, len, name);
}

/* The first next hop's interface of a multipath route (RTA_MULTIPATH), 0 when none. */
static uint32_t first_hop_oif(const struct nlattr *a)
{
	const struct rtnexthop *nh = mnl_attr_get_payload(a);

	if (mnl_attr_get_payload_len(a) < sizeof(*nh) || nh->rtnh_len < sizeof(*nh))
		return 0;
	return (uint32_t)nh->rtnh_ifindex;
}

/*
 * An IPv4 default route of the main table: [wan] interface = auto follows the interface of
 * the one with the lowest metric (the first one seen among equals, as the kernel lists them).
 */
static void on_default_route(struct dump *d, const struct nlmsghdr *nlh, const struct rtmsg *rt)
{
	const struct nlattr *a;
	uint32_t table = rt->rtm_table, metric = 0, oif = 0, hop_oif = 0;

	mnl_attr_for_each(a, nlh, sizeof(*rt)) {
		if (mnl_attr_get_type(a) == RTA_TABLE && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			table = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == RTA_PRIORITY && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			metric = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_validate(a, MNL_TYPE_U32) == 0)
			oif = mnl_attr_get_u32(a);
		else if (mnl_attr_get_type(a) == RTA_MULTIPATH)
			hop_oif = first_hop_oif(a);
	}
	if (!oif)
		oif = hop_oif;
	if (table != RT_TABLE_MAIN || !oif || (d->have_default && metric >= d->default_metric))
		return;
	d->have_default = true;
	d->default_metric = metric;
	ifname_of(d, (int)oif, NULL, d->default_if);
}

static int on_route(struct dump *d, const struct nlmsghdr *nlh)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	uint32_t dst = 0, oif = 0;
	char name[IFNAME_MAX + 1];

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rt)))
		return -EBADMSG;
	if (rt->rtm_family == AF_INET && rt->rtm_dst_len == 0 && rt->rtm_type == RTN_UNICAST &&
	    !(rt->rtm_flags & RTM_F_CLONED))
		on_default_route(d, nlh, rt);
	if (rt->rtm_family != AF_INET || rt->rtm_dst_len > 32 || !is_local_type(rt->rtm_type) ||
	    (rt->rtm_flags & RTM_F_CLONED))
		return 0;
	mnl_attr_for_each(a, nlh, sizeof(*rt)) {
		switch (mnl_attr_get_type(a)) {
		case RTA_DST:
			if (!attr_in_addr(a, &dst))
				return -EBADMSG;
			break;
		case RTA_OIF:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				oif = mnl_attr_get_u32(a);
			break;
		}
	}
	ifname_of(d, (int)oif, NULL, name);
	return add_route(d, rt->rtm_type, dst, rt->rtm_dst_len, name);
}

/* ---- one dump ------------------------------------------------------------------------------ */

static int on_data(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	int r = 0;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		r = -EAGAIN; /* the table changed under the dump: it may be inconsistent */
	else if (nlh->nlmsg_type == RTM_NEWLINK)
		r = on_link(d, nlh);
	else if (nlh->nlmsg_type == RTM_NEWADDR)
		r = on_addr(d, nlh);
	else if (nlh->nlmsg_type == RTM_NEWROUTE)
		r = on_route(d, nlh);
	if (r < 0) {
		d->error = r;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* NLMSG_DONE ends the dump; it carries an error, and the interrupted flag, too. */
static int on_done(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	const int *err = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		d->error = -EAGAIN;
	else if (nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(*err)) && *err < 0)
		d->error = *err;
	return d->error < 0 ? MNL_CB_ERROR : MNL_CB_STOP;
}

static int on_error(const struct nlmsghdr *nlh, void *data)
{
	struct dump *d = data;
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err)))
		d->error = -EBADMSG;
	else
		d->error = err->error < 0 ? err->error : -EPROTO;
	return MNL_CB_ERROR;
}

static int request(struct dump *d, uint16_t type, const void *hdr, size_t hdr_len)
{
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = { [NLMSG_DONE] = on_done, [NLMSG_ERROR] = on_error };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(d->buf);
	uint32_t portid = mnl_socket_get_portid(d->nl);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = ++d->seq;
	memcpy(mnl_nlmsg_put_extra_header(nlh, hdr_len), hdr, hdr_len);
	if (mnl_socket_sendto(d->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(d->nl, d->buf, MSGBUF);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		errno = 0;
		r = mnl_cb_run2(d->buf, (size_t)n, d->seq, portid, on_data, d, ctl,
				ELEMENTSOF(ctl));
		if (r == MNL_CB_STOP)
			return 0;
		if (r < 0 && d->error < 0)
			return d->error;
		if (r < 0) /* libmnl's checks: EINTR for an interrupted dump, ESRCH, EPROTO */
			return errno == EINTR ? -EAGAIN : errno ? -errno : -EPROTO;
	}
}

static int merge_routes(struct dump *d)
{
	for (size_t i = 0; i < d->routes.n; i++) {
		const struct router_addr *a = &d->routes.items[i];
		int r = router_view_add(&d->view, a->kind, a->addr, a->len, a->ifname);

		if (r < 0)
			return r;
	}
	router_view_sort(&d->view);
	return 0;
}

static int dump_all(struct dump *d)
{
	const struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	const struct ifaddrmsg ifa = { .ifa_family = AF_INET };
	const struct ifaddrmsg ifa6 = { .ifa_family = AF_INET6 };
	const struct rtmsg rtm = { .rtm_family = AF_INET }; /* no table: every table */
	int r;

	r = request(d, RTM_GETLINK, &ifi, sizeof(ifi));
	if (r < 0)
		return r;
	if (d->n_links > 0)
		qsort(d->links, d->n_links, sizeof(*d->links), link_cmp);
	r = request(d, RTM_GETADDR, &ifa, sizeof(ifa));
	if (r >= 0)
		r = request(d, RTM_GETADDR, &ifa6, sizeof(ifa6));
	if (r < 0)
		return r;
	router_view_sort(&d->view);
	router_view_sort(&d->subnets);
	r = request(d, RTM_GETROUTE, &rtm, sizeof(rtm));
	if (r < 0)
		return r;
	return merge_routes(d);
}

static int dump_once(struct localaddr *m, struct router_view *ret)
{
	struct dump d = { .buf = m->nl.buf };
	int r;

	router_view_init(&d.view);
	router_view_init(&d.subnets);
	router_view_init(&d.routes);
	r = netlink_open(NETLINK_ROUTE, 0, &d.nl);
	if (r < 0)
		return r;
	r = dump_all(&d);
	if (r >= 0) {
		snprintf(d.view.default4, sizeof(d.view.default4), "%s", d.default_if);
		*ret = d.view;
		router_view_init(&d.view);
	}
	mnl_socket_close(d.nl);
	free(d.links);
	router_view_finish(&d.view);
	router_view_finish(&d.subnets);
	router_view_finish(&d.routes);
	return r;
}

int localaddr_dump(struct localaddr *m, struct router_view *ret)
{
	int r = -EAGAIN;

	for (int i = 0; i < DUMP_TRIES && r == -EAGAIN; i++)
		r = dump_once(m, ret);
	return r;
}

/* ---- notifications ------------------------------------------------------------------------- */

static int on_notification(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
	bool *changed = data;

	switch (nlh->nlmsg_type) {
	case RTM_NEWADDR:
	case RTM_DELADDR:
	case RTM_NEWLINK:
	case RTM_DELLINK:
		/*
		 * Links too: one going down takes its broadcast and local routes along without a
		 * RTM_DELROUTE; a renamed one changes the names in the view.
		 */
		*changed = true;
		break;
	case RTM_NEWROUTE:
	case RTM_DELROUTE:
		/*
		 * A replaced route is announced as its new self only: a local route that became
		 * a unicast one shows as a unicast NEWROUTE with NLM_F_REPLACE.
		 */
		if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*rt)) || is_local_type(rt->rtm_type) ||
		    (nlh->nlmsg_type == RTM_NEWROUTE && (nlh->nlmsg_flags & NLM_F_REPLACE)) ||
		    (rt->rtm_family == AF_INET && rt->rtm_dst_len == 0)) /* [wan] interface = auto */
			*changed = true;
		break;
	}
	return MNL_CB_OK;
}

int localaddr_drain(struct localaddr *m, bool *ret_changed)
{
	bool changed = false;

	for (unsigned i = 0; i < DRAIN_BUDGET; i++) {
		ssize_t n = netlink_recv(&m->nl);

		if (n == 0)
			break;
		if (n == -ENOBUFS) {
			changed = true; /* overrun or truncated: something was lost */
			continue;
		}
		if (n < 0)
			return (int)n;
		if (mnl_cb_run(m->nl.buf, (size_t)n, 0, 0, on_notification, &changed) < 0)
			changed = true; /* cannot read it: assume the worst */
	}
	*ret_changed = changed;
	return 0;
}
