/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>

#include "fwcheck.h"

/*
 * Read, never write, the chains common/fwcheck.h judges: every base chain on the forward hook
 * of the ip, ip6 and inet tables other than natwarden's own, with its rules, and the regular
 * chains of the same table their unconditional jumps and gotos lead to (at most
 * FWREAD_CHAINS_MAX chains in all; a chain left out is judged as unread).
 *
 * Through a libnftables context of its own, in JSON: `list chains`, then `list table` once for
 * each table with a chain wanted, the names passed as JSON strings (never as nft text). Never
 * `list ruleset` and never natwarden's own table: it may hold 10,000 set elements. Needs
 * CAP_NET_ADMIN.
 */
#define FWREAD_CHAINS_MAX 256
/* No table is listed once reading has taken this long (a listing fetches every set element). */
#define FWREAD_BUDGET_MS 2000

struct fwread {
	struct fwcheck_chain *chains;
	size_t n_chains;
	/*
	 * Chains on the forward hook, or jumped to from one, that were not read and so not
	 * judged: a name longer than FWCHECK_NAME_MAX or with a control character, past
	 * FWREAD_CHAINS_MAX, past FWREAD_BUDGET_MS, or gone meanwhile. Said, never hidden.
	 */
	size_t n_unread;
};

/*
 * Read them into *ret (fwread_finish() it). `own_table` is natwarden's table name (in family
 * inet). 0, or a negative errno with libnftables' words in *ret_error (malloc()ed, may be NULL).
 */
int fwread_chains(const char *own_table, struct fwread *ret, char **ret_error);
void fwread_finish(struct fwread *r);

/*
 * One rule as libnftables 1.0.6 lists it in JSON (the object under "rule", with its "expr"
 * list), reduced to what fwcheck judges. Pure. 0, or -EBADMSG when `json` is not JSON.
 */
int fwread_parse_rule(const char *json, struct fwcheck_rule *ret);
