/* SPDX-License-Identifier: MIT */
/* The verdict codec: what the daemon writes into a submission, the client reads back. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "fragment.h"
#include "macro.h"
#include "tap.h"
#include "verdict.h"

/* Parse exactly `len` bytes in a buffer of that size: no NUL after them to lean on. */
static int parse_exact(const char *s, size_t len, struct verdict_text *v)
{
	_cleanup_free_ char *copy = fixture_copy(s, len);

	return verdict_parse(copy, len, v);
}

static void test_round_trip(void)
{
	struct verdict_text v;
	struct text t;
	FILE *out = text_open(&t);

	verdict_write_head(out, "web", "alice", "accepted", true, 1767225600123);
	verdict_write_live(out, "dnat tcp 80 to 192.168.1.10");
	verdict_write_live(out, "dnat udp 27015-27030 to 192.168.1.11");
	verdict_write_live(out, "masquerade 192.168.1.0/24");
	text_close(&t);
	ok(verdict_is(t.s, t.len), "a written verdict is one");
	is_int(parse_exact(t.s, t.len, &v), 0, "and parses");
	is_str(v.fragment, "web", "fragment");
	is_str(v.user, "alice", "user");
	is_str(v.verdict, "accepted", "verdict");
	ok(v.renewed, "renewed");
	is_int(v.expires, 1767225600123, "expires");
	is_int(v.n_live, 3, "three live lines");
	is_str(v.n_live == 3 ? v.live[1] : NULL, "dnat udp 27015-27030 to 192.168.1.11",
	       "in order");
	is_int(v.n_reasons, 0, "no reasons");
	verdict_text_free(&v);
	free(t.s);

	out = text_open(&t);
	verdict_write_head(out, "ssh", "bob", "rejected", false, 0);
	verdict_write_reason(out, "ssh:2: port 22 is reserved");
	verdict_write_reason(out, "ssh: ... and 3 more");
	text_close(&t);
	is_str(t.s,
	       "natwarden-verdict 1\nfragment ssh\nuser bob\nverdict rejected\nrenewed no\n"
	       "expires 0\nreason ssh:2: port 22 is reserved\nreason ssh: ... and 3 more\n",
	       "the text, byte for byte");
	is_int(parse_exact(t.s, t.len, &v), 0, "a rejection parses");
	ok(!v.renewed && v.expires == 0 && v.n_live == 0, "not renewed, no lease, nothing live");
	ok(v.n_reasons == 2 && strcmp(v.reasons[0], "ssh:2: port 22 is reserved") == 0 &&
		   strcmp(v.reasons[1], "ssh: ... and 3 more") == 0,
	   "both reasons, in order");
	verdict_text_free(&v);
	free(t.s);

	out = text_open(&t);
	verdict_write_head(out, "x", "", "withdrawn", false, INT64_MIN);
	text_close(&t);
	is_int(parse_exact(t.s, t.len, &v), 0, "an empty user, the smallest expiry");
	ok(v.user[0] == '\0' && v.expires == INT64_MIN, "read back as written");
	verdict_text_free(&v);
	free(t.s);

	out = text_open(&t);
	verdict_write_head(out, "x", "u", "accepted", false, INT64_MAX);
	text_close(&t);
	ok(parse_exact(t.s, t.len, &v) == 0 && v.expires == INT64_MAX, "the largest expiry");
	verdict_text_free(&v);
	free(t.s);
}

/* No value, whatever bytes it holds, can add a record. */
static void test_hostile_values(void)
{
	struct verdict_text v;
	struct text t;
	FILE *out = text_open(&t);

	verdict_write_head(out, "a\nverdict accepted", "u\nlive dnat tcp 1 to 10.0.0.1", "rejected",
			   false, 0);
	verdict_write_reason(out, "r\nlive dnat tcp 2 to 10.0.0.2\rx\ty\x7f\x01");
	verdict_write_live(out, "\nreason forged");
	text_close(&t);
	is_int(parse_exact(t.s, t.len, &v), 0, "parses");
	is_str(v.verdict, "rejected", "a newline in the name does not change the verdict");
	is_str(v.fragment, "a?verdict accepted", "the newline is written as '?'");
	is_str(v.user, "u?live dnat tcp 1 to 10.0.0.1", "in the user too");
	is_int(v.n_live, 1, "only the one live line written as such");
	is_str(v.n_live ? v.live[0] : NULL, "?reason forged", "and it stays one");
	is_int(v.n_reasons, 1, "one reason");
	is_str(v.n_reasons ? v.reasons[0] : NULL, "r?live dnat tcp 2 to 10.0.0.2?x?y??",
	       "CR, TAB, DEL and other control bytes are '?'");
	verdict_text_free(&v);
	free(t.s);

	/* a value cut to the parser's fields, never past them */
	char longname[200];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	out = text_open(&t);
	verdict_write_head(out, longname, longname, longname, false, 0);
	text_close(&t);
	is_int(parse_exact(t.s, t.len, &v), 0, "over-long values parse");
	is_int(strlen(v.fragment), sizeof(v.fragment) - 1, "the name is cut to its field");
	is_int(strlen(v.user), sizeof(v.user) - 1, "the user too");
	is_int(strlen(v.verdict), sizeof(v.verdict) - 1, "the verdict too");
	verdict_text_free(&v);
	free(t.s);
}

static void test_long_lists(void)
{
	struct verdict_text v;
	struct text t;
	FILE *out = text_open(&t);
	char line[64];
	bool same = true;

	verdict_write_head(out, "big", "carol", "rejected", false, 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(line, sizeof(line), "dnat tcp %d to 10.0.%d.%d", 1 + i, i / 256, i % 256);
		verdict_write_live(out, line);
		snprintf(line, sizeof(line), "big:%d: reason %d", i + 1, i);
		verdict_write_reason(out, line);
	}
	text_close(&t);
	is_int(parse_exact(t.s, t.len, &v), 0, "5,000 live lines and 5,000 reasons parse");
	is_int(v.n_live, 5000, "every live line");
	is_int(v.n_reasons, 5000, "every reason");
	for (size_t i = 0; i < v.n_live && i < v.n_reasons; i++) {
		snprintf(line, sizeof(line), "dnat tcp %zu to 10.0.%zu.%zu", 1 + i, i / 256,
			 i % 256);
		same = same && strcmp(v.live[i], line) == 0;
		snprintf(line, sizeof(line), "big:%zu: reason %zu", i + 1, i);
		same = same && strcmp(v.reasons[i], line) == 0;
	}
	ok(same, "each in its place");
	verdict_text_free(&v);
	free(t.s);
}

static void test_not_a_verdict(void)
{
	static const char *const texts[] = {
		"",
		"dnat tcp 80 to 192.168.1.10\n",
		"natwarden-verdict 2\nverdict accepted\n",
		"natwarden-verdict 1", /* no newline after the magic */
		" natwarden-verdict 1\nverdict accepted\n",
		"NATWARDEN-VERDICT 1\nverdict accepted\n",
	};
	struct verdict_text v;

	for (size_t i = 0; i < ELEMENTSOF(texts); i++) {
		ok(!verdict_is(texts[i], strlen(texts[i])), "not a verdict: '%.*s'",
		   (int)strcspn(texts[i], "\n"), texts[i]);
		is_int(parse_exact(texts[i], strlen(texts[i]), &v), -EBADMSG, "and refused");
	}
	const char *nov = "natwarden-verdict 1\nfragment a\nuser b\nexpires 5\n";
	ok(verdict_is(nov, strlen(nov)), "a verdict's magic ...");
	is_int(parse_exact(nov, strlen(nov), &v), -EBADMSG,
	       "... without a verdict line is refused");

	const char *future = "natwarden-verdict 1\nfuture stuff\nverdict withdrawn\nlive\nreason\n"
			     "renewed yes please\nexpires x\n";
	is_int(parse_exact(future, strlen(future), &v), 0, "unknown and empty-valued lines ...");
	ok(strcmp(v.verdict, "withdrawn") == 0 && v.n_live == 0 && v.n_reasons == 0 &&
		   !v.renewed && v.expires == 0,
	   "... are ignored");
	verdict_text_free(&v);

	/* a verdict is never a valid fragment, so it can never be taken for a submission */
	struct text t;
	FILE *out = text_open(&t);
	struct fragment *f = NULL;
	struct diag_list errs;
	verdict_write_head(out, "web", "alice", "accepted", false, 0);
	verdict_write_live(out, "dnat tcp 80 to 192.168.1.10");
	text_close(&t);
	diag_init(&errs);
	ok(fragment_parse("web", t.s, t.len, &f, &errs) < 0 && errs.n > 0,
	   "a verdict does not parse as a fragment");
	free(t.s);
}

/* Every prefix of a verdict: no crash, no read past it, and a verdict once its line is in. */
static void test_truncated(void)
{
	struct text t;
	FILE *out = text_open(&t);
	size_t verdict_end, wrong = 0;

	verdict_write_head(out, "web", "alice", "accepted", true, 42);
	verdict_write_live(out, "dnat tcp 80 to 192.168.1.10");
	verdict_write_reason(out, "web: something");
	text_close(&t);
	verdict_end = (size_t)(strstr(t.s, "verdict accepted\n") - t.s) + strlen("verdict a");
	for (size_t len = 0; len <= t.len; len++) {
		struct verdict_text v;
		int r = parse_exact(t.s, len, &v);
		if (r == 0)
			verdict_text_free(&v);
		if ((r == 0) != (len >= verdict_end))
			wrong++;
	}
	is_int(wrong, 0, "each of the %zu prefixes parses exactly when its verdict line has begun",
	       t.len + 1);

	struct verdict_text v;
	is_int(parse_exact(t.s, t.len - 3, &v), 0, "a cut last line");
	ok(v.n_reasons == 1 && strcmp(v.reasons[0], "web: somethi") == 0,
	   "keeps what it has of that line");
	verdict_text_free(&v);
	free(t.s);
}

int main(void)
{
	test_round_trip();
	test_hostile_values();
	test_long_lists();
	test_not_a_verdict();
	test_truncated();
	return tap_done();
}
