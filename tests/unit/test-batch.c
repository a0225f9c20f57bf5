/* SPDX-License-Identifier: MIT */
/* The stream of `natwarden apply`: what it takes, and every way it is refused whole. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "fixtures.h"
#include "macro.h"
#include "tap.h"

#define HEAD "natwarden-apply 1\n"

static struct batch b;

/* Parse exactly `len` bytes in a buffer of that size: no NUL after them to lean on. */
static int parse_exact(const char *prefix, const char *s, size_t len, char **ret_copy)
{
	char *copy = fixture_copy(s, len);
	int r = batch_parse(prefix, copy, len, &b);

	*ret_copy = copy;
	return r;
}

/* A fragment's part of a stream: its "fragment" line, its body, the newline after it. */
static void add_fragment(FILE *out, const char *name, const char *body, size_t len)
{
	fprintf(out, "fragment %s %zu\n", name, len);
	fwrite(body, 1, len, out);
	fputc('\n', out);
}

static void test_valid(void)
{
	const char *s = HEAD "end\n";
	char *copy;

	is_int(parse_exact("k8s-", s, strlen(s), &copy), 0, "no fragment: valid");
	is_int(b.n, 0, "and empty");
	is_str(b.err, "", "no error");
	free(copy);

	s = HEAD "fragment k8s-a 29\ndnat tcp 80 to 192.168.1.240\n\nend\n";
	is_int(parse_exact("k8s-", s, strlen(s), &copy), 0, "one fragment");
	is_int(b.n, 1, "one");
	is_str(b.items[0].name, "k8s-a", "its name");
	ok(b.items[0].text == copy + 36 && b.items[0].len == 29, "its body, in the buffer");
	is_int(b.items[0].line, 2, "its line");
	free(copy);

	/* bodies that look like the stream's own lines, one without a final newline */
	static const char body1[] = "dnat tcp 80 to 192.168.1.240\nend\nfragment k8s-z 3\n";
	static const char body2[] = "end";
	static const char body3[] = "# nul \0 inside\nmasquerade 192.168.1.240";
	struct text t;
	FILE *out = text_open(&t);
	fputs(HEAD, out);
	add_fragment(out, "k8s-a", body1, sizeof(body1) - 1);
	add_fragment(out, "k8s-b", body2, sizeof(body2) - 1);
	add_fragment(out, "k8s-c.x_y-1", body3, sizeof(body3) - 1);
	fputs("end\n", out);
	text_close(&t);
	is_int(parse_exact("k8s-", t.s, t.len, &copy), 0, "three fragments");
	is_int(b.n, 3, "three");
	ok(b.n == 3 && b.items[0].len == sizeof(body1) - 1 &&
	       memcmp(b.items[0].text, body1, b.items[0].len) == 0,
	   "the first body holds 'end' and 'fragment' lines");
	ok(b.n == 3 && b.items[1].len == 3 && memcmp(b.items[1].text, "end", 3) == 0,
	   "the second is 'end' itself");
	ok(b.n == 3 && b.items[2].len == sizeof(body3) - 1 &&
	       memcmp(b.items[2].text, body3, b.items[2].len) == 0,
	   "the third, with a NUL, no final newline");
	ok(b.n == 3 && b.items[0].text == copy + strlen(HEAD) + strlen("fragment k8s-a 50\n"),
	   "bodies point into the input");
	ok(b.n == 3 && b.items[0].line == 2 && b.items[1].line == 7 && b.items[2].line == 9,
	   "lines count the bodies' newlines (2, 7, 9)");
	is_str(b.n == 3 ? b.items[2].name : NULL, "k8s-c.x_y-1", "names in order");
	free(copy);
	free(t.s);

	s = HEAD "fragment web 1\nx\nend\n";
	is_int(parse_exact("web", s, strlen(s), &copy), 0, "a name equal to the prefix");
	free(copy);
}

struct bad {
	const char *what, *stream;
	unsigned line;
	const char *err;
};

static const struct bad bad_streams[] = {
	{ "empty", "", 1, "missing 'natwarden-apply 1': the stream was cut short" },
	{ "wrong header", "natwarden-apply 2\nend\n", 1,
	  "expected 'natwarden-apply 1', not 'natwarden-apply 2'" },
	{ "CRLF header", "natwarden-apply 1\r\nend\r\n", 1,
	  "expected 'natwarden-apply 1', not 'natwarden-apply 1\\x0d'" },
	{ "header cut", "natwarden-app", 1,
	  "'natwarden-app' has no newline: the stream was cut short" },
	{ "leading zero", HEAD "fragment k8s-a 03\nabc\nend\n", 2,
	  "'03' is not a length (decimal, no sign, no leading zeros)" },
	{ "a sign", HEAD "fragment k8s-a +3\nabc\nend\n", 2,
	  "'+3' is not a length (decimal, no sign, no leading zeros)" },
	{ "length 0", HEAD "fragment k8s-a 0\n\nend\n", 2,
	  "length '0' is out of range: 1 to 65536 bytes" },
	{ "length over 65536", HEAD "fragment k8s-a 65537\nx\nend\n", 2,
	  "length '65537' is out of range: 1 to 65536 bytes" },
	{ "length past the end", HEAD "fragment k8s-a 100\nabc\nend\n", 2,
	  "fragment 'k8s-a' is cut short: 100 bytes announced, 8 there" },
	{ "no newline after the body", HEAD "fragment k8s-a 3\nabcd\nend\n", 3,
	  "expected a newline after the 3 bytes of fragment 'k8s-a', not 'd'" },
	{ "cut right after the body", HEAD "fragment k8s-a 4\nab\nc", 4,
	  "no newline after the 4 bytes of fragment 'k8s-a': the stream was cut short" },
	{ "missing end", HEAD "fragment k8s-a 3\nabc\n", 4,
	  "missing 'end': the stream was cut short" },
	{ "cut inside 'end'", HEAD "fragment k8s-a 3\nabc\nen", 4,
	  "'en' has no newline: the stream was cut short" },
	{ "end without its newline", HEAD "end", 2,
	  "'end' has no newline: the stream was cut short" },
	{ "cut inside a fragment line", HEAD "fragment k8s-a 3\nabc\nfragment k8s-b", 4,
	  "'fragment k8s-b' has no newline: the stream was cut short" },
	{ "data after end", HEAD "end\nfragment k8s-a 3\n", 3,
	  "data after 'end': 'fragment k8s-a 3\\x0a'" },
	{ "an empty line after end", HEAD "end\n\n", 3, "data after 'end': '\\x0a'" },
	{ "duplicate", HEAD "fragment k8s-a 3\nabc\nfragment k8s-a 3\nabc\nend\n", 4,
	  "fragment 'k8s-a' appears twice" },
	{ "name without the prefix", HEAD "fragment k8s-a 1\nx\nfragment web 1\nx\nend\n", 4,
	  "fragment 'web' does not start with the prefix 'k8s-'" },
	{ "name shorter than the prefix", HEAD "fragment k8s 1\nx\nend\n", 2,
	  "fragment 'k8s' does not start with the prefix 'k8s-'" },
	{ "invalid name", HEAD "fragment k8s-A 1\nx\nend\n", 2,
	  "invalid fragment name 'k8s-A': use 1-64 of a-z 0-9 . _ -, starting with a letter or "
	  "digit" },
	{ "name too long",
	  HEAD
	  "fragment k8s-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1\nx\nend\n",
	  2,
	  "invalid fragment name 'k8s-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'...: use 1-64 of a-z "
	  "0-9 . _ -, "
	  "starting with a letter or digit" },
	{ "unknown keyword", HEAD "frag k8s-a 1\nx\nend\n", 2,
	  "expected 'fragment NAME LENGTH' or 'end', not 'frag k8s-a 1'" },
	{ "'end ' with a space", HEAD "end \n", 2,
	  "expected 'fragment NAME LENGTH' or 'end', not 'end '" },
	{ "two spaces", HEAD "fragment  k8s-a 1\nx\nend\n", 2,
	  "expected 'fragment NAME LENGTH' (words separated by single spaces), not 'fragment  "
	  "k8s-a 1'" },
	{ "no length", HEAD "fragment k8s-a\nx\nend\n", 2,
	  "expected 'fragment NAME LENGTH' (words separated by single spaces), not 'fragment "
	  "k8s-a'" },
	{ "a fourth word", HEAD "fragment k8s-a 1 x\nx\nend\n", 2,
	  "expected 'fragment NAME LENGTH' (words separated by single spaces), not 'fragment k8s-a "
	  "1 x'" },
	{ "'fragment' alone", HEAD "fragment\nend\n", 2,
	  "expected 'fragment NAME LENGTH' (words separated by single spaces), not 'fragment'" },
	{ "trailing space", HEAD "fragment k8s-a 1 \nx\nend\n", 2,
	  "expected 'fragment NAME LENGTH' (words separated by single spaces), not 'fragment k8s-a "
	  "1 '" },
};

static void test_bad(void)
{
	for (size_t i = 0; i < ELEMENTSOF(bad_streams); i++) {
		const struct bad *c = &bad_streams[i];
		char *copy;
		int r = parse_exact("k8s-", c->stream, strlen(c->stream), &copy);
		ok(r == -EINVAL && b.n == 0, "%s: refused, no fragment", c->what);
		is_int(b.err_line, c->line, "%s: line %u", c->what, c->line);
		is_str(b.err, c->err, "%s: the message", c->what);
		free(copy);
	}
}

/* A NUL byte is no character of a name (nor is it its end). */
static void test_nul_name(void)
{
	static const char s[] = HEAD "fragment k8s-a\0 1\nx\nfragment k8s-a 1\nx\nend\n";
	char *copy;

	is_int(parse_exact("k8s-", s, sizeof(s) - 1, &copy), -EINVAL, "a NUL in a name: refused");
	is_int(b.err_line, 2, "on its line");
	is_str(b.err,
	       "invalid fragment name 'k8s-a\\x00': use 1-64 of a-z 0-9 . _ -, starting with a "
	       "letter or digit",
	       "as an invalid name");
	free(copy);
}

/* 128 bytes of header line and its newline are fine; one more is refused as too long. */
static void test_long_line(void)
{
	char line[200], *copy;
	struct text t;
	FILE *out;

	memset(line, 'a', sizeof(line));
	out = text_open(&t);
	fprintf(out, HEAD "fragment k8s-a 1\nx\n%.128s\n", line);
	text_close(&t);
	ok(parse_exact("k8s-", t.s, t.len, &copy) == -EINVAL && b.err_line == 4 &&
	       strncmp(b.err, "expected 'fragment NAME LENGTH' or 'end', not 'aaaa", 51) == 0,
	   "a line of 128 bytes is read as a line");
	free(copy);
	free(t.s);

	out = text_open(&t);
	fprintf(out, HEAD "fragment k8s-a 1\nx\n%.129s\n", line);
	text_close(&t);
	is_int(parse_exact("k8s-", t.s, t.len, &copy), -EINVAL, "a line of 129 bytes ...");
	is_int(b.err_line, 4, "... on line 4");
	is_str(b.err, "line longer than 128 bytes: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'...",
	       "... is too long");
	free(copy);
	free(t.s);
}

/* `n` fragments k8s-0 ... of one byte each, then end */
static struct text many(size_t n)
{
	struct text t;
	FILE *out = text_open(&t);
	char name[32];

	fputs(HEAD, out);
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "k8s-%zu", i);
		add_fragment(out, name, "x", 1);
	}
	fputs("end\n", out);
	text_close(&t);
	return t;
}

static void test_limits(void)
{
	struct text t = many(256);
	char *copy;

	is_int(parse_exact("k8s-", t.s, t.len, &copy), 0, "256 fragments");
	is_int(b.n, 256, "all of them");
	is_str(b.items[255].name, "k8s-255", "the last one");
	free(copy);
	free(t.s);

	t = many(257);
	is_int(parse_exact("k8s-", t.s, t.len, &copy), -EINVAL, "257 fragments are refused");
	is_int(b.err_line, 2 + 2 * 256, "on the 257th 'fragment' line");
	is_str(b.err, "more than 256 fragments", "saying so");
	free(copy);
	free(t.s);
}

/* The fragment of `len` bytes, "fragment NAME LEN\n" and the newline after it included. */
static size_t fragment_bytes(const char *name, size_t len)
{
	char digits[24];

	return strlen("fragment ") + strlen(name) + 1 +
	       (size_t)snprintf(digits, sizeof(digits), "%zu", len) + 1 + len + 1;
}

/* A valid stream of exactly `size` (> 60 KiB) bytes: fragments of 60000, the last two filling up.
 */
static struct text sized(size_t size)
{
	static char body[FRAGMENT_MAX_BYTES];
	size_t left = size - strlen(HEAD) - strlen("end\n"), len;
	struct text t;
	FILE *out = text_open(&t);
	char name[32];

	memset(body, '#', sizeof(body));
	fputs(HEAD, out);
	for (size_t i = 0; left > 0; i++) {
		snprintf(name, sizeof(name), "k8s-%zu", i);
		if (left > 120000)
			len = 60000;
		else if (left > 60000)
			len = left / 2;
		else
			for (len = left; len > 0 && fragment_bytes(name, len) > left;)
				len--;
		if (len == 0 || fragment_bytes(name, len) > left)
			abort(); /* the fixture is wrong */
		add_fragment(out, name, body, len);
		left -= fragment_bytes(name, len);
	}
	fputs("end\n", out);
	text_close(&t);
	return t;
}

static void test_size(void)
{
	struct text t = sized(BATCH_MAX_BYTES);
	char *copy;

	is_int(t.len, BATCH_MAX_BYTES, "(a stream of exactly 4 MiB)");
	is_int(parse_exact("k8s-", t.s, t.len, &copy), 0, "is valid");
	ok(b.n > 0 && b.items[b.n - 1].text + b.items[b.n - 1].len + 5 == copy + t.len,
	   "its last body ends right before '\\nend\\n'");
	free(copy);
	free(t.s);

	t = sized(BATCH_MAX_BYTES + 1);
	is_int(parse_exact("k8s-", t.s, t.len, &copy), -EINVAL, "one byte more is refused");
	is_int(b.err_line, 0, "as a whole");
	is_str(b.err, "the stream is larger than 4194304 bytes", "saying so");
	free(copy);
	free(t.s);
}

static void test_prefix(void)
{
	static const struct {
		const char *s;
		bool valid;
	} cases[] = {
		{ "k8s-", true },
		{ "a", true },
		{ "0.x_y-", true },
		{ "abcdefghijabcdefghijabcdefghijab", true }, /* 32 */
		{ "abcdefghijabcdefghijabcdefghijabc", false },
		{ "", false },
		{ "-a", false },
		{ ".a", false },
		{ "K8s", false },
		{ "a/b", false },
		{ "a b", false },
	};
	char *copy;

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		is_int(batch_prefix_valid(cases[i].s, strlen(cases[i].s)), cases[i].valid,
		       "prefix '%s' is %s", cases[i].s, cases[i].valid ? "valid" : "invalid");
	is_int(parse_exact("-x", HEAD "end\n", strlen(HEAD "end\n"), &copy), -EINVAL,
	       "an invalid prefix refuses any stream");
	ok(b.err_line == 0 && strcmp(b.err, "invalid prefix '-x'") == 0, "saying so");
	free(copy);
}

int main(void)
{
	test_valid();
	test_bad();
	test_nul_name();
	test_long_line();
	test_limits();
	test_size();
	test_prefix();
	return tap_done();
}
