/* SPDX-License-Identifier: MIT */
#include "verdict.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"

static void put_line(FILE *out, const char *key, const char *value)
{
	fputs(key, out);
	fputc(' ', out);
	for (const char *c = value; *c; c++)
		fputc((unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c, out);
	fputc('\n', out);
}

void verdict_write_head(FILE *out, const char *fragment, const char *user, const char *verdict,
			bool renewed, int64_t expires)
{
	char num[24];

	fputs(VERDICT_MAGIC, out);
	put_line(out, "fragment", fragment);
	put_line(out, "user", user);
	put_line(out, "verdict", verdict);
	put_line(out, "renewed", renewed ? "yes" : "no");
	snprintf(num, sizeof(num), "%" PRId64, expires);
	put_line(out, "expires", num);
}

void verdict_write_live(FILE *out, const char *statement)
{
	put_line(out, "live", statement);
}

void verdict_write_reason(FILE *out, const char *reason)
{
	put_line(out, "reason", reason);
}

bool verdict_is(const char *text, size_t len)
{
	size_t m = strlen(VERDICT_MAGIC);

	return len >= m && memcmp(text, VERDICT_MAGIC, m) == 0;
}

static int push(char ***list, size_t *n, const char *s, size_t len)
{
	char **grown = reallocarray(*list, *n + 1, sizeof(char *));

	if (!grown)
		return -ENOMEM;
	*list = grown;
	grown[*n] = strndup(s, len);
	if (!grown[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

static bool field(const char *line, size_t len, const char *key, const char **val, size_t *vlen)
{
	size_t k = strlen(key);

	if (len <= k || memcmp(line, key, k) != 0 || line[k] != ' ')
		return false;
	*val = line + k + 1;
	*vlen = len - k - 1;
	return true;
}

int verdict_parse(const char *text, size_t len, struct verdict_text *ret)
{
	const char *p, *end = text + len;

	memset(ret, 0, sizeof(*ret));
	if (!verdict_is(text, len))
		return -EBADMSG;
	for (p = text + strlen(VERDICT_MAGIC); p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *v;
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p), vl;
		int r = 0;

		if (field(p, l, "fragment", &v, &vl))
			snprintf(ret->fragment, sizeof(ret->fragment), "%.*s", (int)vl, v);
		else if (field(p, l, "user", &v, &vl))
			snprintf(ret->user, sizeof(ret->user), "%.*s", (int)vl, v);
		else if (field(p, l, "verdict", &v, &vl))
			snprintf(ret->verdict, sizeof(ret->verdict), "%.*s", (int)vl, v);
		else if (field(p, l, "renewed", &v, &vl))
			ret->renewed = vl == 3 && memcmp(v, "yes", 3) == 0;
		else if (field(p, l, "expires", &v, &vl)) {
			/* strtoll() reads to a NUL: `text` need not have one after `len` */
			char num[24];
			snprintf(num, sizeof(num), "%.*s", (int)MIN(vl, sizeof(num) - 1), v);
			ret->expires = strtoll(num, NULL, 10);
		}
		else if (field(p, l, "live", &v, &vl))
			r = push(&ret->live, &ret->n_live, v, vl);
		else if (field(p, l, "reason", &v, &vl))
			r = push(&ret->reasons, &ret->n_reasons, v, vl);
		if (r < 0) {
			verdict_text_free(ret);
			return r;
		}
		p += l + 1;
	}
	if (!ret->verdict[0]) {
		verdict_text_free(ret);
		return -EBADMSG;
	}
	return 0;
}

void verdict_text_free(struct verdict_text *v)
{
	for (size_t i = 0; i < v->n_live; i++)
		free(v->live[i]);
	for (size_t i = 0; i < v->n_reasons; i++)
		free(v->reasons[i]);
	free(v->live);
	free(v->reasons);
	v->live = v->reasons = NULL;
	v->n_live = v->n_reasons = 0;
}
