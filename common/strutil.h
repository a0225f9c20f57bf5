/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Locale-free character classes: untrusted bytes never go through <ctype.h>. */
static inline bool char_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool char_is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static inline bool char_is_alpha(char c)
{
	return char_is_lower(c) || (c >= 'A' && c <= 'Z');
}

static inline bool char_is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static inline bool char_is_print(char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/*
 * The one number parser: plain decimal, no sign, no leading zeros ("0" itself is fine),
 * no white space, min <= value <= max. Returns 0, -EINVAL for bad syntax, -ERANGE when out
 * of range.
 */
int parse_uint32(const char *s, size_t len, uint32_t min, uint32_t max, uint32_t *ret);

/* Port or port range "P" or "P-Q" with 1 <= P <= Q <= 65535. -EINVAL, -ERANGE, -EDOM (Q < P). */
int parse_port_range(const char *s, size_t len, uint16_t *ret_lo, uint16_t *ret_hi);

/* Fragment names: 1-64 of [a-z0-9._-], first one a letter or digit. */
#define FRAGMENT_NAME_MAX 64
bool fragment_name_valid(const char *s, size_t len);

/*
 * Render untrusted bytes for a message: single-quoted, printable ASCII kept, anything else
 * (and the quote and backslash) as \xHH, cut with "..." after 40 input bytes. Always
 * NUL-terminates; returns buf.
 */
char *str_quote(char *buf, size_t size, const char *s, size_t len);
#define STR_QUOTE_MAX 176

/* Strip leading and trailing blanks from [s, s+len), in place on the pointers. */
void str_trim(const char **s, size_t *len);

/* strtok-like split on `sep`, trimming blanks; returns false when done. */
bool str_next_item(const char **cursor, const char *end, char sep, const char **ret_item,
		   size_t *ret_len);
