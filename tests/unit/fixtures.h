/* SPDX-License-Identifier: MIT */
/*
 * What the unit tests build their inputs with: a text buffer to format into, exact-length
 * copies for the parsers, fragments and active entries parsed from literals, a summary of the
 * saved state. A fixture that cannot be built aborts the test: its input is wrong, not the
 * module under test.
 *
 * fixtures.c needs common/ only; fixture_entry() is in fixtures-active.c (policy/),
 * fixture_state_counts() in fixtures-state.c (daemon/): a test links the level it tests.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct active_entry;
struct fragment;

/* Text written to `out`; after text_close(), `s` holds `len` bytes and a NUL (free() it). */
struct text {
	char *s;
	size_t len;
	FILE *out;
};

FILE *text_open(struct text *t);
void text_close(struct text *t);

/* The `len` bytes at `s` in a heap buffer of exactly that size, no NUL after them to lean on. */
char *fixture_copy(const char *s, size_t len);

/* The fragment `name` in `text`; on a parse error the reasons go out as TAP comments. */
struct fragment *fixture_fragment(const char *name, const char *text);

/* An entry of `user` (`uid`) for the fragment `name` in `text`, accepted at `accepted`. */
struct active_entry *fixture_entry(const char *user, uint32_t uid, const char *name,
				   const char *text, int64_t accepted);

/*
 * What state_load() finds in the directory `dir`: "N records, M notes", and with `ends`
 * ", first A, last B" (the first and last fragment names, "-" when none); "error" when the
 * load fails. The text stays valid until the next call.
 */
const char *fixture_state_counts(int dir, bool ends);
