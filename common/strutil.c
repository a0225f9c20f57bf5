/* SPDX-License-Identifier: MIT */
#include "strutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int parse_uint32(const char *s, size_t len, uint32_t min, uint32_t max, uint32_t *ret)
{
	uint64_t v = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!char_is_digit(s[i]))
			return -EINVAL;
	if (s[0] == '0' && len > 1)
		return -EINVAL;
	if (len > 10)
		return -ERANGE;
	for (size_t i = 0; i < len; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	if (v < min || v > max)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

int parse_port_range(const char *s, size_t len, uint16_t *ret_lo, uint16_t *ret_hi)
{
	const char *dash = memchr(s, '-', len);
	uint32_t lo, hi;
	int r;

	if (!dash) {
		r = parse_uint32(s, len, 1, 65535, &lo);
		if (r < 0)
			return r;
		hi = lo;
	} else {
		r = parse_uint32(s, (size_t)(dash - s), 1, 65535, &lo);
		if (r < 0)
			return r;
		r = parse_uint32(dash + 1, len - (size_t)(dash - s) - 1, 1, 65535, &hi);
		if (r < 0)
			return r;
		if (hi < lo)
			return -EDOM;
	}
	*ret_lo = (uint16_t)lo;
	*ret_hi = (uint16_t)hi;
	return 0;
}

bool fragment_name_valid(const char *s, size_t len)
{
	if (len == 0 || len > FRAGMENT_NAME_MAX)
		return false;
	if (!char_is_lower(s[0]) && !char_is_digit(s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		/* not strchr("._-", c): it finds a NUL too */
		if (!char_is_lower(s[i]) && !char_is_digit(s[i]) && s[i] != '.' && s[i] != '_' &&
		    s[i] != '-')
			return false;
	return true;
}

char *str_quote(char *buf, size_t size, const char *s, size_t len)
{
	size_t o = 0;

#define PUT(c)                          \
	do {                            \
		if (o + 1 < size)       \
			buf[o++] = (c); \
	} while (0)

	PUT('\'');
	for (size_t i = 0; i < len && i < 40; i++) {
		unsigned char c = (unsigned char)s[i];
		if (char_is_print((char)c) && c != '\'' && c != '\\') {
			PUT((char)c);
		} else {
			char hex[5];
			snprintf(hex, sizeof(hex), "\\x%02x", c);
			for (int k = 0; k < 4; k++)
				PUT(hex[k]);
		}
	}
	PUT('\'');
	if (len > 40)
		for (int k = 0; k < 3; k++)
			PUT('.');
#undef PUT
	if (size > 0)
		buf[o < size ? o : size - 1] = '\0';
	return buf;
}

void str_trim(const char **s, size_t *len)
{
	while (*len > 0 && char_is_blank(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len > 0 && char_is_blank((*s)[*len - 1]))
		(*len)--;
}

bool str_next_item(const char **cursor, const char *end, char sep, const char **ret_item,
		   size_t *ret_len)
{
	const char *p = *cursor, *q;
	size_t len;

	if (!p || p > end)
		return false;
	q = memchr(p, sep, (size_t)(end - p));
	if (!q)
		q = end;
	len = (size_t)(q - p);
	str_trim(&p, &len);
	*ret_item = p;
	*ret_len = len;
	*cursor = q < end ? q + 1 : end + 1;
	return true;
}
