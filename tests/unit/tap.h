/* SPDX-License-Identifier: MIT */
/* A tiny TAP producer for the unit tests, read by `meson test` (protocol: tap). */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int tap_count, tap_failures;

__attribute__((format(printf, 4, 5), unused)) static bool tap_ok(bool pass, const char *file,
								int line, const char *fmt, ...)
{
	va_list ap;

	tap_count++;
	printf("%s %d - ", pass ? "ok" : "not ok", tap_count);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		tap_failures++;
		printf("#   failed at %s:%d\n", file, line);
	}
	return pass;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is_int(got, want, ...)                                                               \
	do {                                                                                 \
		long long _g = (long long)(got), _w = (long long)(want);                     \
		if (!ok(_g == _w, __VA_ARGS__))                                              \
			printf("#   got %lld, want %lld\n", _g, _w);                             \
	} while (0)
#define is_str(got, want, ...)                                                               \
	do {                                                                                 \
		const char *_g = (got), *_w = (want);                                        \
		if (!ok(_g && _w && strcmp(_g, _w) == 0, __VA_ARGS__))                       \
			printf("#   got '%s'\n#  want '%s'\n", _g ? _g : "(null)",             \
			       _w ? _w : "(null)");                                          \
	} while (0)

__attribute__((unused)) static int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failures ? 1 : 0;
}
