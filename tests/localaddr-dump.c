/* SPDX-License-Identifier: MIT */
/*
 * For the integration tests: what localaddr sees in the current network namespace.
 *
 *   localaddr-dump              the view, one entry a line, in canonical order:
 *                                 address 192.168.1.1/24 lan0
 *                                 broadcast 192.168.1.255/24 lan0
 *                                 local-route 10.0.0.0/8 lo
 *                               ("-" for an unknown interface)
 *   localaddr-dump --watch N    subscribe, print "watching", then wait up to N seconds for a
 *                               notification that counts as a change: print "changed" and
 *                               exit 0, or "timeout" and exit 1.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ipv4.h"
#include "localaddr.h"
#include "strutil.h"

static const char *kind_name(enum router_addr_kind kind)
{
	switch (kind) {
	case ROUTER_ADDRESS:
		return "address";
	case ROUTER_BROADCAST:
		return "broadcast";
	case ROUTER_LOCAL_ROUTE:
		return "local-route";
	}
	return "?";
}

static int fail(const char *what, int r)
{
	fprintf(stderr, "localaddr-dump: %s: %s\n", what, strerror(-r));
	return 2;
}

static int dump(void)
{
	struct localaddr *m;
	struct router_view v;
	int r = localaddr_new(&m);

	if (r < 0)
		return fail("localaddr_new", r);
	r = localaddr_dump(m, &v);
	localaddr_free(m);
	if (r < 0)
		return fail("localaddr_dump", r);
	for (size_t i = 0; i < v.n; i++) {
		const struct router_addr *a = &v.items[i];
		char s[IPV4_STRLEN];

		printf("%s %s/%u %s\n", kind_name(a->kind), ipv4_format(a->addr, s), a->len,
		       a->ifname[0] ? a->ifname : "-");
	}
	router_view_finish(&v);
	return fflush(stdout) == 0 ? 0 : 2;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int watch(uint32_t seconds)
{
	struct localaddr *m;
	int64_t deadline = now_ms() + (int64_t)seconds * 1000, left;
	bool changed = false;
	int r = localaddr_new(&m);

	if (r < 0)
		return fail("localaddr_new", r);
	printf("watching\n");
	fflush(stdout);
	while (!changed && r == 0 && (left = deadline - now_ms()) > 0) {
		struct pollfd p = { .fd = localaddr_fd(m), .events = POLLIN };

		if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
			r = -errno;
		else
			r = localaddr_drain(m, &changed);
	}
	localaddr_free(m);
	if (r < 0)
		return fail("watch", r);
	printf("%s\n", changed ? "changed" : "timeout");
	return changed ? 0 : 1;
}

int main(int argc, char **argv)
{
	uint32_t seconds;

	if (argc == 1)
		return dump();
	if (argc == 3 && strcmp(argv[1], "--watch") == 0 &&
	    parse_uint32(argv[2], strlen(argv[2]), 1, 3600, &seconds) == 0)
		return watch(seconds);
	fprintf(stderr, "usage: localaddr-dump [--watch SECONDS]\n");
	return 2;
}
