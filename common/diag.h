/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "macro.h"

/*
 * A bounded list of "line: reason" findings, filled by the pure parsers and the verdict
 * engine, printed by whoever called them. Line 0 means the finding is about the whole input.
 */
#define DIAG_MAX 32
#define DIAG_TEXT 400 /* room for a reason quoting the longest token str_quote() makes */

struct diag {
	unsigned line;
	char text[DIAG_TEXT];
};

struct diag_list {
	size_t n;
	size_t dropped; /* findings past DIAG_MAX, counted but not kept */
	struct diag items[DIAG_MAX];
};

void diag_init(struct diag_list *l);
void diag_add(struct diag_list *l, unsigned line, const char *fmt, ...) _printf_(3, 4);

static inline bool diag_any(const struct diag_list *l)
{
	return l->n > 0;
}

/* Sort by line (stable), so reports read top to bottom. */
/* `dst` becomes a copy of `src` (only the findings it holds are copied: a list is large). */
void diag_copy(struct diag_list *dst, const struct diag_list *src);
void diag_sort(struct diag_list *l);

/* Does any finding on `line` contain `needle`? (for tests and callers that merge lists) */
bool diag_has(const struct diag_list *l, unsigned line, const char *needle);

/*
 * The finding `d` as "PREFIX:LINE: text", or "PREFIX: text" for line 0, in `buf` (cut to
 * `size`, NUL-terminated); returns `buf`.
 */
char *diag_format(const struct diag *d, const char *prefix, char *buf, size_t size);

/* One finding per line as "PREFIX:LINE: text", or "PREFIX: text" for line 0. */
void diag_print(const struct diag_list *l, const char *prefix, FILE *out);
