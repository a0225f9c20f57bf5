/* SPDX-License-Identifier: MIT */
#include "ipv4.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strutil.h"

int ipv4_parse(const char *s, size_t len, uint32_t *ret)
{
	const char *p = s, *end = s + len;
	uint32_t addr = 0;

	for (int i = 0; i < 4; i++) {
		const char *dot = memchr(p, '.', (size_t)(end - p));
		const char *stop = i < 3 ? dot : end;
		uint32_t octet;

		if (!stop || (i == 3 && dot))
			return -EINVAL;
		if (parse_uint32(p, (size_t)(stop - p), 0, 255, &octet) < 0)
			return -EINVAL;
		addr = addr << 8 | octet;
		p = stop + 1;
	}
	*ret = addr;
	return 0;
}

int prefix4_parse(const char *s, size_t len, struct prefix4 *ret)
{
	const char *slash = memchr(s, '/', len);
	uint32_t addr, plen = 32;

	if (ipv4_parse(s, slash ? (size_t)(slash - s) : len, &addr) < 0)
		return -EINVAL;
	if (slash && parse_uint32(slash + 1, len - (size_t)(slash - s) - 1, 0, 32, &plen) < 0)
		return -EINVAL;
	if (addr & ~prefix4_mask((uint8_t)plen))
		return -EDOM;
	*ret = (struct prefix4){ .addr = addr, .len = (uint8_t)plen };
	return 0;
}

char *ipv4_format(uint32_t addr, char buf[static IPV4_STRLEN])
{
	snprintf(buf, IPV4_STRLEN, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff,
		 (addr >> 8) & 0xff, addr & 0xff);
	return buf;
}

char *prefix4_format(const struct prefix4 *p, bool always_len, char buf[static PREFIX4_STRLEN])
{
	char a[IPV4_STRLEN];

	if (p->len == 32 && !always_len)
		snprintf(buf, PREFIX4_STRLEN, "%s", ipv4_format(p->addr, a));
	else
		snprintf(buf, PREFIX4_STRLEN, "%s/%u", ipv4_format(p->addr, a), p->len);
	return buf;
}

const char *ipv4_special_kind(uint32_t addr)
{
	if (addr >> 24 == 0)
		return "a this-network address (0.0.0.0/8)";
	if (addr >> 24 == 127)
		return "a loopback address (127.0.0.0/8)";
	if (addr == 0xffffffffu)
		return "the broadcast address";
	if (addr >> 28 == 0xe)
		return "a multicast address (224.0.0.0/4)";
	if (addr >> 28 == 0xf)
		return "a reserved address (240.0.0.0/4)";
	return NULL;
}
