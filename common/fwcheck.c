/* SPDX-License-Identifier: MIT */
#include "fwcheck.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How one walk of a chain ends. */
enum walk {
	WALK_END,     /* ran off the end (or `return`): back to the caller, or the policy */
	WALK_ADMIT,   /* an accept that covers natwarden's connections */
	WALK_DROP,    /* an unconditional drop or reject */
	WALK_UNKNOWN, /* a chain not read, or too deep: no judgement */
};

/* One half of the question: which connections, and what admits them in this chain. */
struct half {
	bool ipv4;     /* forwards (IPv4) or pinholes (IPv6) */
	bool mark_set; /* the mark is set before this chain runs */
	uint32_t mark, mask;
};

const char *fwcheck_family_name(enum fwcheck_family f)
{
	switch (f) {
	case FWCHECK_IP:
		return "ip";
	case FWCHECK_IP6:
		return "ip6";
	case FWCHECK_INET:
		return "inet";
	default:
		return "?";
	}
}

enum fwcheck_family fwcheck_family_parse(const char *name)
{
	if (strcmp(name, "ip") == 0)
		return FWCHECK_IP;
	if (strcmp(name, "ip6") == 0)
		return FWCHECK_IP6;
	if (strcmp(name, "inet") == 0)
		return FWCHECK_INET;
	return FWCHECK_OTHER;
}

bool fwcheck_hook_is_forward(const char *hook)
{
	return hook && strcmp(hook, "forward") == 0;
}

/* Does every connection natwarden marked pass `ct mark and M == V`? */
static bool mark_test_admits(const struct half *h, uint32_t m, uint32_t v)
{
	return m != 0 && (m & ~h->mask) == 0 && v == (h->mark & m);
}

static bool rule_admits(const struct half *h, const struct fwcheck_rule *r)
{
	if (r->verdict != FWCHECK_ACCEPT)
		return false;
	switch (r->cond) {
	case FWCHECK_ALWAYS:
		return true;
	case FWCHECK_CT_MARK:
		return h->mark_set && mark_test_admits(h, r->mark_mask, r->mark_value);
	case FWCHECK_CT_DNAT:
		return h->ipv4; /* pinholes are not translated */
	default:
		return false;
	}
}

static const struct fwcheck_chain *find_chain(const struct fwcheck_input *in,
					      const struct fwcheck_chain *from, const char *name)
{
	for (size_t i = 0; i < in->n_chains; i++) {
		const struct fwcheck_chain *c = &in->chains[i];
		if (c->family == from->family && strcmp(c->table, from->table) == 0 &&
		    strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

/*
 * Walk from a base chain. Without recursion: a stack of the chains jumped into (a goto
 * replaces the top one), at most FWCHECK_DEPTH deep, and at most FWCHECK_HOPS jumps and gotos
 * in all, so that a loop of gotos ends too.
 */
static enum walk walk(const struct fwcheck_input *in, const struct half *h,
		      const struct fwcheck_chain *base)
{
	struct frame {
		const struct fwcheck_chain *c;
		size_t next;
	} stack[FWCHECK_DEPTH + 1] = { { base, 0 } };
	size_t depth = 0;
	unsigned hops = 0;

	for (;;) {
		struct frame *f = &stack[depth];
		const struct fwcheck_rule *r;

		if (!f->c || !f->c->rules_read || hops > FWCHECK_HOPS)
			return WALK_UNKNOWN;
		if (f->next >= f->c->n_rules) { /* the end, or `return`: back to the caller */
			if (depth == 0)
				return WALK_END;
			depth--;
			continue;
		}
		r = &f->c->rules[f->next++];
		if (rule_admits(h, r))
			return WALK_ADMIT;
		if (r->cond != FWCHECK_ALWAYS)
			continue; /* may or may not match: judged by what follows */
		switch (r->verdict) {
		case FWCHECK_DROP:
			return WALK_DROP;
		case FWCHECK_RETURN:
			f->next = f->c->n_rules;
			break;
		case FWCHECK_GOTO: /* replaces this chain: its end is this chain's end */
			hops++;
			*f = (struct frame){ find_chain(in, f->c, r->target), 0 };
			break;
		case FWCHECK_JUMP:
			hops++;
			if (depth == FWCHECK_DEPTH)
				return WALK_UNKNOWN;
			stack[++depth] = (struct frame){ find_chain(in, f->c, r->target), 0 };
			break;
		default:
			break;
		}
	}
}

/* Would the base chain `c` drop this half? *by_rule: a rule would, not the policy. */
static bool drops(const struct fwcheck_input *in, const struct half *h,
		  const struct fwcheck_chain *c, bool *by_rule)
{
	enum walk w = walk(in, h, c);

	*by_rule |= w == WALK_DROP;
	return w == WALK_DROP || (w == WALK_END && c->policy_drop);
}

static bool sees_ipv4(enum fwcheck_family f)
{
	return f == FWCHECK_IP || f == FWCHECK_INET;
}

static bool sees_ipv6(enum fwcheck_family f)
{
	return f == FWCHECK_IP6 || f == FWCHECK_INET;
}

static bool is_own(const struct fwcheck_input *in, const struct fwcheck_chain *c)
{
	char name[FWCHECK_NAME_MAX + 8];

	snprintf(name, sizeof(name), "inet %s", c->table);
	return c->family == FWCHECK_INET && in->own_table && strcmp(name, in->own_table) == 0;
}

/* The finding for one base chain on the forward hook; false when it drops nothing of ours. */
static bool judge(const struct fwcheck_input *in, const struct fwcheck_chain *c,
		  struct fwcheck_finding *ret)
{
	struct half h = { .mark = in->mark, .mask = in->mark_mask, .mark_set = true };
	struct fwcheck_finding f = { .family = c->family, .priority = c->priority };

	if (in->forwards && sees_ipv4(c->family)) {
		h.ipv4 = true;
		f.forwards = f.needs_rule = drops(in, &h, c, &f.by_rule);
	}
	if (in->pinholes && sees_ipv6(c->family)) {
		h.ipv4 = false;
		f.needs_rule |= drops(in, &h, c, &f.by_rule);
		h.mark_set = c->priority > FWCHECK_PINHOLE_PRIORITY;
		f.pinholes = drops(in, &h, c, &f.by_rule);
		f.too_early = f.pinholes && !h.mark_set;
	}
	if (!f.forwards && !f.pinholes)
		return false;
	snprintf(f.table, sizeof(f.table), "%s", c->table);
	snprintf(f.chain, sizeof(f.chain), "%s", c->name);
	snprintf(f.rule, sizeof(f.rule), "%s", in->admin_rule ? in->admin_rule : "");
	*ret = f;
	return true;
}

int fwcheck_run(const struct fwcheck_input *in, struct fwcheck_finding **ret, size_t *ret_n)
{
	struct fwcheck_finding *list = NULL;
	size_t n = 0;

	for (size_t i = 0; i < in->n_chains; i++) {
		const struct fwcheck_chain *c = &in->chains[i];
		struct fwcheck_finding f;

		if (!c->base || !c->forward || c->family == FWCHECK_OTHER || is_own(in, c) ||
		    !judge(in, c, &f))
			continue;
		struct fwcheck_finding *grown = reallocarray(list, n + 1, sizeof(*list));
		if (!grown) {
			free(list);
			return -ENOMEM;
		}
		list = grown;
		list[n++] = f;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

const char *fwcheck_what(const struct fwcheck_finding *f)
{
	if (f->forwards && f->pinholes)
		return "forwards and pinholes";
	return f->forwards ? "forwards" : "pinholes";
}

void fwcheck_action(const struct fwcheck_finding *f, char *buf, size_t size)
{
	int n = 0;

	buf[0] = '\0';
	/* `nft add rule` appends: after a rule that drops, it would never be reached */
	if (f->needs_rule && f->by_rule)
		n = snprintf(buf, size, "insert \"%s\" before the rule that drops", f->rule);
	else if (f->needs_rule)
		n = snprintf(buf, size, "add \"%s\"", f->rule);
	if (f->too_early && n >= 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n,
			 "%smove it to priority filter (0) or later (at priority %d it runs before "
			 "natwarden marks pinholes)",
			 n ? "; and " : "", f->priority);
}

void fwcheck_line(const char *table, const char *chain, const char *what, const char *action,
		  char *buf, size_t size)
{
	snprintf(buf, size, "admin chain %s %s drops natwarden's %s: %s", table, chain, what,
		 action);
}

void fwcheck_describe(const struct fwcheck_finding *f, char *buf, size_t size)
{
	char table[FWCHECK_NAME_MAX + 8], action[FWCHECK_LINE_MAX];

	snprintf(table, sizeof(table), "%s %s", fwcheck_family_name(f->family), f->table);
	fwcheck_action(f, action, sizeof(action));
	fwcheck_line(table, f->chain, fwcheck_what(f), action, buf, size);
}
