/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Would the administrator's own forward chains drop natwarden's connections? Pure: it judges a
 * description of other tables' chains (the daemon reads them from the kernel, daemon/fwread.c)
 * and returns findings; no I/O, no logging, no libnftables.
 *
 * A packet passes the forward hook only if every base chain on it accepts it, so natwarden's
 * own accept cannot open a path through another table's drop. natwarden puts the [wan] mark
 * bits in the conntrack mark of each connection it admits: IPv4 forwards in prerouting (before
 * any forward chain), IPv6 pinholes in its `pinhole` chain on the forward hook at priority
 * `filter - 10` (FWCHECK_PINHOLE_PRIORITY).
 *
 * The rule, for each half (IPv4 forwards, IPv6 pinholes) a chain's family sees (`ip`: IPv4,
 * `ip6`: IPv6, `inet`: both), walking the base chain's rules in order:
 *   - a rule that admits the half ends the walk: `accept` whose only condition is a conntrack
 *     mark test every marked connection passes (`ct mark and M == V` with M within the [wan]
 *     mask and V the mark's bits under M; so also `ct mark MARK` when the mask is all 32 bits),
 *     for IPv4 also `ct status dnat accept`, and an unconditional `accept`;
 *   - an unconditional `drop` or `reject` ends it with a drop;
 *   - an unconditional `jump`/`goto` to a regular chain of the same table is followed (at most
 *     FWCHECK_DEPTH deep and FWCHECK_HOPS in all; a chain given without its rules, or beyond
 *     those bounds, ends the walk with no finding: what was not read is not judged); an
 *     unconditional `return` leaves the chain;
 *   - every other rule (a condition of any other kind, or one not understood) may or may not
 *     match, so it is passed over: a conditional drop is not reported, a conditional accept
 *     admits nothing;
 *   - at the end of the base chain its policy decides.
 * The pinhole mark is set at priority -10: a chain at -10 or lower may run before it (at the
 * same priority the order is the order of registration, and natwarden's table is made again
 * after a flush), so there the mark admits nothing, and the finding asks to move the chain to
 * priority `filter` (0) or later. Chains on other hooks, natwarden's own table and families
 * other than ip, ip6 and inet are ignored. Conservative: a walk reports only the drops it can
 * see.
 */

#define FWCHECK_NAME_MAX	 64    /* nftables' table and chain names */
#define FWCHECK_DEPTH		 8     /* jumps followed from a base chain, one inside another */
#define FWCHECK_HOPS		 64    /* jumps and gotos followed from a base chain in all */
#define FWCHECK_PINHOLE_PRIORITY (-10) /* natwarden's `pinhole` chain: filter - 10 */
#define FWCHECK_RULE_MAX	 96    /* "ct mark and 0x10000000 == 0x10000000 accept" */
#define FWCHECK_LINE_MAX	 512   /* fwcheck_line() */

enum fwcheck_family { FWCHECK_IP, FWCHECK_IP6, FWCHECK_INET, FWCHECK_OTHER };

enum fwcheck_verdict {
	FWCHECK_CONTINUE, /* no verdict, or `continue` */
	FWCHECK_ACCEPT,
	FWCHECK_DROP, /* drop or reject */
	FWCHECK_JUMP,
	FWCHECK_GOTO,
	FWCHECK_RETURN,
	FWCHECK_UNKNOWN, /* a verdict not understood: the rule is passed over */
};

/* The condition of a rule, when it has at most one that matters here. */
enum fwcheck_cond {
	FWCHECK_ALWAYS,	  /* no condition: counters and logs only */
	FWCHECK_CT_MARK,  /* `ct mark and MASK == VALUE` (`ct mark VALUE`: mask 0xffffffff) */
	FWCHECK_CT_DNAT,  /* `ct status dnat` */
	FWCHECK_CT_OTHER, /* anything else, or more than one condition */
};

struct fwcheck_rule {
	enum fwcheck_cond cond;
	uint32_t mark_mask, mark_value; /* FWCHECK_CT_MARK */
	enum fwcheck_verdict verdict;
	char target[FWCHECK_NAME_MAX + 1]; /* jump, goto */
};

struct fwcheck_chain {
	enum fwcheck_family family;
	char table[FWCHECK_NAME_MAX + 1];
	char name[FWCHECK_NAME_MAX + 1];
	bool base;    /* a base chain, with a hook */
	bool forward; /* ... on the forward hook */
	int priority;
	bool policy_drop;
	bool rules_read; /* its rules are below (false: unknown, never judged) */
	const struct fwcheck_rule *rules;
	size_t n_rules;
};

struct fwcheck_input {
	const struct fwcheck_chain *chains; /* every chain read, base and regular */
	size_t n_chains;
	const char *own_table;	  /* natwarden's: `inet NAME`, ignored */
	uint32_t mark, mark_mask; /* [wan] mark */
	const char *admin_rule;	  /* ruleset_admin_rule(): what findings ask to add */
	bool forwards, pinholes;  /* which halves matter */
};

struct fwcheck_finding {
	enum fwcheck_family family;
	char table[FWCHECK_NAME_MAX + 1];
	char chain[FWCHECK_NAME_MAX + 1];
	int priority;
	bool forwards, pinholes;     /* what it would drop */
	bool needs_rule;	     /* the admin rule is missing (for either half) */
	bool too_early;		     /* it runs before the pinhole mark is set */
	bool by_rule;		     /* a rule drops them, not (only) the policy */
	char rule[FWCHECK_RULE_MAX]; /* the rule to add */
};

const char *fwcheck_family_name(enum fwcheck_family f); /* "ip", "ip6", "inet", "?" */
/* "ip", "ip6", "inet" and anything else (FWCHECK_OTHER). */
enum fwcheck_family fwcheck_family_parse(const char *name);

/* Is a chain on a hook whose name is `hook` one of the forward hook's? */
bool fwcheck_hook_is_forward(const char *hook);

/*
 * The findings, in the order of `in->chains`, into *ret (malloc()ed, NULL when none) and
 * *ret_n. 0 or -ENOMEM.
 */
int fwcheck_run(const struct fwcheck_input *in, struct fwcheck_finding **ret, size_t *ret_n);

/* "forwards", "pinholes" or "forwards and pinholes". */
const char *fwcheck_what(const struct fwcheck_finding *f);
/*
 * What to do: `add "RULE"` (or `insert "RULE" before the rule that drops` when a rule drops
 * them: an added rule would come after it), `move it to priority filter (0) or later (at priority P it runs
 * before natwarden marks pinholes)`, or both joined by "; and ".
 */
void fwcheck_action(const struct fwcheck_finding *f, char *buf, size_t size);
/*
 * The one line for a person, from its parts (as the status file keeps them):
 * `admin chain inet filter forward drops natwarden's forwards and pinholes: add "RULE"`.
 * `table` is "FAMILY NAME".
 */
void fwcheck_line(const char *table, const char *chain, const char *what, const char *action,
		  char *buf, size_t size);
/* The same, for a finding. */
void fwcheck_describe(const struct fwcheck_finding *f, char *buf, size_t size);
