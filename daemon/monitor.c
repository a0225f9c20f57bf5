/* SPDX-License-Identifier: MIT */
#include "monitor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"
#include "netlink.h"

#define RCVBUF (8 << 20) /* 8 MiB: a flush storm is many messages */
#define MSGBUF (256 << 10) /* 256 KiB: one notification can exceed 64 KiB */

struct monitor {
	struct netlink_listener nl;
	char table[64];
	uint32_t own_portid;
	/* the transaction being read: its objects come before its NEWGEN */
	unsigned objects;
	bool touched, deleted;
	bool touched_other; /* a table, chain or rule of another table */
	uint32_t obj_portid;
	uint16_t obj_res_id;
	struct monitor_result *result;
};

int monitor_new(const char *table, struct monitor **ret)
{
	/* joining the group needs CAP_NET_ADMIN */
	static const unsigned groups[] = { NFNLGRP_NFTABLES };
	struct monitor *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	snprintf(m->table, sizeof(m->table), "%s", table);
	r = netlink_listener_init(&m->nl, NETLINK_NETFILTER, groups, ELEMENTSOF(groups), RCVBUF,
				  MSGBUF);
	if (r < 0) {
		free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void monitor_free(struct monitor *m)
{
	if (!m)
		return;
	netlink_listener_finish(&m->nl);
	free(m);
}

int monitor_fd(const struct monitor *m)
{
	return netlink_listener_fd(&m->nl);
}

uint32_t monitor_portid(const struct monitor *m)
{
	return mnl_socket_get_portid(m->nl.sock);
}

void monitor_set_own_portid(struct monitor *m, uint32_t portid)
{
	m->own_portid = portid;
}

int monitor_set_table(struct monitor *m, const char *table)
{
	snprintf(m->table, sizeof(m->table), "%s", table);
	return 0;
}

/* Every object message names its table in attribute 1 (NFTA_TABLE_NAME, NFTA_CHAIN_TABLE...). */
static const char *table_of(const struct nlmsghdr *nlh)
{
	const struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == 1 && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			return mnl_attr_get_str(a);
	return NULL;
}

/* Forget the transaction being read: it ended, or some of it was lost. */
static void reset_transaction(struct monitor *m)
{
	m->objects = 0;
	m->touched = m->deleted = m->touched_other = false;
}

static void end_transaction(struct monitor *m, const struct nlmsghdr *nlh)
{
	const struct nlattr *a;
	uint32_t gen = 0, pid = 0;
	const char *comm = "";

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		switch (mnl_attr_get_type(a)) {
		case NFTA_GEN_ID:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				gen = ntohl(mnl_attr_get_u32(a));
			break;
		case NFTA_GEN_PROC_PID:
			if (mnl_attr_validate(a, MNL_TYPE_U32) == 0)
				pid = ntohl(mnl_attr_get_u32(a));
			break;
		case NFTA_GEN_PROC_NAME:
			if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
				comm = mnl_attr_get_str(a);
			break;
		}
	}
	/* objects that do not belong to this NEWGEN: a NEWGEN was lost somewhere */
	if (m->objects && (m->obj_portid != nlh->nlmsg_pid || m->obj_res_id != (gen & 0xffff)))
		m->result->lost = true;
	if (m->touched_other && nlh->nlmsg_pid != m->own_portid)
		m->result->other_change = true;
	if (m->touched && nlh->nlmsg_pid != m->own_portid) {
		m->result->foreign_change = true;
		m->result->table_deleted |= m->deleted;
		m->result->pid = pid;
		snprintf(m->result->comm, sizeof(m->result->comm), "%s", comm);
	}
	reset_transaction(m);
}

static int on_message(const struct nlmsghdr *nlh, void *data)
{
	struct monitor *m = data;
	const struct nfgenmsg *g = mnl_nlmsg_get_payload(nlh);
	uint8_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);
	const char *table;

	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)))
		return MNL_CB_OK;
	if (type == NFT_MSG_NEWGEN) {
		end_transaction(m, nlh);
		return MNL_CB_OK;
	}
	if (m->objects && (ntohs(g->res_id) != m->obj_res_id || nlh->nlmsg_pid != m->obj_portid)) {
		/* the previous transaction's NEWGEN never came */
		m->result->lost = true;
		reset_transaction(m);
	}
	if (m->objects++ == 0) {
		m->obj_portid = nlh->nlmsg_pid;
		m->obj_res_id = ntohs(g->res_id);
	}
	table = table_of(nlh);
	if (g->nfgen_family == NFPROTO_INET && table && strcmp(table, m->table) == 0) {
		m->touched = true;
		if (type == NFT_MSG_DELTABLE)
			m->deleted = true;
	} else if (type == NFT_MSG_NEWTABLE || type == NFT_MSG_DELTABLE ||
		   type == NFT_MSG_NEWCHAIN || type == NFT_MSG_DELCHAIN ||
		   type == NFT_MSG_NEWRULE || type == NFT_MSG_DELRULE) {
		m->touched_other = true; /* set elements do not change a chain's verdicts */
	}
	return MNL_CB_OK;
}

int monitor_drain(struct monitor *m, unsigned budget, struct monitor_result *ret)
{
	*ret = (struct monitor_result){ 0 };
	m->result = ret;
	for (unsigned i = 0; i < budget; i++) {
		ssize_t n = netlink_recv(&m->nl);

		if (n == 0)
			return 0;
		if (n == -ENOBUFS) {
			/* overrun or truncation: something was lost; the rest still comes */
			ret->lost = true;
			reset_transaction(m);
			continue;
		}
		if (n < 0)
			return (int)n;
		if (mnl_cb_run(m->nl.buf, (size_t)n, 0, 0, on_message, m) < 0 && errno != EINTR)
			ret->lost = true;
	}
	return 0;
}
