/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the administrator's forward chains, as the daemon reads and judges them.
 * The bytes are a header byte and then rules, one per line, each parsed as libnftables' JSON
 * of a rule (fwread_parse_rule(), what the daemon does with every rule it lists). The rules
 * are dealt out to three chains of one table: the base chain `forward` (on the forward hook,
 * its policy and priority from the header byte) and the regular chains `a` and `b`, which
 * jumps and gotos may name (or name a chain that does not exist, or loop). Then the
 * judgement (fwcheck_run()) and every sentence made of its findings.
 *
 * Checked: no crash, leak or endless walk whatever the JSON (wrong types, missing keys, deep
 * nesting, loops of jumps); at most one finding (one base chain), and it names that chain;
 * a chain that cannot drop anything (accept policy, no rule that drops, rejects or jumps) is
 * never reported; a finding always says what it drops and what to do, in bounded text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fwcheck.h"
#include "fwread.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RULES_MAX 24

#define CHECK(x)                                                                               \
	do {                                                                                   \
		if (!(x))                                                                      \
			abort();                                                               \
	} while (0)

/* Could a rule with this verdict end a packet's way through the chain other than accept? */
static bool may_stop(const struct fwcheck_rule *r)
{
	return r->verdict != FWCHECK_ACCEPT && r->verdict != FWCHECK_CONTINUE &&
	       r->verdict != FWCHECK_RETURN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int priorities[] = { 0, -10, -20, 10, -200, 100, -11, -9 };
	struct fwcheck_rule rules[3][RULES_MAX];
	size_t n_rules[3] = { 0 }, n = 0;
	struct fwcheck_chain chains[3];
	struct fwcheck_finding *found = NULL;
	bool can_drop;
	char *text, *line, *next;
	uint8_t head;

	if (size < 1 || size > 16384)
		return 0;
	head = data[0];
	text = strndup((const char *)data + 1, size - 1);
	CHECK(text);
	for (line = text; line && n < 3 * RULES_MAX; line = next) {
		struct fwcheck_rule r;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (fwread_parse_rule(line, &r) < 0)
			continue;
		CHECK(strlen(r.target) <= FWCHECK_NAME_MAX);
		size_t c = n++ % 3;
		if (n_rules[c] < RULES_MAX)
			rules[c][n_rules[c]++] = r;
	}
	free(text);

	static const char *const names[] = { "forward", "a", "b" };
	can_drop = head & 1; /* the base chain's policy */
	for (size_t c = 0; c < 3; c++) {
		chains[c] = (struct fwcheck_chain){
			.family = (enum fwcheck_family)((head >> 1) % 3),
			.base = c == 0,
			.forward = c == 0,
			.priority = c == 0 ? priorities[(head >> 3) & 7] : 0,
			.policy_drop = c == 0 && (head & 1),
			.rules_read = !(head & 0x40) || c == 0,
			.rules = rules[c],
			.n_rules = n_rules[c],
		};
		strcpy(chains[c].table, "filter");
		strcpy(chains[c].name, names[c]);
		for (size_t i = 0; i < n_rules[c]; i++)
			can_drop |= may_stop(&rules[c][i]);
		can_drop |= !chains[c].rules_read;
	}
	struct fwcheck_input in = {
		.chains = chains,
		.n_chains = 3,
		.own_table = "inet natwarden",
		.mark = 0x10000000u,
		.mark_mask = head & 0x80 ? 0x30000000u : 0x10000000u,
		.admin_rule = "ct mark and 0x10000000 == 0x10000000 accept",
		.forwards = true,
		.pinholes = true,
	};
	if (fwcheck_run(&in, &found, &n) < 0)
		return 0; /* out of memory */
	CHECK(n <= 1);
	CHECK(n == 0 || can_drop);
	for (size_t i = 0; i < n; i++) {
		char line_buf[FWCHECK_LINE_MAX], action[FWCHECK_LINE_MAX];
		const struct fwcheck_finding *f = &found[i];
		CHECK(strcmp(f->table, "filter") == 0 && strcmp(f->chain, "forward") == 0);
		CHECK(f->forwards || f->pinholes);
		CHECK(strlen(fwcheck_what(f)) > 0);
		fwcheck_action(f, action, sizeof(action));
		CHECK(strlen(action) > 0);
		fwcheck_describe(f, line_buf, sizeof(line_buf));
		CHECK(strlen(line_buf) > 0 && strlen(line_buf) < sizeof(line_buf));
	}
	free(found);
	return 0;
}
