/* SPDX-License-Identifier: MIT */
/* The administrator's forward chains, judged: would they drop natwarden's connections? */
#include <stdlib.h>
#include <string.h>

#include "fwcheck.h"
#include "macro.h"
#include "tap.h"

#define MARK 0x10000000u
#define RULE "ct mark and 0x10000000 == 0x10000000 accept"

static const struct fwcheck_rule established = { .cond = FWCHECK_CT_OTHER,
						 .verdict = FWCHECK_ACCEPT };
static const struct fwcheck_rule admin_rule = {
	.cond = FWCHECK_CT_MARK, .mark_mask = MARK, .mark_value = MARK, .verdict = FWCHECK_ACCEPT
};
static const struct fwcheck_rule dnat_rule = { .cond = FWCHECK_CT_DNAT, .verdict = FWCHECK_ACCEPT };
static const struct fwcheck_rule final_drop = { .cond = FWCHECK_ALWAYS, .verdict = FWCHECK_DROP };

static struct fwcheck_chain chain(const char *family, const char *table, const char *name,
				  int priority, bool policy_drop, const struct fwcheck_rule *rules,
				  size_t n_rules)
{
	struct fwcheck_chain c = {
		.family = fwcheck_family_parse(family),
		.base = true,
		.forward = true,
		.priority = priority,
		.policy_drop = policy_drop,
		.rules_read = true,
		.rules = rules,
		.n_rules = n_rules,
	};

	snprintf(c.table, sizeof(c.table), "%s", table);
	snprintf(c.name, sizeof(c.name), "%s", name);
	return c;
}

/* The findings for these chains, one line each (fwcheck_describe), joined by '\n'. */
static char *run(const struct fwcheck_chain *chains, size_t n, uint32_t mark, uint32_t mask)
{
	struct fwcheck_input in = {
		.chains = chains,
		.n_chains = n,
		.own_table = "inet natwarden",
		.mark = mark,
		.mark_mask = mask,
		.admin_rule = RULE,
		.forwards = true,
		.pinholes = true,
	};
	struct fwcheck_finding *f = NULL;
	size_t n_f = 0;
	char *text = calloc(1, 4096), line[FWCHECK_LINE_MAX];

	if (!text || fwcheck_run(&in, &f, &n_f) < 0) {
		free(text);
		return NULL;
	}
	for (size_t i = 0; i < n_f; i++) {
		fwcheck_describe(&f[i], line, sizeof(line));
		if (i)
			strcat(text, "\n");
		strncat(text, line, 4096 - strlen(text) - 2);
	}
	free(f);
	return text;
}

#define IS(got_expr, want, ...)                                                                    \
	do {                                                                                       \
		char *_t = (got_expr);                                                             \
		is_str(_t, (want), __VA_ARGS__);                                                   \
		free(_t);                                                                          \
	} while (0)

static void test_policies(void)
{
	const struct fwcheck_rule est[] = { established };
	const struct fwcheck_rule with_rule[] = { established, admin_rule };
	struct fwcheck_chain c;

	c = chain("inet", "filter", "forward", 0, false, est, 1);
	IS(run(&c, 1, MARK, MARK), "", "policy accept: no finding");
	c = chain("inet", "filter", "forward", 0, true, est, 1);
	IS(run(&c, 1, MARK, MARK),
	   "admin chain inet filter forward drops natwarden's forwards and pinholes: add \"" RULE
	   "\"",
	   "inet, policy drop without the rule: both halves");
	c = chain("inet", "filter", "forward", 0, true, with_rule, 2);
	IS(run(&c, 1, MARK, MARK), "", "policy drop with the exact admin rule: no finding");
	c = chain("ip", "filter", "forward", 0, true, est, 1);
	IS(run(&c, 1, MARK, MARK),
	   "admin chain ip filter forward drops natwarden's forwards: add \"" RULE "\"",
	   "an ip table sees only IPv4: forwards");
	c = chain("ip6", "filter", "forward", 0, true, est, 1);
	IS(run(&c, 1, MARK, MARK),
	   "admin chain ip6 filter forward drops natwarden's pinholes: add \"" RULE "\"",
	   "an ip6 table sees only IPv6: pinholes");
}

static void test_dnat_status(void)
{
	const struct fwcheck_rule rules[] = { established, dnat_rule };
	struct fwcheck_chain c;

	c = chain("inet", "filter", "forward", 0, true, rules, 2);
	IS(run(&c, 1, MARK, MARK),
	   "admin chain inet filter forward drops natwarden's pinholes: add \"" RULE "\"",
	   "ct status dnat accept admits forwards, not pinholes (inet)");
	c = chain("ip", "filter", "forward", 0, true, rules, 2);
	IS(run(&c, 1, MARK, MARK), "", "ct status dnat accept: nothing in an ip table");
}

static void test_priority(void)
{
	const struct fwcheck_rule with_rule[] = { established, admin_rule };
	const struct fwcheck_rule est[] = { established };
	struct fwcheck_chain c;

	c = chain("inet", "filter", "early", -20, true, with_rule, 2);
	IS(run(&c, 1, MARK, MARK),
	   "admin chain inet filter early drops natwarden's pinholes: move it to priority filter "
	   "(0) or later (at priority -20 it runs before natwarden marks pinholes)",
	   "priority -20 with the rule: pinholes, with the priority as the reason");
	c = chain("inet", "filter", "early", -20, true, est, 1);
	IS(run(&c, 1, MARK, MARK),
	   "admin chain inet filter early drops natwarden's forwards and pinholes: add \"" RULE
	   "\"; and move it to priority filter (0) or later (at priority -20 it runs before "
	   "natwarden marks pinholes)",
	   "priority -20 without the rule: both reasons");
	c = chain("inet", "filter", "forward", -10, true, with_rule, 2);
	IS(run(&c, 1, MARK, MARK),
	   "admin chain inet filter forward drops natwarden's pinholes: move it to priority "
	   "filter (0) or later (at priority -10 it runs before natwarden marks pinholes)",
	   "the pinhole chain's own priority may run first: reported");
	c = chain("inet", "filter", "forward", -9, true, with_rule, 2);
	IS(run(&c, 1, MARK, MARK), "", "priority -9 with the rule: no finding");
	c = chain("ip", "filter", "early", -20, true, with_rule, 2);
	IS(run(&c, 1, MARK, MARK), "", "priority -20 in an ip table: forwards are marked earlier");
}

static void test_ignored(void)
{
	const struct fwcheck_rule est[] = { established };
	struct fwcheck_chain c[3];

	c[0] = chain("inet", "filter", "input", 0, true, est, 1);
	c[0].forward = false;
	c[1] = chain("inet", "natwarden", "pinhole", -10, true, est, 1);
	c[2] = chain("inet", "filter", "helper", 0, true, est, 1);
	c[2].base = c[2].forward = false;
	IS(run(c, 3, MARK, MARK), "",
	   "a chain on another hook, natwarden's own table and a regular chain: ignored");
	c[0] = chain("bridge", "filter", "forward", 0, true, est, 1);
	IS(run(c, 1, MARK, MARK), "", "a bridge table: ignored");
}

static void test_final_drop(void)
{
	const struct fwcheck_rule rules[] = { established, final_drop };
	const struct fwcheck_rule ruled[] = { established, admin_rule, final_drop };
	const struct fwcheck_rule cond_drop[] = { { .cond = FWCHECK_CT_OTHER,
						    .verdict = FWCHECK_DROP } };
	struct fwcheck_chain c;

	c = chain("inet", "filter", "forward", 0, false, rules, 2);
	IS(run(&c, 1, MARK, MARK),
	   "admin chain inet filter forward drops natwarden's forwards and pinholes: insert \"" RULE
	   "\" before the rule that drops",
	   "policy accept ending in an unconditional drop");
	c = chain("inet", "filter", "forward", 0, false, ruled, 3);
	IS(run(&c, 1, MARK, MARK), "", "the rule before the final drop: no finding");
	const struct fwcheck_rule late[] = { established, final_drop, admin_rule };
	c = chain("inet", "filter", "forward", 0, false, late, 3);
	IS(run(&c, 1, MARK, MARK),
	   "admin chain inet filter forward drops natwarden's forwards and pinholes: insert \"" RULE
	   "\" before the rule that drops",
	   "the rule after the final drop (as `nft add rule` puts it): insert it before");
	c = chain("inet", "filter", "forward", 0, false, cond_drop, 1);
	IS(run(&c, 1, MARK, MARK), "", "a conditional drop is not reported");
}

static void test_mark_spellings(void)
{
	struct fwcheck_rule r = { .cond = FWCHECK_CT_MARK,
				  .mark_mask = 0xffffffffu,
				  .mark_value = 0x10000000u,
				  .verdict = FWCHECK_ACCEPT };
	struct fwcheck_chain c = chain("inet", "filter", "forward", 0, true, &r, 1);

	IS(run(&c, 1, 0x10000000u, 0xffffffffu), "",
	   "ct mark MARK accept when the [wan] mask is all 32 bits");
	char *t = run(&c, 1, MARK, MARK);
	ok(t && strstr(t, "drops natwarden's forwards and pinholes"),
	   "ct mark MARK accept with a one-bit mask does not admit every marked connection");
	free(t);
	r.mark_mask = 0x10000000u;
	IS(run(&c, 1, 0x10000000u, 0x30000000u), "", "a test of some of the mask's bits suffices");
	r.mark_value = 0;
	t = run(&c, 1, MARK, MARK);
	ok(t && *t, "a test of the wrong value admits nothing");
	free(t);
}

static void test_jumps(void)
{
	const struct fwcheck_rule jump[] = {
		established, { .cond = FWCHECK_ALWAYS, .verdict = FWCHECK_JUMP, .target = "lan" }
	};
	const struct fwcheck_rule gotor[] = {
		{ .cond = FWCHECK_ALWAYS, .verdict = FWCHECK_GOTO, .target = "lan" }, admin_rule
	};
	const struct fwcheck_rule lan_rule[] = { admin_rule };
	const struct fwcheck_rule empty[] = { established };
	struct fwcheck_chain c[2];

	c[0] = chain("inet", "filter", "forward", 0, true, jump, 2);
	c[1] = chain("inet", "filter", "lan", 0, false, lan_rule, 1);
	c[1].base = c[1].forward = false;
	IS(run(c, 2, MARK, MARK), "", "the rule in a regular chain jumped to: no finding");
	c[1].rules = empty;
	IS(run(c, 2, MARK, MARK),
	   "admin chain inet filter forward drops natwarden's forwards and pinholes: add \"" RULE
	   "\"",
	   "a jump that returns: the policy decides");
	c[0].rules = gotor;
	IS(run(c, 2, MARK, MARK),
	   "admin chain inet filter forward drops natwarden's forwards and pinholes: add \"" RULE
	   "\"",
	   "a goto never comes back: the rule after it is never reached");
	c[1].rules_read = false;
	IS(run(c, 2, MARK, MARK), "", "a chain not read: no judgement");
}

static void test_loop(void)
{
	const struct fwcheck_rule loop[] = {
		{ .cond = FWCHECK_ALWAYS, .verdict = FWCHECK_JUMP, .target = "forward" }
	};
	struct fwcheck_chain c = chain("inet", "filter", "forward", 0, true, loop, 1);

	IS(run(&c, 1, MARK, MARK), "", "a loop of jumps ends at the depth limit, unjudged");

	const struct fwcheck_rule gotos[] = {
		{ .cond = FWCHECK_ALWAYS, .verdict = FWCHECK_GOTO, .target = "forward" }
	};
	c.rules = gotos;
	IS(run(&c, 1, MARK, MARK), "", "a loop of gotos ends at the hop limit, unjudged");
}

int main(void)
{
	test_policies();
	test_dnat_status();
	test_priority();
	test_ignored();
	test_final_drop();
	test_mark_spellings();
	test_jumps();
	test_loop();
	return tap_done();
}
