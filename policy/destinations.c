/* SPDX-License-Identifier: MIT */
/*
 * Submitters' destinations (IPv4 and IPv6 prefixes, "192.168.1.0/24, 2001:db8:0:1::/64") and
 * the [wan] mark ("0x10000000" or "0x4e570000/0xffff0000"), as policy.ini writes them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "strutil.h"

/* Append one item, IPv6 when it holds a ':'. */
static int add_item(struct submitter *s, const char *item, size_t len, char *err, size_t size)
{
	char q[STR_QUOTE_MAX];

	str_quote(q, sizeof(q), item, len);
	if (memchr(item, ':', len)) {
		struct prefix6 p6, *grown6;
		const char *why = NULL;
		if (prefix6_parse(item, len, &p6, &why) < 0) {
			snprintf(err, size, "destinations: %s is not an IPv6 address or prefix: %s", q,
				 why ? why : "use RFC 4291 text and /0-/128");
			return -EINVAL;
		}
		grown6 = reallocarray(s->destinations6, s->n_destinations6 + 1, sizeof(p6));
		if (!grown6)
			return -ENOMEM;
		s->destinations6 = grown6;
		s->destinations6[s->n_destinations6++] = p6;
		return 0;
	}
	struct prefix4 p4, *grown;
	int r = prefix4_parse(item, len, &p4);
	if (r < 0) {
		snprintf(err, size,
			 r == -EDOM ? "destinations: %s has host bits set beyond its prefix length"
				    : "destinations: %s is not an IPv4 address or prefix (four decimal octets, optional /0-/32)",
			 q);
		return -EINVAL;
	}
	grown = reallocarray(s->destinations, s->n_destinations + 1, sizeof(p4));
	if (!grown)
		return -ENOMEM;
	s->destinations = grown;
	s->destinations[s->n_destinations++] = p4;
	return 0;
}

int destinations_parse(const char *v, struct submitter *s, char *err, size_t size)
{
	const char *cur = v, *end = v + strlen(v), *item;
	size_t n = 0, len;

	free(s->destinations);
	free(s->destinations6);
	s->destinations = NULL;
	s->destinations6 = NULL;
	s->n_destinations = s->n_destinations6 = 0;
	while (str_next_item(&cur, end, ',', &item, &len)) {
		if (n++ >= POLICY_MAX_LIST) {
			snprintf(err, size, "destinations: more than %d items", POLICY_MAX_LIST);
			return -EINVAL;
		}
		int r = add_item(s, item, len, err, size);
		if (r < 0)
			return r;
	}
	return 0;
}

bool destinations_allow4(const struct submitter *s, const struct prefix4 *p)
{
	for (size_t i = 0; i < s->n_destinations; i++)
		if (prefix4_contains(&s->destinations[i], p))
			return true;
	return false;
}

bool destinations_allow6(const struct submitter *s, const struct in6 *a)
{
	for (size_t i = 0; i < s->n_destinations6; i++)
		if (prefix6_contains_addr(&s->destinations6[i], a))
			return true;
	return false;
}

void destinations_format(const struct submitter *s, char *buf, size_t size)
{
	size_t o = 0, n = s->n_destinations + s->n_destinations6;

	buf[0] = '\0';
	for (size_t i = 0; i < n && o < size; i++) {
		char pfx[PREFIX6_STRLEN];
		if (i < s->n_destinations)
			prefix4_format(&s->destinations[i], false, pfx);
		else
			prefix6_format(&s->destinations6[i - s->n_destinations], false, pfx);
		int w = snprintf(buf + o, size - o, "%s%s", i ? ", " : "", pfx);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

/* "0x" and 1-8 hex digits. */
static int parse_hex32(const char *s, size_t len, uint32_t *ret)
{
	uint32_t v = 0;

	if (len < 3 || len > 10 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -EINVAL;
	for (size_t i = 2; i < len; i++) {
		char c = s[i];
		unsigned d = char_is_digit(c)		  ? (unsigned)(c - '0')
			     : (c >= 'a' && c <= 'f') ? (unsigned)(c - 'a' + 10)
			     : (c >= 'A' && c <= 'F') ? (unsigned)(c - 'A' + 10)
						      : 16u;
		if (d > 15)
			return -EINVAL;
		v = v << 4 | d;
	}
	*ret = v;
	return 0;
}

int policy_mark_parse(const char *s, uint32_t *ret_value, uint32_t *ret_mask,
		      const char **ret_reason)
{
	const char *slash = strchr(s, '/');
	size_t vlen = slash ? (size_t)(slash - s) : strlen(s);
	uint32_t value, mask;

	if (parse_hex32(s, vlen, &value) < 0 || (slash && parse_hex32(slash + 1, strlen(slash + 1),
								     &mask) < 0)) {
		*ret_reason = "use 0xVALUE or 0xVALUE/0xMASK, 1-8 hex digits each";
		return -EINVAL;
	}
	if (!slash)
		mask = value;
	if (value == 0 || mask == 0) {
		*ret_reason = "the value and the mask need at least one bit";
		return -EINVAL;
	}
	if (value & ~mask) {
		*ret_reason = "the value has bits outside the mask";
		return -EINVAL;
	}
	*ret_value = value;
	*ret_mask = mask;
	return 0;
}
