/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * The answer natwardend writes into the very file a client submitted (the client keeps it
 * open, so it reads the verdict of its own submission and nobody else's). Text, one record
 * per line:
 *
 *   natwarden-verdict 1
 *   fragment NAME
 *   user USER
 *   verdict accepted|withdrawn|rejected
 *   renewed yes|no          (accepted: identical to the live one, only the lease renewed)
 *   expires UNIX-MS         (0: no lease)
 *   live STATEMENT          (accepted: each live statement, canonical form)
 *   reason TEXT             (rejected: "NAME:LINE: reason" or "NAME: reason")
 *
 * The first line is no valid fragment statement, so a file carrying a verdict can never be
 * mistaken for a submission.
 */
#define VERDICT_MAGIC "natwarden-verdict 1\n"
#define VERDICT_MAX_BYTES 65536

struct verdict_text {
	char fragment[72];
	char user[40];
	char verdict[16];
	bool renewed;
	int64_t expires;
	size_t n_live, n_reasons;
	char **live, **reasons; /* malloc()ed */
};

/*
 * Writing one: the head, then any number of live and reason lines. Every value is one line:
 * a newline or other control byte in it is written as '?', so no value can add a record.
 */
void verdict_write_head(FILE *out, const char *fragment, const char *user, const char *verdict,
			bool renewed, int64_t expires);
void verdict_write_live(FILE *out, const char *statement);
void verdict_write_reason(FILE *out, const char *reason);

/* Does this text start with a verdict? */
bool verdict_is(const char *text, size_t len);
int verdict_parse(const char *text, size_t len, struct verdict_text *ret);
void verdict_text_free(struct verdict_text *v);
