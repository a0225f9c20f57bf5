/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fragment.h"

/*
 * The records of natwardend's saved state (the snapshot and the journal; daemon/state.c does
 * the files, the batches and the syncs). Pure: text in, text out, no I/O of its own. Text,
 * one head line per record, words separated by a blank (written as one):
 *
 *   put UID ACCEPTED_MS EXPIRES_MS USER NAME LENGTH\n<LENGTH bytes: the canonical fragment>
 *   del UID NAME\n
 *   commit RECORDS CHECKSUM\n       (FNV-1a 64 of the batch's bytes before this line, hex)
 *
 * UID is 0 to 2^32 - 2; ACCEPTED_MS and EXPIRES_MS are unix times in ms (an optional '-',
 * 1-18 digits; EXPIRES_MS 0 for no lease); USER is 1-32 bytes without blanks or control
 * bytes; NAME a valid fragment name; LENGTH at most FRAGMENT_MAX_BYTES; RECORDS 0 to 2^32 - 1
 * (the put and del records of the batch); CHECKSUM 16 hex digits.
 */
/*
 * Each file starts with its format line, "natwarden-state FORMAT\n", outside every batch.
 * Format 1 (natwarden 0.1.0) had no format line and the same records: a file without one is
 * read as format 1 and written again as the current format at the next start. A file in a
 * format newer than this code's was written by a newer natwarden: it is refused, untouched.
 */
#define STATERECORD_FORMAT      2
#define STATERECORD_FORMAT_LINE "natwarden-state 2\n"
#define STATERECORD_FORMAT_MAX  999999999 /* what a format line may state at most */

#define STATERECORD_USER_MAX   32  /* policy.h's NAME_MAX_USER */
#define STATERECORD_HEAD_MAX   256 /* a head line, without its '\n', is shorter than this */
#define STATERECORD_COMMIT_MAX 64  /* a commit line, '\n' included, is at most 45 bytes */

enum staterecord_kind {
	STATERECORD_PUT,
	STATERECORD_DEL,
	STATERECORD_COMMIT,
};

/* A record's head line, parsed. */
struct staterecord_head {
	enum staterecord_kind kind;
	uint32_t uid;			     /* put, del */
	int64_t accepted, expires;	     /* put */
	char user[STATERECORD_USER_MAX + 1]; /* put */
	char name[FRAGMENT_NAME_MAX + 1];    /* put, del */
	uint32_t length;		     /* put: the bytes of the body after the line */
	uint32_t records;		     /* commit */
	uint64_t checksum;		     /* commit */
};

/*
 * The format of a file whose first line (`len` bytes, without its '\n') is `line`: 1 when it is
 * no format line (a format-1 file: that line is its first record), else the format it states
 * (1 to STATERECORD_FORMAT_MAX; the caller refuses one newer than STATERECORD_FORMAT), and
 * *ret_skip is the bytes to skip (the line and its '\n'). -EBADMSG for a malformed format
 * line ("natwarden-state" followed by anything but a blank and 1-9 digits).
 */
int staterecord_parse_format(const char *line, size_t len, unsigned *ret, size_t *ret_skip);

/* The checksum of a commit line: FNV-1a 64 of `len` bytes. */
uint64_t staterecord_checksum(const void *data, size_t len);

/*
 * Writing records. A put carries the fragment's canonical text (fragment_print) as its body.
 * -EINVAL (nothing written) for a user or name that would not read back; -ENOMEM.
 */
int staterecord_format_put(FILE *out, uint32_t uid, int64_t accepted, int64_t expires,
			   const char *user, const struct fragment *f);
int staterecord_format_del(FILE *out, uint32_t uid, const char *name);
void staterecord_format_commit(FILE *out, size_t records, uint64_t checksum);

/*
 * Reading them. Parse one head line: `len` bytes without its '\n'. -EBADMSG for anything but
 * a well-formed put, del or commit head (an unknown record type included).
 */
int staterecord_parse_head(const char *line, size_t len, struct staterecord_head *ret);
/*
 * A put's body: the `avail` bytes after its head line hold at least h->length bytes of a
 * fragment named h->name. -EBADMSG when not, or -ENOMEM; else *ret is the new fragment.
 */
int staterecord_parse_body(const struct staterecord_head *h, const char *body, size_t avail,
			   struct fragment **ret);
