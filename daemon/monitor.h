/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * Listen to nftables' netlink notifications (the NFNLGRP_NFTABLES multicast group) and tell
 * when a transaction that was not ours touched our table (a flush of the ruleset, a delete of
 * the table, any change inside it), when it touched a table, chain or rule of another table
 * (the administrator's forward chains may have changed), or when notifications were lost. No polling: the socket
 * is an sd-event I/O source.
 *
 * Each transaction's object notifications arrive before its NEWGEN message, and all carry the
 * netlink port id of the socket that committed it; ours is the libnftables context's.
 */
struct monitor;

int monitor_new(const char *table, struct monitor **ret);
void monitor_free(struct monitor *m);
int monitor_fd(const struct monitor *m);
uint32_t monitor_portid(const struct monitor *m);
/* Transactions committed through this port id are ours. */
void monitor_set_own_portid(struct monitor *m, uint32_t portid);
/* The table to watch, after a reload renamed it. */
int monitor_set_table(struct monitor *m, const char *table);

struct monitor_result {
	bool foreign_change; /* someone else changed or deleted our table */
	bool lost;	     /* notifications were dropped: assume the worst */
	bool other_change;   /* someone else changed a table, chain or rule of another table */
	bool table_deleted;
	uint32_t pid;	     /* of the last foreign committer (a thread id), for the log */
	char comm[16];
};

/* Read everything pending (at most `budget` datagrams). Returns 0 or a negative errno. */
int monitor_drain(struct monitor *m, unsigned budget, struct monitor_result *ret);
