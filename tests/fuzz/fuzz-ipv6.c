/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: any bytes as an IPv6 address and as a prefix. The bytes are copied to a
 * buffer of exactly their size, so reading past the length is an ASan error. A refusal must
 * say why; an address must print as inet_ntop() prints it (but for the IPv4 tails glibc
 * writes and we refuse), parse back to the same bytes, and be one inet_pton() accepts with
 * the same value; what we refuse from hex digits and colons alone, inet_pton() refuses too.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipv6.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same(const struct in6 *a, const struct in6 *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

static bool only_hex_and_colons(const char *s, size_t len)
{
	return strspn(s, "0123456789abcdefABCDEF:") == len;
}

static void check_address(const char *s, size_t len)
{
	char text[IPV6_STRLEN], glibc_text[INET6_ADDRSTRLEN], *z;
	struct in6 a, b, glibc;
	const char *reason = NULL;

	z = strndup(s, len); /* NUL-terminated for inet_pton(); cut at an inner NUL */
	if (!z)
		abort();
	if (ipv6_parse(s, len, &a, &reason) < 0) {
		if (!reason || !reason[0])
			abort(); /* a refusal always says why */
		if (strlen(z) == len && only_hex_and_colons(z, len) &&
		    inet_pton(AF_INET6, z, &glibc) == 1)
			abort(); /* refused what RFC 4291 allows */
		free(z);
		return;
	}
	if (strlen(z) != len || inet_pton(AF_INET6, z, &glibc) != 1 || !same(&a, &glibc))
		abort(); /* accepted what inet_pton() refuses, or read it otherwise */
	ipv6_format(&a, text);
	if (ipv6_parse(text, strlen(text), &b, NULL) < 0 || !same(&a, &b))
		abort(); /* parse(format(a)) == a */
	if (!inet_ntop(AF_INET6, &a, glibc_text, sizeof(glibc_text)))
		abort();
	if (!strchr(glibc_text, '.') && strcmp(text, glibc_text) != 0)
		abort(); /* not RFC 5952 */
	free(z);
}

static void check_prefix(const char *s, size_t len)
{
	char text[PREFIX6_STRLEN];
	struct prefix6 p, q;
	const char *reason = NULL;

	if (prefix6_parse(s, len, &p, &reason) < 0) {
		if (!reason || !reason[0])
			abort();
		return;
	}
	if (p.len > 128 || !prefix6_contains_addr(&p, &p.addr) || !prefix6_contains(&p, &p))
		abort();
	prefix6_format(&p, true, text);
	if (prefix6_parse(text, strlen(text), &q, NULL) < 0 || q.len != p.len ||
	    !same(&p.addr, &q.addr))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	check_address(s, size);
	check_prefix(s, size);
	free(s);
	return 0;
}
