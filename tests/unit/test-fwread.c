/* SPDX-License-Identifier: MIT */
/* Rules as libnftables 1.0.6 lists them in JSON, reduced to what fwcheck judges. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "fwread.h"
#include "tap.h"

struct rule_case {
	const char *nft;  /* the rule as nft text, for the test's name */
	const char *json; /* as `nft -j list chain` printed it */
	enum fwcheck_cond cond;
	uint32_t mask, value;
	enum fwcheck_verdict verdict;
	const char *target;
};

static const struct rule_case cases[] = {
	/* as nft 1.0.6 lists a mask of contiguous high bits: a prefix */
	{ "ct mark and 0xffff0000 == 0x4e570000 accept",
	  "{\"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"ct\": {\"key\": \"mark\"}}, "
	  "\"right\": {\"prefix\": {\"addr\": 1314324480, \"len\": 16}}}}, {\"accept\": null}]}",
	  FWCHECK_CT_MARK, 0xffff0000u, 0x4e570000u, FWCHECK_ACCEPT, "" },
	{ "ct mark and 0x80000000 == 0x80000000 accept",
	  "{\"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"ct\": {\"key\": \"mark\"}}, "
	  "\"right\": {\"prefix\": {\"addr\": 2147483648, \"len\": 1}}}}, {\"accept\": null}]}",
	  FWCHECK_CT_MARK, 0x80000000u, 0x80000000u, FWCHECK_ACCEPT, "" },
	/* every connection natwarden admits starts as a new one */
	{ "ct state new drop",
	  "{\"expr\": [{\"match\": {\"op\": \"in\", \"left\": {\"ct\": {\"key\": \"state\"}}, "
	  "\"right\": \"new\"}}, {\"drop\": null}]}",
	  FWCHECK_ALWAYS, 0, 0, FWCHECK_DROP, "" },
	{ "ct state established,related,new accept",
	  "{\"expr\": [{\"match\": {\"op\": \"in\", \"left\": {\"ct\": {\"key\": \"state\"}}, "
	  "\"right\": [\"established\", \"related\", \"new\"]}}, {\"accept\": null}]}",
	  FWCHECK_ALWAYS, 0, 0, FWCHECK_ACCEPT, "" },
	{ "ct state vmap { established : accept, new : drop }",
	  "{\"expr\": [{\"vmap\": {\"key\": {\"ct\": {\"key\": \"state\"}}, \"data\": {\"set\": "
	  "[[\"established\", {\"accept\": null}], [\"new\", {\"drop\": null}]]}}}]}",
	  FWCHECK_ALWAYS, 0, 0, FWCHECK_DROP, "" },
	{ "ct state vmap { established : accept, invalid : drop }",
	  "{\"expr\": [{\"vmap\": {\"key\": {\"ct\": {\"key\": \"state\"}}, \"data\": {\"set\": "
	  "[[\"established\", {\"accept\": null}], [\"invalid\", {\"drop\": null}]]}}}]}",
	  FWCHECK_CT_OTHER, 0, 0, FWCHECK_CONTINUE, "" },
	{ "ct state new ct mark and 0x10000000 == 0x10000000 accept",
	  "{\"expr\": [{\"match\": {\"op\": \"in\", \"left\": {\"ct\": {\"key\": \"state\"}}, "
	  "\"right\": \"new\"}}, {\"match\": {\"op\": \"==\", \"left\": {\"&\": [{\"ct\": {\"key\": "
	  "\"mark\"}}, 268435456]}, \"right\": 268435456}}, {\"accept\": null}]}",
	  FWCHECK_CT_MARK, 0x10000000u, 0x10000000u, FWCHECK_ACCEPT, "" },
	{ "ct state established,related accept",
	  "{\"expr\": [{\"match\": {\"op\": \"in\", \"left\": {\"ct\": {\"key\": \"state\"}}, "
	  "\"right\": [\"established\", \"related\"]}}, {\"accept\": null}]}",
	  FWCHECK_CT_OTHER, 0, 0, FWCHECK_ACCEPT, "" },
	{ "ct mark and 0x10000000 == 0x10000000 accept",
	  "{\"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"&\": [{\"ct\": {\"key\": "
	  "\"mark\"}}, 268435456]}, \"right\": 268435456}}, {\"accept\": null}]}",
	  FWCHECK_CT_MARK, 0x10000000u, 0x10000000u, FWCHECK_ACCEPT, "" },
	{ "ct mark 0x10000000 accept",
	  "{\"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"ct\": {\"key\": \"mark\"}}, "
	  "\"right\": 268435456}}, {\"accept\": null}]}",
	  FWCHECK_CT_MARK, 0xffffffffu, 0x10000000u, FWCHECK_ACCEPT, "" },
	{ "ct mark != 0x10000000 accept",
	  "{\"expr\": [{\"match\": {\"op\": \"!=\", \"left\": {\"ct\": {\"key\": \"mark\"}}, "
	  "\"right\": 268435456}}, {\"accept\": null}]}",
	  FWCHECK_CT_OTHER, 0, 0, FWCHECK_ACCEPT, "" },
	{ "ct status dnat accept",
	  "{\"expr\": [{\"match\": {\"op\": \"in\", \"left\": {\"ct\": {\"key\": \"status\"}}, "
	  "\"right\": \"dnat\"}}, {\"accept\": null}]}",
	  FWCHECK_CT_DNAT, 0, 0, FWCHECK_ACCEPT, "" },
	{ "counter drop",
	  "{\"expr\": [{\"counter\": {\"packets\": 0, \"bytes\": 0}}, {\"drop\": null}]}",
	  FWCHECK_ALWAYS, 0, 0, FWCHECK_DROP, "" },
	{ "log prefix \"x\" drop", "{\"expr\": [{\"log\": {\"prefix\": \"x\"}}, {\"drop\": null}]}",
	  FWCHECK_ALWAYS, 0, 0, FWCHECK_DROP, "" },
	{ "reject",
	  "{\"expr\": [{\"reject\": {\"type\": \"icmpx\", \"expr\": \"port-unreachable\"}}]}",
	  FWCHECK_ALWAYS, 0, 0, FWCHECK_DROP, "" },
	{ "limit rate 10/second reject",
	  "{\"expr\": [{\"limit\": {\"rate\": 10, \"burst\": 5, \"per\": \"second\"}}, "
	  "{\"reject\": {\"type\": \"icmpx\", \"expr\": \"port-unreachable\"}}]}",
	  FWCHECK_CT_OTHER, 0, 0, FWCHECK_DROP, "" },
	{ "jump fwd2", "{\"expr\": [{\"jump\": {\"target\": \"fwd2\"}}]}", FWCHECK_ALWAYS, 0, 0,
	  FWCHECK_JUMP, "fwd2" },
	{ "iifname \"x\" goto fwd2",
	  "{\"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"iifname\"}}, "
	  "\"right\": \"x\"}}, {\"goto\": {\"target\": \"fwd2\"}}]}",
	  FWCHECK_CT_OTHER, 0, 0, FWCHECK_GOTO, "fwd2" },
	{ "iifname \"x\" ct mark and 0x10000000 == 0x10000000 accept",
	  "{\"expr\": [{\"match\": {\"op\": \"==\", \"left\": {\"meta\": {\"key\": \"iifname\"}}, "
	  "\"right\": \"x\"}}, {\"match\": {\"op\": \"==\", \"left\": {\"&\": [{\"ct\": {\"key\": "
	  "\"mark\"}}, 268435456]}, \"right\": 268435456}}, {\"accept\": null}]}",
	  FWCHECK_CT_OTHER, 0, 0, FWCHECK_ACCEPT, "" },
	{ "meta mark set 1 accept",
	  "{\"expr\": [{\"mangle\": {\"key\": {\"meta\": {\"key\": \"mark\"}}, \"value\": 1}}, "
	  "{\"accept\": null}]}",
	  FWCHECK_CT_OTHER, 0, 0, FWCHECK_ACCEPT, "" },
	{ "return", "{\"expr\": [{\"return\": null}]}", FWCHECK_ALWAYS, 0, 0, FWCHECK_RETURN, "" },
	{ "counter", "{\"expr\": [{\"counter\": {\"packets\": 0, \"bytes\": 0}}]}", FWCHECK_ALWAYS,
	  0, 0, FWCHECK_CONTINUE, "" },
};

int main(void)
{
	struct fwcheck_rule r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rule_case *c = &cases[i];
		bool mark = c->cond == FWCHECK_CT_MARK;

		if (!ok(fwread_parse_rule(c->json, &r) == 0, "%s: parses", c->nft))
			continue;
		ok(r.cond == c->cond && r.verdict == c->verdict &&
		       (!mark || (r.mark_mask == c->mask && r.mark_value == c->value)) &&
		       strcmp(r.target, c->target) == 0,
		   "%s: condition %d, verdict %d", c->nft, (int)c->cond, (int)c->verdict);
	}
	ok(fwread_parse_rule("{\"expr\": [", &r) == -EBADMSG, "not JSON: -EBADMSG");
	return tap_done();
}
