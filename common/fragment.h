/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ipv4.h"
#include "ipv6.h"
#include "strutil.h"

/* Hard limits of the fragment language (v2: v1 plus pinhole). */
#define FRAGMENT_MAX_BYTES 65536
#define FRAGMENT_MAX_LINE 256
#define FRAGMENT_MAX_STATEMENTS 256
#define FRAGMENT_MAX_LEASE 31536000u /* one year */

#define PROTO_TCP 6
#define PROTO_UDP 17

enum stmt_kind {
	STMT_DNAT,
	STMT_MASQUERADE,
	STMT_PINHOLE, /* IPv6: new inbound connections let through, no translation */
};

struct fragment_stmt {
	enum stmt_kind kind;
	unsigned line;
	/* dnat and pinhole */
	uint8_t proto;
	uint16_t port_lo, port_hi; /* public port(s); equal for a single port */
	/* dnat */
	uint32_t to_addr;
	uint16_t to_port; /* 0: the same port as the public one */
	/* pinhole: the host, whose port(s) port_lo-port_hi are opened */
	struct in6 to_addr6;
	/* masquerade */
	struct prefix4 masq;
};

struct fragment {
	char name[FRAGMENT_NAME_MAX + 1];
	size_t n_stmts; /* dnat, pinhole and masquerade statements, in the order written */
	struct fragment_stmt *stmts;
	uint32_t lease; /* seconds, 0 for none */
	unsigned lease_line;
};

/*
 * Parse `len` bytes of fragment text named `name`. Pure: no I/O, no logging. On success
 * returns 0 and stores a new fragment in *ret. On any error returns -EINVAL and fills `errs`
 * with every finding (line, reason); nothing is returned, there is no partial result.
 * -ENOMEM when out of memory.
 */
int fragment_parse(const char *name, const char *data, size_t len, struct fragment **ret,
		   struct diag_list *errs);

void fragment_free(struct fragment *f);
static inline void fragment_freep(struct fragment **f)
{
	fragment_free(*f);
}
#define _cleanup_fragment_ _cleanup_(fragment_freep)

/* Canonical text: one statement per line, lease last. malloc()ed, NULL when out of memory. */
char *fragment_print(const struct fragment *f);

/* Same name, statements (in order) and lease; line numbers do not count. */
bool fragment_equal(const struct fragment *a, const struct fragment *b);

static inline bool fragment_is_withdrawal(const struct fragment *f)
{
	return f->n_stmts == 0;
}

const char *proto_name(uint8_t proto);

/* "tcp 80", "udp 27015-27030" */
char *stmt_format_public(const struct fragment_stmt *s, char *buf, size_t size);
/*
 * "192.168.1.240:8443"; for a range without a target port just the address; for a pinhole
 * the IPv6 address (RFC 5952), its ports being the public ones
 */
char *stmt_format_target(const struct fragment_stmt *s, char *buf, size_t size);
