/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: any bytes as a fragment. Whatever parses must print canonically, parse
 * back to the same fragment, and be judged by the engine without trouble. Pinholes (version 2)
 * are judged against IPv6 destinations and a held pinhole they may conflict with.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "active.h"
#include "engine.h"
#include "fragment.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char policy_text[] = "[wan]\ninterface = eth0\naddress = 203.0.113.7\n"
				  "[reserved]\nports = 22\n"
				  "[submitter u]\nports = 1-30000\n"
				  "destinations = 0.0.0.0/1, 2001:db8::/32, fe80::/10, ::/96\n"
				  "masquerade = yes\nmax_fragments = 4\nmax_rules = 200\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy *policy;
	static struct active_set *active;
	struct fragment *f = NULL, *g = NULL;
	struct diag_list errs;
	struct judgement j;
	char *text;

	if (!policy) {
		diag_init(&errs);
		if (policy_parse("fuzz.ini", policy_text, sizeof(policy_text) - 1, &policy, &errs) < 0)
			abort();
		active = active_set_new();
		struct fragment *held = NULL;
		const char *h = "dnat tcp 100-200 to 10.0.0.1\ndnat udp 80 to 10.0.0.2\n"
				"pinhole tcp 443 to 2001:db8::1\n";
		if (!active || fragment_parse("held", h, strlen(h), &held, &errs) < 0)
			abort();
		if (active_set_insert(active, active_entry_new("other", 2, held)) < 0)
			abort();
	}
	diag_init(&errs);
	if (fragment_parse("fuzz", (const char *)data, size, &f, &errs) < 0) {
		if (errs.n == 0)
			abort(); /* a rejection always says why */
		return 0;
	}
	text = fragment_print(f);
	if (!text)
		abort();
	diag_init(&errs);
	if (fragment_parse("fuzz", text, strlen(text), &g, &errs) < 0 || !fragment_equal(f, g))
		abort(); /* parse(print(f)) == f */
	engine_judge(policy, NULL, "u", active, f, &j);
	if (j.verdict == VERDICT_REJECTED && j.reasons.n == 0)
		abort();
	free(text);
	fragment_free(f);
	fragment_free(g);
	return 0;
}
