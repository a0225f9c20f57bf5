/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/*
 * RUNTIME/status: what is live, for `natwarden list` and `status` and for shell scripts (awk
 * -F'\t'). natwardend replaces it atomically after every change (daemon/status.c); the client
 * reads it (client/status.c). Format version 1, one record per line, fields separated by one
 * TAB, the record type first:
 *
 *   natwarden-status  1
 *   pid               PID
 *   started           UNIX-TIME
 *   updated           UNIX-TIME
 *   last_change       UNIX-TIME  (0: nothing applied since start)
 *   last_apply_us     MICROSECONDS (time of the last kernel transaction)
 *   table             inet NAME
 *   users             N
 *   fragments         N
 *   mappings          N (dnat, pinhole and masquerade statements)
 *   last_error        TEXT (or "-")
 *   wan               INTERFACE SOURCE STATE ADDRESSES: SOURCE "policy" ([wan] address) or
 *                     "interface" (followed); STATE "up", "missing" (no such interface yet)
 *                     or "no-address" (followed, and none); ADDRESSES "A, B" or "-"
 *   admin_check       "ok" (the administrator's forward chains were read), "-" (not yet),
 *                     or why they could not be read
 *   admin_drop        TABLE CHAIN WHAT ACTION   (one per chain that would drop natwarden's
 *                     connections: TABLE "inet filter", WHAT "forwards", "pinholes" or
 *                     "forwards and pinholes", ACTION what to do, e.g. add "RULE")
 *   dnat              USER FRAGMENT PROTO PORT[-PORT] ADDRESS[:PORT] EXPIRES (UNIX-TIME, 0: none)
 *                     (fragments in no particular order; the lines of one fragment together)
 *   masquerade        USER FRAGMENT PREFIX EXPIRES
 *   pinhole           USER FRAGMENT PROTO PORT[-PORT] IPV6 EXPIRES   (a reader of before
 *                     pinholes ignores these lines, as any record type it does not know)
 *   event             UNIX-TIME KIND USER FRAGMENT TEXT   (expiries and revocations, newest last)
 *
 * In that order: the header records, the admin_drop lines, the mapping lines, the events. Every value is one field
 * of one line: a TAB, newline or other control byte in a value is written as '?', so no value
 * can add a field or a record.
 *
 * A reader ignores record types it does not know (a later version may add some), lines with
 * fewer than two fields, and mapping or event lines with the wrong number of fields; values
 * longer than the fields below are cut. A file without "natwarden-status 1" is not one.
 */
#define STATUSFILE_VERSION 1
#define STATUSFILE_MAX_BYTES (64 << 20) /* what a reader reads at most: 64 MiB */

/* The header records. */
struct statusfile_head {
	pid_t pid;
	int64_t started, updated, last_change; /* unix time (s) */
	uint64_t last_apply_us;
	char table[64]; /* the value as written: "inet NAME" */
	size_t users, fragments, mappings;
	char last_error[512]; /* "" for none (written as "-") */
	/* the "wan" record; all "" when the file has none (a daemon of before) */
	char wan_interface[16], wan_source[16], wan_state[16], wan_addresses[320];
	char admin_check[320]; /* "ok", "" for not yet (written as "-"), or the reason */
};

/* An "admin_drop" line: fwcheck_line() makes the sentence of it. */
struct statusfile_admin {
	char table[72]; /* "inet filter" */
	char chain[72];
	char what[32];	 /* "forwards", "pinholes", "forwards and pinholes" */
	char action[320]; /* `add "RULE"`, and/or move the chain's priority */
};

/* A "dnat", "pinhole" or "masquerade" line. */
struct statusfile_mapping {
	char user[40];
	char fragment[72];
	char kind[12];	 /* "dnat", "pinhole" or "masquerade" */
	char proto[8];	 /* dnat, pinhole: "tcp", "udp" */
	char ports[16];	 /* dnat, pinhole: "80", "27015-27030" */
	char target[48]; /* dnat: "192.168.1.240:8443"; pinhole: "2001:db8::10";
			    masquerade: "192.168.1.0/24" */
	int64_t expires; /* unix time (s), 0 for none */
	size_t seq;	 /* parsed: its place among the file's mapping lines (not written) */
};

/* An "event" line. */
struct statusfile_event {
	int64_t time; /* unix time (s) */
	char kind[16], user[40], fragment[72], text[256];
};

/*
 * One mapping line, '\n' included. -EINVAL (nothing written) when the kind is not "dnat",
 * "pinhole" or "masquerade".
 */
int statusfile_format_mapping(FILE *out, const struct statusfile_mapping *m);
/* One event line, '\n' included. */
void statusfile_format_event(FILE *out, const struct statusfile_event *e);

/* What statusfile_render() writes. */
struct statusfile_data {
	struct statusfile_head head;
	/*
	 * The mapping lines: each block is whole lines made by statusfile_format_mapping()
	 * (a writer may keep a fragment's block and pass it again while the fragment stays the
	 * same). The lines of one fragment go in one block, or in adjacent ones.
	 */
	const char *const *blocks;
	size_t n_blocks;
	const struct statusfile_event *events; /* oldest first */
	size_t n_events;
	const struct statusfile_admin *admin;
	size_t n_admin;
};

/* The whole file. 0, or -EIO when `out` reports an error. */
int statusfile_render(FILE *out, const struct statusfile_data *d);

/* A status file, parsed. */
struct statusfile {
	int version;
	struct statusfile_head head;
	struct statusfile_mapping *maps; /* in the order of the file */
	size_t n_maps;
	struct statusfile_event *events; /* in the order of the file */
	size_t n_events;
	struct statusfile_admin *admin; /* in the order of the file */
	size_t n_admin;
};

/*
 * Parse `len` bytes of status file text (a NUL ends it early). Pure: no I/O. 0, -EBADMSG when
 * it is no status file of version 1, -ENOMEM. On failure `ret` holds nothing to free.
 */
int statusfile_parse(const char *text, size_t len, struct statusfile *ret);
void statusfile_finish(struct statusfile *s);
