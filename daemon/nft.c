/* SPDX-License-Identifier: MIT */
#include "nft.h"

#include <dirent.h>
#include <errno.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <nftables/libnftables.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "ruleset.h"

#define NETLINK_NETFILTER_PROTO 12
#define MAX_SOCKETS 64

struct nft {
	struct nft_ctx *ctx;
	uint32_t portid;
};

int nft_new(struct nft **ret)
{
	struct nft *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!n->ctx) {
		free(n);
		return -ENOMEM;
	}
	/* Keep errors in memory: they become log lines and verdict reasons. */
	nft_ctx_buffer_error(n->ctx);
	nft_ctx_buffer_output(n->ctx);
	*ret = n;
	return 0;
}

void nft_free(struct nft *n)
{
	if (!n)
		return;
	nft_ctx_free(n->ctx);
	free(n);
}

/* The first lines of an error, without the echo of the whole batch. */
static char *trim_error(const char *text)
{
	size_t len = 0;
	int lines = 0;

	if (!text || !*text)
		return strdup("libnftables reported an error without text");
	while (text[len] && lines < 3) {
		if (text[len] == '\n')
			lines++;
		len++;
	}
	if (len > 600)
		len = 600;
	while (len > 0 && text[len - 1] == '\n')
		len--;
	return strndup(text, len);
}

int nft_run(struct nft *n, const char *cmds, bool dry_run, char **ret_error)
{
	int r;

	nft_ctx_set_dry_run(n->ctx, dry_run);
	r = nft_run_cmd_from_buffer(n->ctx, cmds);
	nft_ctx_set_dry_run(n->ctx, false);
	if (r == 0) {
		/* reading the buffers resets them */
		(void)nft_ctx_get_error_buffer(n->ctx);
		(void)nft_ctx_get_output_buffer(n->ctx);
		return 0;
	}
	if (ret_error)
		*ret_error = trim_error(nft_ctx_get_error_buffer(n->ctx));
	(void)nft_ctx_get_output_buffer(n->ctx);
	return -EIO;
}

void nft_forget_cache(struct nft *n)
{
	/* libnftables releases its cache after every dry run; an empty one changes nothing */
	(void)nft_run(n, "", true, NULL);
}

struct table_info {
	bool found, marked;
	uint64_t handle;
};

static int table_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, NFTA_TABLE_MAX) > 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

/* The table's comment is libnftnl's user data: TLVs of (type, length, value); 0 is the comment. */
static bool udata_has_comment(const void *data, size_t len, const char *want)
{
	const uint8_t *p = data, *end = p + len;

	while (end - p >= 2) {
		uint8_t type = p[0], l = p[1];
		if (end - p - 2 < l)
			return false;
		if (type == 0)
			return l == strlen(want) + 1 && memcmp(p + 2, want, l - 1) == 0 && p[2 + l - 1] == '\0';
		p += 2 + l;
	}
	return false;
}

static int table_reply(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NFTA_TABLE_MAX + 1] = { 0 };
	struct table_info *ti = data;

	if (mnl_attr_parse(nlh, sizeof(struct nfgenmsg), table_attr, tb) < 0)
		return MNL_CB_ERROR;
	ti->found = true;
	if (tb[NFTA_TABLE_HANDLE])
		ti->handle = be64toh(mnl_attr_get_u64(tb[NFTA_TABLE_HANDLE]));
	if (tb[NFTA_TABLE_USERDATA])
		ti->marked = udata_has_comment(mnl_attr_get_payload(tb[NFTA_TABLE_USERDATA]),
					       mnl_attr_get_payload_len(tb[NFTA_TABLE_USERDATA]),
					       RULESET_TABLE_COMMENT);
	return MNL_CB_OK;
}

/* One NFT_MSG_GETTABLE for `table inet TABLE`: the kernel's own answer, without its elements. */
static int get_table(const char *table, struct table_info *ti)
{
	char buf[16384] = { 0 }; /* one table's attributes, or an error; no stale padding sent */
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	uint32_t seq = (uint32_t)time(NULL), portid;
	ssize_t n;
	int r = 0;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = NFPROTO_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, table);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto out;
	}
	for (;;) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (n < 0) {
			r = -errno;
			break;
		}
		r = mnl_cb_run(buf, (size_t)n, seq, portid, table_reply, ti);
		if (r <= MNL_CB_STOP) {
			r = r < 0 ? (errno == ENOENT ? 0 : -errno) : 0;
			break;
		}
	}
out:
	mnl_socket_close(nl);
	return r;
}

int nft_table_owner(struct nft *n, const char *table, uint64_t *ret_handle)
{
	struct table_info ti = { 0 };
	int r;

	(void)n;
	r = get_table(table, &ti);
	if (r < 0)
		return r;
	if (!ti.found)
		return 0;
	if (!ti.marked)
		return -EEXIST;
	if (ret_handle)
		*ret_handle = ti.handle;
	return 1;
}

/* Socket inodes among this process's file descriptors. */
static size_t socket_inodes(unsigned long *inodes, size_t max)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) && n < max) {
		char path[300], target[64];
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		/* NOLINTNEXTLINE(cert-err34-c): the kernel's "socket:[INODE]"; checked by the count */
		if (sscanf(target, "socket:[%lu]", &inodes[n]) == 1)
			n++;
	}
	closedir(d);
	return n;
}

uint32_t nft_portid(struct nft *n, uint32_t exclude)
{
	unsigned long inodes[MAX_SOCKETS];
	size_t n_inodes;
	char line[512];
	FILE *f;

	if (n->portid)
		return n->portid;
	n_inodes = socket_inodes(inodes, MAX_SOCKETS);
	f = fopen("/proc/self/net/netlink", "re");
	if (!f)
		return 0;
	/* sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode */
	while (fgets(line, sizeof(line), f)) {
		unsigned long inode;
		unsigned proto;
		uint32_t pid;
		/* NOLINTNEXTLINE(cert-err34-c): the kernel's format; a bad line fails the count */
		if (sscanf(line, "%*s %u %u %*s %*s %*s %*s %*s %*s %lu", &proto, &pid, &inode) != 3)
			continue;
		if (proto != NETLINK_NETFILTER_PROTO || pid == exclude || pid == 0)
			continue;
		for (size_t i = 0; i < n_inodes; i++)
			if (inodes[i] == inode)
				n->portid = pid;
	}
	(void)fclose(f); /* read-only: nothing to lose */
	return n->portid;
}
