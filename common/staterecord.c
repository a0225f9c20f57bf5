/* SPDX-License-Identifier: MIT */
#include "staterecord.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "strutil.h"

#define I64_DIGITS_MAX 18 /* ms since 1970: 13 digits today */

uint64_t staterecord_checksum(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* ---- writing ---------------------------------------------------------------------------- */

static bool user_ok(const char *user)
{
	size_t len = strlen(user);

	if (len == 0 || len > STATERECORD_USER_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!char_is_print(user[i]) || user[i] == ' ')
			return false;
	return true;
}

static bool i64_ok(int64_t v)
{
	return v > -INT64_C(1000000000000000000) && v < INT64_C(1000000000000000000); /* 18 digits */
}

int staterecord_format_put(FILE *out, uint32_t uid, int64_t accepted, int64_t expires,
			   const char *user, const struct fragment *f)
{
	_cleanup_free_ char *body = NULL;
	size_t len;

	if (uid == UINT32_MAX || !i64_ok(accepted) || !i64_ok(expires) || !user_ok(user) ||
	    !fragment_name_valid(f->name, strlen(f->name)))
		return -EINVAL;
	body = fragment_print(f);
	if (!body)
		return -ENOMEM;
	len = strlen(body);
	if (len > FRAGMENT_MAX_BYTES)
		return -EINVAL;
	fprintf(out, "put %" PRIu32 " %" PRId64 " %" PRId64 " %s %s %zu\n%s", uid, accepted,
		expires, user, f->name, len, body);
	return 0;
}

int staterecord_format_del(FILE *out, uint32_t uid, const char *name)
{
	if (uid == UINT32_MAX || !fragment_name_valid(name, strlen(name)))
		return -EINVAL;
	fprintf(out, "del %" PRIu32 " %s\n", uid, name);
	return 0;
}

void staterecord_format_commit(FILE *out, size_t records, uint64_t checksum)
{
	fprintf(out, "commit %zu %016" PRIx64 "\n", records, checksum);
}

/* ---- reading ---------------------------------------------------------------------------- */

/* Split a head line into at most `max` blank-separated words, in place. */
static size_t words(char *line, char **w, size_t max)
{
	size_t n = 0;

	for (char *save = NULL, *t = strtok_r(line, " ", &save); t && n < max;
	     t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	return n;
}

/* An optional '-' and 1-18 digits: never a '+', blanks or any other sign trick. */
static int parse_i64(const char *s, int64_t *ret)
{
	const char *digits = s[0] == '-' ? s + 1 : s;
	size_t len = strlen(digits);
	int64_t v = 0;

	if (len == 0 || len > I64_DIGITS_MAX)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!char_is_digit(digits[i]))
			return -EINVAL;
		v = v * 10 + (digits[i] - '0');
	}
	*ret = s[0] == '-' ? -v : v;
	return 0;
}

static int parse_uid(const char *s, uint32_t *ret)
{
	return parse_uint32(s, strlen(s), 0, UINT32_MAX - 1, ret); /* (uid_t)-1 is nobody's */
}

static int parse_put(char *line, struct staterecord_head *h)
{
	char *w[8];

	if (words(line, w, 8) != 7 || parse_uid(w[1], &h->uid) < 0 ||
	    parse_i64(w[2], &h->accepted) < 0 || parse_i64(w[3], &h->expires) < 0 ||
	    strlen(w[4]) > STATERECORD_USER_MAX || !fragment_name_valid(w[5], strlen(w[5])) ||
	    parse_uint32(w[6], strlen(w[6]), 0, FRAGMENT_MAX_BYTES, &h->length) < 0)
		return -EBADMSG;
	snprintf(h->user, sizeof(h->user), "%s", w[4]);
	snprintf(h->name, sizeof(h->name), "%s", w[5]);
	h->kind = STATERECORD_PUT;
	return 0;
}

static int parse_del(char *line, struct staterecord_head *h)
{
	char *w[4];

	if (words(line, w, 4) != 3 || parse_uid(w[1], &h->uid) < 0 ||
	    !fragment_name_valid(w[2], strlen(w[2])))
		return -EBADMSG;
	snprintf(h->name, sizeof(h->name), "%s", w[2]);
	h->kind = STATERECORD_DEL;
	return 0;
}

static int parse_commit(char *line, struct staterecord_head *h)
{
	char *w[4], *end;

	if (words(line, w, 4) != 3 ||
	    parse_uint32(w[1], strlen(w[1]), 0, UINT32_MAX, &h->records) < 0 || strlen(w[2]) != 16)
		return -EBADMSG;
	errno = 0;
	h->checksum = strtoull(w[2], &end, 16);
	if (errno != 0 || *end != '\0')
		return -EBADMSG;
	h->kind = STATERECORD_COMMIT;
	return 0;
}

int staterecord_parse_format(const char *line, size_t len, unsigned *ret, size_t *ret_skip)
{
	static const char word[] = "natwarden-state";
	const size_t wlen = sizeof(word) - 1;
	uint32_t v;

	if (len < wlen || memcmp(line, word, wlen) != 0) {
		*ret = 1;
		*ret_skip = 0;
		return 0;
	}
	if (len < wlen + 2 || len > wlen + 10 || line[wlen] != ' ' ||
	    parse_uint32(line + wlen + 1, len - wlen - 1, 1, STATERECORD_FORMAT_MAX, &v) < 0)
		return -EBADMSG;
	*ret = v;
	*ret_skip = len + 1;
	return 0;
}

int staterecord_parse_head(const char *line, size_t len, struct staterecord_head *ret)
{
	struct staterecord_head h = { 0 };
	char buf[STATERECORD_HEAD_MAX];
	int r;

	if (len >= sizeof(buf))
		return -EBADMSG;
	memcpy(buf, line, len);
	buf[len] = '\0';
	if (strncmp(buf, "put ", 4) == 0)
		r = parse_put(buf, &h);
	else if (strncmp(buf, "del ", 4) == 0)
		r = parse_del(buf, &h);
	else if (strncmp(buf, "commit ", 7) == 0)
		r = parse_commit(buf, &h);
	else
		r = -EBADMSG;
	if (r < 0)
		return r;
	*ret = h;
	return 0;
}

int staterecord_parse_body(const struct staterecord_head *h, const char *body, size_t avail,
			   struct fragment **ret)
{
	struct diag_list errs;
	int r;

	if (h->kind != STATERECORD_PUT || avail < h->length)
		return -EBADMSG;
	diag_init(&errs);
	r = fragment_parse(h->name, body, h->length, ret, &errs);
	return r == -ENOMEM ? r : r < 0 ? -EBADMSG : 0;
}
