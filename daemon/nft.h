/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * The one long-lived libnftables context. Every call is one kernel transaction: all of it
 * takes effect, or none of it.
 */
struct nft;

int nft_new(struct nft **ret);
void nft_free(struct nft *n);

/*
 * Run `cmds` (text the daemon rendered itself) as one transaction. Returns 0, or -EIO with
 * the first lines of libnftables' error text in *ret_error (malloc()ed; may be NULL).
 * With `dry_run`, the kernel checks the batch but nothing is committed.
 */
int nft_run(struct nft *n, const char *cmds, bool dry_run, char **ret_error);
/*
 * Drop libnftables' cache of the ruleset (about 0.5 MiB of hash tables for our table, kept
 * after every command). The next command fetches it again, which it does anyway after any
 * transaction of ours: the kernel's generation has moved on. Costs one netlink round trip.
 */
void nft_forget_cache(struct nft *n);

/*
 * The netlink port id of the context's socket, once it has talked to the kernel: nftables'
 * notifications carry it, so the daemon can tell its own transactions from anyone else's.
 * `exclude` is another netfilter socket of this process (the monitor's). 0 when unknown.
 */
uint32_t nft_portid(struct nft *n, uint32_t exclude);

/*
 * Whose is `table inet TABLE`? 1 when it exists and carries exactly natwardend's comment
 * (RULESET_TABLE_COMMENT), with its handle in *ret_handle (may be NULL); 0 when it does not
 * exist; -EEXIST when it exists without that mark (someone else's, or made by a natwarden
 * before the mark); another -errno when the kernel cannot be asked. One netlink request
 * (NFT_MSG_GETTABLE): cheap however many elements the table holds. Needs CAP_NET_ADMIN.
 */
int nft_table_owner(struct nft *n, const char *table, uint64_t *ret_handle);
