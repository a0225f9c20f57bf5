/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <systemd/sd-event.h>

/*
 * natwardend as main.c sees it. The daemon's own struct and parts are private (core.h).
 * The service's order of things (main.c): daemon_new (the policy), daemon_setup (as root:
 * directories, sockets), daemon_drop_privileges, daemon_start (the saved state, the table,
 * the event sources), daemon_ready (READY=1), the event loop, daemon_free.
 */
struct daemon;

/* Load `config`; its findings (FILE:LINE: reason) go to `errors`, or to the log when NULL. */
int daemon_new(const char *config, FILE *errors, struct daemon **ret);
/* As root: directories (made when missing), nftables and address sockets, the intake. */
int daemon_setup(struct daemon *d, sd_event *event, char *why, size_t size);
/* To the [daemon] user, with CAP_NET_ADMIN only (privs.h). */
int daemon_drop_privileges(struct daemon *d, char *why, size_t size);
/* The saved state judged again, the table installed, the spool and the kernel watched. */
int daemon_start(struct daemon *d);
/* Say so: journal, READY=1 and STATUS=. */
void daemon_ready(struct daemon *d);
/* SIGHUP: re-read the policy, re-judge everything active. */
int daemon_reload(struct daemon *d);
void daemon_free(struct daemon *d);

/* A human line for STATUS= and the log; and two facts for the log. */
void daemon_describe(const struct daemon *d, char *buf, size_t size);
const char *daemon_table(const struct daemon *d);
size_t daemon_mappings(const struct daemon *d);

/*
 * --check and --print-ruleset: the policy and the saved state judged as a start would (no
 * kernel, nothing written); a summary, or the ruleset a start would install, on stdout.
 */
int daemon_check(const char *config, bool print_ruleset);
/* --remove: delete natwardend's table (only if it carries natwarden's mark). */
int daemon_remove_table(const char *config);
