/* SPDX-License-Identifier: MIT */
#include "engine.h"

#include <string.h>

const char *verdict_name(enum verdict v)
{
	switch (v) {
	case VERDICT_ACCEPTED:
		return "accepted";
	case VERDICT_WITHDRAWN:
		return "withdrawn";
	default:
		return "rejected";
	}
}

/* First port of [lo, hi] not covered by the list, or 0 when all are. */
static uint16_t first_uncovered(const struct port_list *l, uint16_t lo, uint16_t hi)
{
	for (uint32_t p = lo; p <= hi; p++)
		if (!port_list_contains(l, (uint16_t)p, (uint16_t)p))
			return (uint16_t)p;
	return 0;
}

static void judge_ports(const struct policy *p, const struct submitter *sub,
			const struct active_set *a, const struct active_entry *old,
			const struct fragment_stmt *st, struct diag_list *r)
{
	char allowed[128];
	uint16_t port;

	if ((st->proto == PROTO_TCP && !sub->tcp) || (st->proto == PROTO_UDP && !sub->udp))
		diag_add(r, st->line, "protocol %s is not allowed for %s", proto_name(st->proto),
			 sub->name);
	if (!port_list_contains(&sub->ports, st->port_lo, st->port_hi)) {
		port_list_format(&sub->ports, allowed, sizeof(allowed));
		port = first_uncovered(&sub->ports, st->port_lo, st->port_hi);
		diag_add(r, st->line, "port %u is not allowed for %s (allowed: %s)", port, sub->name,
			 allowed);
	}
	port = port_list_first_hit(&p->reserved, st->port_lo, st->port_hi);
	if (port)
		diag_add(r, st->line, "port %u is reserved", port);
	for (uint32_t q = st->port_lo; st->kind == STMT_DNAT && q <= st->port_hi; q++) {
		const struct active_entry *owner = active_set_claim(a, st->proto, (uint16_t)q);
		if (owner && owner != old) {
			diag_add(r, st->line, "%s port %u is already forwarded by %s's fragment '%s'",
				 proto_name(st->proto), q, owner->user, owner->frag->name);
			break;
		}
	}
}

/* The ports a forward reaches on its target: its own, or the one it names. */
static void target_ports(const struct fragment_stmt *st, uint16_t *lo, uint16_t *hi)
{
	*lo = st->to_port ? st->to_port : st->port_lo;
	*hi = st->to_port ? st->to_port : st->port_hi;
}

static void judge_target(const struct policy *p, const struct router_view *router,
			 const struct submitter *sub, const struct fragment_stmt *st,
			 struct diag_list *r)
{
	struct prefix4 target = { .addr = st->to_addr, .len = 32 };
	char a[IPV4_STRLEN], dests[400], why[ROUTER_REASON_MAX];
	const char *special = ipv4_special_kind(st->to_addr);
	const struct router_addr *own = router ? router_view_match(router, st->to_addr) : NULL;
	uint16_t lo, hi, port;

	if (special) {
		diag_add(r, st->line, "destination %s is %s", ipv4_format(st->to_addr, a), special);
	} else if (own || (p->wan.has_address && st->to_addr == p->wan.address)) {
		/* the router itself: whatever the policy says, and its reserved ports besides */
		if (own)
			router_addr_reason(own, why, sizeof(why));
		diag_add(r, st->line, "destination %s is %s", ipv4_format(st->to_addr, a),
			 own ? why : "the router's public address");
		target_ports(st, &lo, &hi);
		port = port_list_first_hit(&p->reserved, lo, hi);
		if (port)
			diag_add(r, st->line, "port %u of the router is reserved", port);
	} else if (!destinations_allow4(sub, &target)) {
		destinations_format(sub, dests, sizeof(dests));
		diag_add(r, st->line, "destination %s is outside %s's destinations (%s)",
			 ipv4_format(st->to_addr, a), sub->name, dests);
	}
}

/*
 * A pinhole's host: never special, never the router, inside the submitter's destinations,
 * and no other active pinhole to that address, protocol and a port of the range (the same
 * port on another host, or a dnat of the same public port, is no conflict).
 */
static void judge_pinhole(const struct router_view *router, const struct submitter *sub,
			  const struct active_set *a, const struct active_entry *old,
			  const struct fragment_stmt *st, struct diag_list *r)
{
	char a6[IPV6_STRLEN], dests[400], why[ROUTER_REASON_MAX];
	const char *special = ipv6_special_kind(&st->to_addr6);
	const struct router_addr6 *own = router ? router_view_match6(router, &st->to_addr6) : NULL;
	const struct router_addr6 *anycast =
		router && !own ? router_view_anycast6(router, &st->to_addr6) : NULL;
	const struct active_entry *owner;
	uint16_t port = 0;

	ipv6_format(&st->to_addr6, a6);
	if (special) {
		diag_add(r, st->line, "destination %s is %s", a6, special);
	} else if (own) {
		router_addr6_reason(own, why, sizeof(why));
		diag_add(r, st->line, "destination %s is %s", a6, why);
	} else if (anycast) {
		router_anycast6_reason(anycast, why, sizeof(why));
		diag_add(r, st->line, "destination %s is %s", a6, why);
	} else if (!destinations_allow6(sub, &st->to_addr6)) {
		destinations_format(sub, dests, sizeof(dests));
		diag_add(r, st->line, "destination %s is outside %s's destinations (%s)", a6,
			 sub->name, dests);
	}
	owner = active_set_pinhole_owner(a, &st->to_addr6, st->proto, st->port_lo, st->port_hi, old,
					 &port);
	if (owner)
		diag_add(r, st->line, "%s port %u of %s is already opened by %s's fragment '%s'",
			 proto_name(st->proto), port, a6, owner->user, owner->frag->name);
}

/* Does prefix `p` hold the target of one of the fragment's own dnat statements? */
static bool covers_a_forward(const struct fragment *f, const struct prefix4 *p)
{
	for (size_t i = 0; i < f->n_stmts; i++)
		if (f->stmts[i].kind == STMT_DNAT && prefix4_contains_addr(p, f->stmts[i].to_addr))
			return true;
	return false;
}

/*
 * A masquerade applies only to the connections its own fragment's forwards translate to an
 * address inside it (ruleset.h): one that holds none of their targets would do nothing.
 */
static void judge_masquerade(const struct submitter *sub, const struct fragment *f,
			     const struct fragment_stmt *st, struct diag_list *r)
{
	char pfx[PREFIX4_STRLEN], dests[400];

	if (!sub->masquerade) {
		diag_add(r, st->line, "masquerade is not allowed for %s", sub->name);
		return;
	}
	if (!destinations_allow4(sub, &st->masq)) {
		destinations_format(sub, dests, sizeof(dests));
		diag_add(r, st->line, "masquerade %s is outside %s's destinations (%s)",
			 prefix4_format(&st->masq, false, pfx), sub->name, dests);
	} else if (!covers_a_forward(f, &st->masq)) {
		diag_add(r, st->line,
			 "masquerade %s covers none of this fragment's forwards: it applies only "
			 "to connections this fragment's own forwards translate",
			 prefix4_format(&st->masq, false, pfx));
	}
}

static void judge_quota(const struct submitter *sub, const struct active_set *a,
			const struct active_entry *old, const struct fragment *f,
			struct diag_list *r)
{
	size_t fragments = active_set_user_fragments(a, sub->name) - (old ? 1 : 0);
	size_t rules = active_set_user_rules(a, sub->name) - (old ? old->frag->n_stmts : 0);

	if (fragments + 1 > sub->max_fragments)
		diag_add(r, 0, "%s already has %zu active fragments (max_fragments = %u)", sub->name,
			 fragments, sub->max_fragments);
	if (rules + f->n_stmts > sub->max_rules) {
		size_t over = sub->max_rules >= rules ? sub->max_rules - rules : 0;
		diag_add(r, f->stmts[over].line,
			 "rule %zu of %s is over max_rules = %u (%zu in other fragments)",
			 rules + over + 1, sub->name, sub->max_rules, rules);
	}
	if (sub->max_lease && !f->lease)
		diag_add(r, 0, "a lease is required for %s: add 'lease SECONDS' (max_lease = %u)",
			 sub->name, sub->max_lease);
	else if (sub->max_lease && f->lease > sub->max_lease)
		diag_add(r, f->lease_line, "lease %u is longer than max_lease = %u", f->lease,
			 sub->max_lease);
}

void engine_judge(const struct policy *p, const struct router_view *router, const char *user,
		  const struct active_set *a, const struct fragment *f, struct judgement *ret)
{
	const struct submitter *sub = policy_find_submitter(p, user);
	const struct active_entry *old = active_set_find(a, user, f->name);

	/* field by field: the room for reasons is kilobytes, written only as far as used */
	ret->verdict = VERDICT_REJECTED;
	ret->replaces = old != NULL;
	ret->identical = false;
	diag_init(&ret->reasons);
	if (!sub) {
		diag_add(&ret->reasons, 0, "user '%s' is not a submitter: policy.ini has no [submitter %s]",
			 user, user);
		return;
	}
	if (fragment_is_withdrawal(f)) {
		ret->verdict = VERDICT_WITHDRAWN;
		return;
	}
	judge_quota(sub, a, old, f, &ret->reasons);
	for (size_t i = 0; i < f->n_stmts; i++) {
		const struct fragment_stmt *st = &f->stmts[i];
		if (st->kind == STMT_MASQUERADE) {
			judge_masquerade(sub, f, st, &ret->reasons);
			continue;
		}
		judge_ports(p, sub, a, old, st, &ret->reasons);
		if (st->kind == STMT_PINHOLE)
			judge_pinhole(router, sub, a, old, st, &ret->reasons);
		else
			judge_target(p, router, sub, st, &ret->reasons);
	}
	diag_sort(&ret->reasons);
	if (diag_any(&ret->reasons) || ret->reasons.dropped)
		return;
	ret->verdict = VERDICT_ACCEPTED;
	ret->identical = old && fragment_equal(old->frag, f);
}
