/* SPDX-License-Identifier: MIT */
/* JSON strings for the client's --json output (list, status) and apply's verdict lines. */
#include "json.h"

#include <stdint.h>
#include <stdio.h>

/*
 * Length of the well-formed UTF-8 sequence at `s` (RFC 3629: shortest form, no surrogates,
 * at most U+10FFFF), or 0 when it is none.
 */
static size_t utf8_length(const unsigned char *s)
{
	/* by length 2, 3, 4: the lead bytes, their payload bits, the least code point */
	static const struct {
		unsigned char lo, hi, mask;
		uint32_t min;
	} lead[] = {
		{ 0xc2, 0xdf, 0x1f, 0x80 },
		{ 0xe0, 0xef, 0x0f, 0x800 },
		{ 0xf0, 0xf4, 0x07, 0x10000 },
	};
	uint32_t cp;

	for (size_t n = 2; n <= 4; n++) {
		if (s[0] < lead[n - 2].lo || s[0] > lead[n - 2].hi)
			continue;
		cp = s[0] & lead[n - 2].mask;
		for (size_t i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80) /* a NUL stops here too */
				return 0;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if (cp < lead[n - 2].min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		return n;
	}
	return 0;
}

/*
 * A JSON string: quote and backslash escaped, control bytes as \u00XX, well-formed UTF-8 as
 * it is, and any other byte as U+FFFD, so the output is valid JSON whatever the input.
 */
void json_string(const char *s)
{
	putchar('"');
	while (*s) {
		unsigned char c = (unsigned char)*s;
		size_t n = c < 0x80 ? 1 : utf8_length((const unsigned char *)s);
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else if (n == 0)
			fputs("\\ufffd", stdout);
		else
			printf("%.*s", (int)n, s);
		s += n ? n : 1;
	}
	putchar('"');
}
