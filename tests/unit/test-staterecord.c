/* SPDX-License-Identifier: MIT */
/* The state journal's records: what daemon/state.c appends, and reads back at start. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "fragment.h"
#include "macro.h"
#include "staterecord.h"
#include "tap.h"

/* The head of the record at `text`: its line without the '\n'. */
static int head_of(const char *text, struct staterecord_head *h)
{
	const char *nl = strchr(text, '\n');

	return staterecord_parse_head(text, nl ? (size_t)(nl - text) : strlen(text), h);
}

static int head_str(const char *line, struct staterecord_head *h)
{
	return staterecord_parse_head(line, strlen(line), h);
}

static void test_checksum(void)
{
	is_int(staterecord_checksum("", 0), (long long)0xcbf29ce484222325ull,
	       "FNV-1a 64 of nothing: the offset basis");
	is_int(staterecord_checksum("a", 1), (long long)0xaf63dc4c8601ec8cull, "of \"a\"");
	is_int(staterecord_checksum("foobar", 6), (long long)0x85944171f73967e8ull,
	       "of \"foobar\"");
}

static void test_put(void)
{
	_cleanup_fragment_ struct fragment *f = fixture_fragment(
	    "web", "dnat tcp 80 to 192.168.1.10\nmasquerade 192.168.1.0/24\nlease 3600\n");
	_cleanup_fragment_ struct fragment *back = NULL;
	struct staterecord_head h;
	struct text t;
	FILE *out = text_open(&t);

	is_int(staterecord_format_put(out, 1000, 1767225600123, 1767229200123, "alice", f), 0,
	       "a put");
	text_close(&t);
	is_str(t.s,
	       "put 1000 1767225600123 1767229200123 alice web 65\n"
	       "dnat tcp 80 to 192.168.1.10\nmasquerade 192.168.1.0/24\nlease 3600\n",
	       "its text, byte for byte");
	is_int(head_of(t.s, &h), 0, "its head parses");
	ok(h.kind == STATERECORD_PUT && h.uid == 1000 && h.accepted == 1767225600123 &&
		   h.expires == 1767229200123 && strcmp(h.user, "alice") == 0 &&
		   strcmp(h.name, "web") == 0 && h.length == 65,
	   "every field as written");
	const char *body = strchr(t.s, '\n') + 1;
	size_t avail = t.len - (size_t)(body - t.s);
	is_int(staterecord_parse_body(&h, body, avail, &back), 0, "its body parses");
	ok(back && fragment_equal(f, back), "to the same fragment");
	free(t.s);

	/* the edges of every field */
	_cleanup_fragment_ struct fragment *g =
	    fixture_fragment("a234567890123456789012345678901234567890123456789012345678901234",
		 "dnat udp 1-65535 to 10.0.0.1\n");
	char user32[33];
	memset(user32, 'u', 32);
	user32[32] = '\0';
	fragment_free(back);
	back = NULL;
	out = text_open(&t);
	is_int(staterecord_format_put(out, UINT32_MAX - 1, -999999999999999999ll, 0, user32, g), 0,
	       "the largest uid, a 32-byte user, a 64-byte name, 18 digits and a sign, no lease");
	text_close(&t);
	ok(head_of(t.s, &h) == 0 && h.uid == UINT32_MAX - 1 &&
		   h.accepted == -999999999999999999ll && h.expires == 0 &&
		   strcmp(h.user, user32) == 0 && strcmp(h.name, g->name) == 0,
	   "read back as written");
	body = strchr(t.s, '\n') + 1;
	ok(staterecord_parse_body(&h, body, t.len - (size_t)(body - t.s), &back) == 0 &&
		   fragment_equal(g, back),
	   "the body too");
	free(t.s);
}

/* What would not read back is not written. */
/* A pinhole is saved as its canonical text, and read back; a version 1 body still reads. */
static void test_put_pinhole(void)
{
	_cleanup_fragment_ struct fragment *f =
		fixture_fragment("web6", "pinhole tcp 443 to 2001:DB8:0:1:0:0:0:240\ndnat tcp 80 to 192.168.1.10\n");
	_cleanup_fragment_ struct fragment *back = NULL;
	struct staterecord_head h;
	struct text t;
	FILE *out = text_open(&t);

	is_int(staterecord_format_put(out, 1000, 1, 0, "alice", f), 0, "a put with a pinhole");
	text_close(&t);
	is_str(t.s,
	       "put 1000 1 0 alice web6 65\n"
	       "pinhole tcp 443 to 2001:db8:0:1::240\ndnat tcp 80 to 192.168.1.10\n",
	       "the pinhole in RFC 5952 form, byte for byte");
	is_int(head_of(t.s, &h), 0, "its head parses");
	const char *body = strchr(t.s, '\n') + 1;
	is_int(staterecord_parse_body(&h, body, t.len - (size_t)(body - t.s), &back), 0,
	       "its body parses");
	ok(back && fragment_equal(f, back), "to the same fragment, pinhole included");
	free(t.s);
}

static void test_put_refused(void)
{
	_cleanup_fragment_ struct fragment *f =
	    fixture_fragment("web", "dnat tcp 80 to 192.168.1.10\n");
	static const char *const users[] = { "", "a b", "a\nput 1 1 1 x y 0", "a\tb",
					      "123456789012345678901234567890123" };
	struct text t;
	FILE *out = text_open(&t);

	for (size_t i = 0; i < ELEMENTSOF(users); i++)
		is_int(staterecord_format_put(out, 1, 1, 1, users[i], f), -EINVAL,
		       "user %zu refused", i);
	is_int(staterecord_format_put(out, UINT32_MAX, 1, 1, "a", f), -EINVAL,
	       "uid 2^32 - 1 refused");
	is_int(staterecord_format_put(out, 1, 1000000000000000000ll, 1, "a", f), -EINVAL,
	       "19 digits refused");
	is_int(staterecord_format_put(out, 1, 1, INT64_MIN, "a", f), -EINVAL,
	       "INT64_MIN refused");
	snprintf(f->name, sizeof(f->name), "Web");
	is_int(staterecord_format_put(out, 1, 1, 1, "a", f), -EINVAL, "an invalid name refused");
	is_int(staterecord_format_del(out, 1, "a b"), -EINVAL, "a del of an invalid name refused");
	is_int(staterecord_format_del(out, 1, ""), -EINVAL, "a del of an empty name refused");
	is_int(staterecord_format_del(out, UINT32_MAX, "web"), -EINVAL, "a del of uid 2^32 - 1");
	text_close(&t);
	is_int(t.len, 0, "nothing was written");
	free(t.s);
}

static void test_del_commit(void)
{
	struct staterecord_head h;
	struct text t;
	FILE *out = text_open(&t);

	is_int(staterecord_format_del(out, 0, "game.v2"), 0, "a del");
	staterecord_format_commit(out, 7, 0x00000000deadbeefull);
	staterecord_format_commit(out, SIZE_MAX, UINT64_MAX);
	text_close(&t);
	is_str(t.s,
	       "del 0 game.v2\ncommit 7 00000000deadbeef\ncommit 18446744073709551615 "
	       "ffffffffffffffff\n",
	       "their text, byte for byte");
	ok(head_of(t.s, &h) == 0 && h.kind == STATERECORD_DEL && h.uid == 0 &&
		   strcmp(h.name, "game.v2") == 0,
	   "the del reads back");
	const char *c = strchr(t.s, '\n') + 1;
	ok(head_of(c, &h) == 0 && h.kind == STATERECORD_COMMIT && h.records == 7 &&
		   h.checksum == 0xdeadbeefull,
	   "the commit reads back, leading zeros and all");
	c = strchr(c, '\n') + 1;
	is_int(head_of(c, &h), -EBADMSG, "a count past 2^32 - 1 does not (no batch is that big)");
	ok(strlen(c) <= STATERECORD_COMMIT_MAX, "the longest commit line fits the room for it");
	free(t.s);
	ok(head_str("commit 4294967295 ffffffffffffffff", &h) == 0 && h.records == UINT32_MAX &&
		   h.checksum == UINT64_MAX,
	   "the largest commit that reads");
}

/* A batch as state.c writes and reads it: records, then the checksum of their bytes. */
static void test_batch(void)
{
	_cleanup_fragment_ struct fragment *a = fixture_fragment("a", "dnat tcp 22 to 10.0.0.1\n");
	_cleanup_fragment_ struct fragment *b = fixture_fragment("b", "masquerade 10.0.0.0/8\n");
	struct text t;
	FILE *out = text_open(&t);
	size_t records = 0, seen = 0;
	bool sealed = false;

	records += staterecord_format_put(out, 1, 10, 0, "x", a) == 0;
	records += staterecord_format_del(out, 1, "c") == 0;
	records += staterecord_format_put(out, 2, 11, 12, "y", b) == 0;
	if (fflush(out) != 0)
		abort();
	staterecord_format_commit(out, records, staterecord_checksum(t.s, t.len));
	text_close(&t);
	for (const char *p = t.s, *end = t.s + t.len; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct staterecord_head h;
		struct fragment *f = NULL;
		if (!nl || staterecord_parse_head(p, (size_t)(nl - p), &h) < 0)
			break;
		if (h.kind == STATERECORD_COMMIT) {
			sealed = h.records == seen &&
				 h.checksum == staterecord_checksum(t.s, (size_t)(p - t.s));
			break;
		}
		p = nl + 1;
		if (h.kind == STATERECORD_PUT) {
			if (staterecord_parse_body(&h, p, (size_t)(end - p), &f) < 0)
				break;
			fragment_free(f);
			p += h.length;
		}
		seen++;
	}
	ok(records == 3 && seen == 3 && sealed, "three records and a commit that closes them");
	free(t.s);
}

static void test_body(void)
{
	struct staterecord_head h;
	struct fragment *f = NULL;
	const char *body = "dnat tcp 80 to 10.0.0.1\n";

	is_int(head_str("put 1 1 1 u web 24", &h), 0, "a head");
	is_int(staterecord_parse_body(&h, body, 23, &f), -EBADMSG, "a body cut short");
	is_int(staterecord_parse_body(&h, body, 24, &f), 0, "the whole body");
	fragment_free(f);
	f = NULL;
	is_int(head_str("put 1 1 1 u web 10", &h), 0, "a length that cuts a statement");
	is_int(staterecord_parse_body(&h, body, 24, &f), -EBADMSG, "is no fragment");
	is_int(head_str("put 1 1 1 u web 0", &h), 0, "a length of 0");
	ok(staterecord_parse_body(&h, "", 0, &f) == 0 && f && fragment_is_withdrawal(f),
	   "is an empty fragment (never written: a withdrawal is a del)");
	fragment_free(f);
	f = NULL;
	is_int(head_str("put 1 1 1 u web 24", &h), 0, "a head");
	is_int(staterecord_parse_body(&h, "dnat tcp 99999 to 10.0.0.1\n", 24, &f), -EBADMSG,
	       "a body that does not parse");
	is_int(head_str("del 1 web", &h), 0, "a del");
	is_int(staterecord_parse_body(&h, body, 24, &f), -EBADMSG, "has no body");
	ok(f == NULL, "no fragment came out of any failure");
}

/* Every check state.c made on a head line: each one refuses. */
static void test_malformed(void)
{
	static const char *const bad[] = {
	    /* unknown or cut record types */
	    "",
	    "put",
	    "del",
	    "commit",
	    "get 1 web",
	    "PUT 1 1 1 u web 0",
	    "put\t1 1 1 u web 0",
	    " put 1 1 1 u web 0",
	    "delete 1 web",
	    /* put: words */
	    "put 1 1 1 u web",
	    "put 1 1 1 u web 0 extra",
	    /* put: uid */
	    "put x 1 1 u web 0",
	    "put -1 1 1 u web 0",
	    "put +1 1 1 u web 0",
	    "put 01 1 1 u web 0",
	    "put 4294967295 1 1 u web 0",
	    "put 4294967296 1 1 u web 0",
	    "put 1.0 1 1 u web 0",
	    /* put: accepted and expires */
	    "put 1 +1 1 u web 0",
	    "put 1 - 1 u web 0",
	    "put 1 --1 1 u web 0",
	    "put 1 1000000000000000000 1 u web 0",
	    "put 1 1 -1000000000000000000 u web 0",
	    "put 1 1a 1 u web 0",
	    "put 1 1 0x10 u web 0",
	    "put 1 1 1e3 u web 0",
	    /* put: user */
	    "put 1 1 1 123456789012345678901234567890123 web 0",
	    /* put: name */
	    "put 1 1 1 u Web 0",
	    "put 1 1 1 u -web 0",
	    "put 1 1 1 u w/b 0",
	    "put 1 1 1 u a2345678901234567890123456789012345678901234567890123456789012345 0",
	    /* put: length */
	    "put 1 1 1 u web 65537",
	    "put 1 1 1 u web -1",
	    "put 1 1 1 u web 01",
	    "put 1 1 1 u web x",
	    /* del */
	    "del 1",
	    "del 1 web extra",
	    "del x web",
	    "del 4294967295 web",
	    "del 1 WEB",
	    "del 1 .web",
	    /* commit */
	    "commit 1",
	    "commit 1 0123456789abcdef x",
	    "commit x 0123456789abcdef",
	    "commit -1 0123456789abcdef",
	    "commit 4294967296 0123456789abcdef",
	    "commit 1 0123456789abcde",
	    "commit 1 0123456789abcdef0",
	    "commit 1 0123456789abcdeg",
	    "commit 1 0123456789abcd f",
	};
	struct staterecord_head h;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++)
		is_int(head_str(bad[i], &h), -EBADMSG, "refused: '%s'", bad[i]);

	ok(head_str("put 1 -0 0 u web 0", &h) == 0 && h.accepted == 0, "-0 is 0");
	ok(head_str("del  7   web ", &h) == 0 && h.uid == 7 && strcmp(h.name, "web") == 0,
	   "several blanks separate words too (as state.c always read them)");
	ok(head_str("commit 0 ABCDEF0123456789", &h) == 0 && h.checksum == 0xabcdef0123456789ull,
	   "upper-case hex reads (strtoull)");

	/* the head line's cap: the same del, padded to 255 and to 256 bytes */
	char line[300];
	size_t n;
	for (n = 0; n < 4; n++)
		line[n] = "del "[n];
	for (; n < 255 - 6; n++)
		line[n] = ' ';
	memcpy(line + n, "12 web", 6);
	ok(staterecord_parse_head(line, 255, &h) == 0 && h.uid == 12, "a 255-byte head line reads");
	memmove(line + 5, line + 4, 255 - 4);
	line[4] = ' ';
	is_int(staterecord_parse_head(line, 256, &h), -EBADMSG, "a 256-byte one does not");

	/* a NUL ends the line as state.c read it (the rest of that line is not looked at) */
	static const char nul[] = "del 3 web\0garbage";
	ok(staterecord_parse_head(nul, sizeof(nul) - 1, &h) == 0 && h.uid == 3,
	   "a NUL ends the head");
}

int main(void)
{
	test_checksum();
	test_put();
	test_put_pinhole();
	test_put_refused();
	test_del_commit();
	test_batch();
	test_body();
	test_malformed();
	return tap_done();
}
