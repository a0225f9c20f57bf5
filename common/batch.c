/* SPDX-License-Identifier: MIT */
/*
 * The stream of `natwarden apply` (the contract, with its limits and line numbering, is in
 * batch.h; the same in natwarden(1), APPLY STREAM), read whole before anything is done with it
 * and refused whole at its first error:
 *
 *   stream   = "natwarden-apply 1" LF *256fragment "end" LF      ; nothing after it
 *   fragment = "fragment" SP NAME SP LENGTH LF BODY LF
 *   NAME     = a fragment name (1-64 of a-z 0-9 . _ -, the first a letter or digit) that
 *              starts with the prefix, once per stream
 *   LENGTH   = 1-65536 in decimal, no sign, no leading zeros
 *   BODY     = exactly LENGTH bytes, whatever they are
 *
 * Every line but the bodies is at most 128 bytes before its LF; the stream at most 4 MiB.
 */
#include "batch.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "macro.h"
#include "strutil.h"

#define KEYWORD_FRAGMENT "fragment"
#define KEYWORD_END	 "end"
#define SHAPE		 "'fragment NAME LENGTH'"

struct cursor {
	const char *data;
	size_t len, pos;
	unsigned line; /* of the byte at pos */
};

_printf_(3, 4) static int fail(struct batch *b, unsigned line, const char *fmt, ...)
{
	va_list ap;

	b->n = 0;
	b->err_line = line;
	va_start(ap, fmt);
	vsnprintf(b->err, sizeof(b->err), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

bool batch_prefix_valid(const char *s, size_t len)
{
	return len <= BATCH_PREFIX_MAX && fragment_name_valid(s, len);
}

/*
 * The header line at the cursor, its newline left out; the cursor moves past it. `what` is
 * what the stream ending here lacks.
 */
static int next_line(struct cursor *c, struct batch *b, const char *what, const char **ret,
		     size_t *ret_len)
{
	const char *s = c->data + c->pos;
	size_t left = c->len - c->pos;
	const char *nl = memchr(s, '\n', MIN(left, (size_t)BATCH_MAX_LINE + 1));
	char q[STR_QUOTE_MAX];

	if (!nl && left > BATCH_MAX_LINE)
		return fail(b, c->line, "line longer than %d bytes: %s", BATCH_MAX_LINE,
			    str_quote(q, sizeof(q), s, left));
	if (!nl && left == 0)
		return fail(b, c->line, "missing %s: the stream was cut short", what);
	if (!nl)
		return fail(b, c->line, "%s has no newline: the stream was cut short",
			    str_quote(q, sizeof(q), s, left));
	*ret = s;
	*ret_len = (size_t)(nl - s);
	c->pos += *ret_len + 1;
	c->line++;
	return 0;
}

/* The bytes at the cursor up to the end of their line, quoted. */
static const char *quote_rest(const struct cursor *c, char *buf, size_t size)
{
	const char *s = c->data + c->pos;
	size_t left = c->len - c->pos;
	const char *nl = memchr(s, '\n', left);

	return str_quote(buf, size, s, nl ? (size_t)(nl - s) : left);
}

/* NAME of a "fragment NAME LENGTH" line: valid, prefixed, new. */
static int check_name(struct batch *b, const char *prefix, unsigned line, const char *name,
		      size_t len)
{
	char q[STR_QUOTE_MAX];

	str_quote(q, sizeof(q), name, len);
	if (!fragment_name_valid(name, len))
		return fail(b, line,
			    "invalid fragment name %s: use 1-%d of a-z 0-9 . _ -, starting with a "
			    "letter or digit",
			    q, FRAGMENT_NAME_MAX);
	if (len < strlen(prefix) || memcmp(name, prefix, strlen(prefix)) != 0)
		return fail(b, line, "fragment %s does not start with the prefix '%s'", q, prefix);
	for (size_t i = 0; i < b->n; i++)
		if (strlen(b->items[i].name) == len && memcmp(b->items[i].name, name, len) == 0)
			return fail(b, line, "fragment %s appears twice", q);
	return 0;
}

/* The body of `len` bytes at the cursor and the newline after it; the cursor moves past them. */
static int take_body(struct cursor *c, struct batch *b, const char *q_name, uint32_t len,
		     unsigned header_line)
{
	const char *body = c->data + c->pos, *p = body, *end;
	size_t left = c->len - c->pos;
	char q[STR_QUOTE_MAX];

	if (len > left)
		return fail(b, header_line,
			    "fragment %s is cut short: %" PRIu32 " bytes announced, %zu there",
			    q_name, len, left);
	end = body + len;
	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		c->line++;
		p++;
	}
	c->pos += len;
	if (c->pos == c->len)
		return fail(b, c->line,
			    "no newline after the %" PRIu32
			    " bytes of fragment %s: the stream was cut short",
			    len, q_name);
	if (c->data[c->pos] != '\n')
		return fail(b, c->line,
			    "expected a newline after the %" PRIu32 " bytes of fragment %s, not %s",
			    len, q_name, quote_rest(c, q, sizeof(q)));
	c->pos++;
	c->line++;
	return 0;
}

/* A "fragment NAME LENGTH" line `s`, then its body. */
static int parse_fragment(struct cursor *c, struct batch *b, const char *prefix, unsigned line,
			  const char *s, size_t l)
{
	const size_t kw = strlen(KEYWORD_FRAGMENT);
	const char *name, *num, *space;
	char q[STR_QUOTE_MAX], q_name[STR_QUOTE_MAX];
	uint32_t len;
	int r;

	str_quote(q, sizeof(q), s, l);
	if (l < kw || memcmp(s, KEYWORD_FRAGMENT, kw) != 0 || (l > kw && s[kw] != ' '))
		return fail(b, line, "expected " SHAPE " or 'end', not %s", q);
	name = s + MIN(l, kw + 1);
	space = l > kw + 1 ? memchr(name, ' ', l - kw - 1) : NULL;
	if (!space || space == name || space + 1 == s + l ||
	    memchr(space + 1, ' ', (size_t)(s + l - space - 1)))
		return fail(b, line,
			    "expected " SHAPE " (words separated by single spaces), not %s", q);
	if (b->n == BATCH_MAX_FRAGMENTS)
		return fail(b, line, "more than %d fragments", BATCH_MAX_FRAGMENTS);
	r = check_name(b, prefix, line, name, (size_t)(space - name));
	if (r < 0)
		return r;
	num = space + 1;
	str_quote(q, sizeof(q), num, (size_t)(s + l - num));
	r = parse_uint32(num, (size_t)(s + l - num), 1, FRAGMENT_MAX_BYTES, &len);
	if (r == -ERANGE)
		return fail(b, line, "length %s is out of range: 1 to %d bytes", q,
			    FRAGMENT_MAX_BYTES);
	if (r < 0)
		return fail(b, line, "%s is not a length (decimal, no sign, no leading zeros)", q);
	str_quote(q_name, sizeof(q_name), name, (size_t)(space - name));
	r = take_body(c, b, q_name, len, line);
	if (r < 0)
		return r;
	struct batch_item *it = &b->items[b->n++];
	memcpy(it->name, name, (size_t)(space - name));
	it->name[space - name] = '\0';
	it->text = c->data + c->pos - len - 1;
	it->len = len;
	it->line = line;
	return 0;
}

int batch_parse(const char *prefix, const char *data, size_t len, struct batch *ret)
{
	struct cursor c = { .data = data, .len = len, .pos = 0, .line = 1 };
	char q[STR_QUOTE_MAX];
	const char *s = NULL;
	size_t l = 0;
	int r;

	ret->n = 0;
	ret->err_line = 0;
	ret->err[0] = '\0';
	if (!batch_prefix_valid(prefix, strlen(prefix)))
		return fail(ret, 0, "invalid prefix %s",
			    str_quote(q, sizeof(q), prefix, strlen(prefix)));
	if (len > BATCH_MAX_BYTES)
		return fail(ret, 0, "the stream is larger than %u bytes", BATCH_MAX_BYTES);
	r = next_line(&c, ret, "'" BATCH_MAGIC "'", &s, &l);
	if (r < 0)
		return r;
	if (l != strlen(BATCH_MAGIC) || memcmp(s, BATCH_MAGIC, l) != 0)
		return fail(ret, 1, "expected '" BATCH_MAGIC "', not %s",
			    str_quote(q, sizeof(q), s, l));
	for (;;) {
		unsigned line = c.line;
		r = next_line(&c, ret, "'" KEYWORD_END "'", &s, &l);
		if (r < 0)
			return r;
		if (l == strlen(KEYWORD_END) && memcmp(s, KEYWORD_END, l) == 0)
			break;
		r = parse_fragment(&c, ret, prefix, line, s, l);
		if (r < 0)
			return r;
	}
	if (c.pos < len)
		return fail(ret, c.line, "data after 'end': %s",
			    str_quote(q, sizeof(q), data + c.pos, len - c.pos));
	return 0;
}
