/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "diag.h"
#include "fragment.h"

/*
 * The stream `natwarden apply PREFIX` reads on stdin: several fragments at once, so that a
 * cluster's sync script needs one SSH session per router and round (natwarden(1)):
 *
 *   natwarden-apply 1\n
 *   fragment NAME LENGTH\n
 *   <exactly LENGTH bytes: the fragment text>\n      (one newline after the body, not in it)
 *   fragment NAME LENGTH\n
 *   ...
 *   end\n
 *
 * - The first line is exactly "natwarden-apply 1"; the last is exactly "end", and nothing
 *   follows its newline.
 * - A header line ("natwarden-apply 1", "fragment NAME LENGTH", "end") is at most
 *   BATCH_MAX_LINE bytes, its newline not counted; its words are separated by single spaces.
 * - NAME is a fragment name (1-64 of a-z 0-9 . _ -, starting with a letter or digit) that
 *   starts with PREFIX, at most once in the stream.
 * - LENGTH is decimal, no sign, no leading zeros, 1 to FRAGMENT_MAX_BYTES. The body is taken
 *   by its length, whatever it holds ("end" or "fragment" lines, no final newline, NUL bytes:
 *   fragment_parse() judges it later); exactly one "\n" follows it.
 * - At most BATCH_MAX_FRAGMENTS fragments and BATCH_MAX_BYTES bytes in all. A stream of no
 *   fragment (the first line, then "end") is valid.
 *
 * Line numbers count every "\n" of the stream, those inside bodies included: the first line is
 * 1. Any error refuses the whole stream, so a stream cut short (a dropped connection) is never
 * taken for a shorter set of fragments.
 */
#define BATCH_MAGIC	    "natwarden-apply 1"
#define BATCH_MAX_LINE	    128
#define BATCH_MAX_FRAGMENTS 256
#define BATCH_MAX_BYTES	    (4u << 20)
#define BATCH_PREFIX_MAX    32

struct batch_item {
	char name[FRAGMENT_NAME_MAX + 1];
	const char *text; /* into the parsed input: not NUL-terminated */
	size_t len;
	unsigned line; /* of its "fragment" line */
};

struct batch {
	size_t n;
	struct batch_item items[BATCH_MAX_FRAGMENTS];
	unsigned err_line;   /* the error's line; 0: about the whole stream */
	char err[DIAG_TEXT]; /* "" when it parsed */
};

/* A PREFIX: 1-32 characters of a fragment name's alphabet, starting with a letter or digit. */
bool batch_prefix_valid(const char *s, size_t len);

/*
 * Parse `len` bytes of stream for `prefix`. Pure: no I/O, no allocation. 0 with the fragments
 * in `ret` (in stream order, their texts pointing into `data`); -EINVAL with no fragment in
 * `ret`, and `ret->err_line` and `ret->err` saying what is wrong, quoting the offending token.
 */
int batch_parse(const char *prefix, const char *data, size_t len, struct batch *ret);
