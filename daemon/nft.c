/* SPDX-License-Identifier: MIT */
#include "nft.h"

#include <dirent.h>
#include <errno.h>
#include <nftables/libnftables.h>
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

/*
 * Run one listing command with the terse output flag alone (no set elements, no handles, no
 * JSON), and the caller's flags back afterwards. On success *ret is the output, valid until
 * the context runs the next command.
 */
static int list_terse(struct nft *n, const char *cmd, const char **ret)
{
	unsigned int flags = nft_ctx_output_get_flags(n->ctx);
	int r;

	nft_ctx_output_set_flags(n->ctx, NFT_CTX_OUTPUT_TERSE);
	r = nft_run_cmd_from_buffer(n->ctx, cmd);
	nft_ctx_output_set_flags(n->ctx, flags);
	(void)nft_ctx_get_error_buffer(n->ctx); /* reading the buffers resets them */
	*ret = nft_ctx_get_output_buffer(n->ctx);
	return r == 0 ? 0 : -EIO;
}

/* Does the listing `text` hold the line `line` (without its newline)? */
static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);

	for (const char *p = text; *p;) {
		const char *nl = strchrnul(p, '\n');
		if ((size_t)(nl - p) == len && strncmp(p, line, len) == 0)
			return true;
		if (!*nl)
			break;
		p = nl + 1;
	}
	return false;
}

int nft_table_owner(struct nft *n, const char *table)
{
	_cleanup_free_ char *cmd = NULL, *ours = NULL, *exists = NULL;
	const char *out;
	int r;

	if (asprintf(&cmd, "list table inet %s", table) < 0 ||
	    asprintf(&ours, "table inet %s {\n\tcomment \"%s\"\n", table,
		     RULESET_TABLE_COMMENT) < 0 ||
	    asprintf(&exists, "table inet %s", table) < 0)
		return -ENOMEM;
	r = list_terse(n, cmd, &out);
	if (r == 0)
		return strncmp(out, ours, strlen(ours)) == 0 ? 1 : -EEXIST;
	/*
	 * A missing table fails like any other error, and the only sign of which it was is the
	 * kernel's strerror() text: ask for the list of tables instead of reading the message.
	 */
	r = list_terse(n, "list tables inet", &out);
	if (r < 0)
		return r;
	return has_line(out, exists) ? -EIO : 0;
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
