/* SPDX-License-Identifier: MIT */
#include "router.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipv4.h"
#include "macro.h"

void router_view_init(struct router_view *v)
{
	*v = (struct router_view){ .sorted = true };
}

void router_view_finish(struct router_view *v)
{
	free(v->items);
	free(v->items6);
	router_view_init(v);
}

int router_view_add(struct router_view *v, enum router_addr_kind kind, uint32_t addr,
		    uint8_t len, const char *ifname)
{
	struct router_addr *a;

	if (len > 32 || (kind != ROUTER_ADDRESS && kind != ROUTER_BROADCAST &&
			 kind != ROUTER_LOCAL_ROUTE))
		return -EINVAL;
	if (v->n >= ROUTER_VIEW_MAX)
		return -E2BIG;
	if (v->n == v->allocated) {
		size_t want = MAX(v->allocated * 2, (size_t)16);
		struct router_addr *grown = reallocarray(v->items, want, sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		v->items = grown;
		v->allocated = want;
	}
	a = &v->items[v->n++];
	/* zero-filled: no stale bytes after the name */
	*a = (struct router_addr){
		.addr = kind == ROUTER_LOCAL_ROUTE ? addr & prefix4_mask(len) : addr,
		.len = len,
		.kind = kind,
	};
	if (ifname)
		snprintf(a->ifname, sizeof(a->ifname), "%s", ifname);
	v->sorted = false;
	return 0;
}

int router_view_add_address(struct router_view *v, uint32_t addr, uint8_t len,
			    const char *ifname)
{
	int r = router_view_add(v, ROUTER_ADDRESS, addr, len, ifname);

	if (r < 0 || len >= 31)
		return r;
	return router_view_add(v, ROUTER_BROADCAST, addr | ~prefix4_mask(len), len, ifname);
}

static bool is_route(const struct router_addr *a)
{
	return a->kind == ROUTER_LOCAL_ROUTE;
}

/* Exact kinds first, by address (so one binary search finds them), then the routes. */
static int addr_cmp(const struct router_addr *a, const struct router_addr *b)
{
	if (is_route(a) != is_route(b))
		return is_route(a) ? 1 : -1;
	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	if (a->kind != b->kind)
		return a->kind < b->kind ? -1 : 1;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return strncmp(a->ifname, b->ifname, sizeof(a->ifname));
}

static int qsort_cmp(const void *a, const void *b)
{
	return addr_cmp(a, b);
}

int router_view_add6(struct router_view *v, const struct in6 *addr, uint8_t len,
		     const char *ifname)
{
	struct router_addr6 *a;

	if (len > 128)
		return -EINVAL;
	if (v->n6 >= ROUTER_VIEW_MAX)
		return -E2BIG;
	if (v->n6 == v->allocated6) {
		size_t want = MAX(v->allocated6 * 2, (size_t)16);
		struct router_addr6 *grown = reallocarray(v->items6, want, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		v->items6 = grown;
		v->allocated6 = want;
	}
	a = &v->items6[v->n6++];
	*a = (struct router_addr6){ .addr = *addr, .len = len };
	if (ifname)
		snprintf(a->ifname, sizeof(a->ifname), "%s", ifname);
	v->sorted = false;
	return 0;
}

static int addr6_cmp(const struct router_addr6 *a, const struct router_addr6 *b)
{
	int c = memcmp(&a->addr, &b->addr, sizeof(a->addr));

	if (c)
		return c;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return strncmp(a->ifname, b->ifname, sizeof(a->ifname));
}

static int qsort_cmp6(const void *a, const void *b)
{
	return addr6_cmp(a, b);
}

static void sort6(struct router_view *v)
{
	size_t n = 0;

	if (v->n6 > 0)
		qsort(v->items6, v->n6, sizeof(*v->items6), qsort_cmp6);
	for (size_t i = 0; i < v->n6; i++)
		if (n == 0 || addr6_cmp(&v->items6[n - 1], &v->items6[i]) != 0)
			v->items6[n++] = v->items6[i];
	v->n6 = n;
}

const struct router_addr6 *router_view_match6(const struct router_view *v, const struct in6 *addr)
{
	for (size_t i = 0; i < v->n6; i++)
		if (memcmp(&v->items6[i].addr, addr, sizeof(*addr)) == 0)
			return &v->items6[i];
	return NULL;
}

const struct router_addr6 *router_view_anycast6(const struct router_view *v, const struct in6 *addr)
{
	for (size_t i = 0; i < v->n6; i++) {
		const struct router_addr6 *r = &v->items6[i];
		struct prefix6 subnet = { r->addr, r->len };
		if (r->len >= 127)
			continue;
		ipv6_mask(&subnet.addr, r->len);
		if (memcmp(&subnet.addr, addr, sizeof(*addr)) == 0)
			return r;
	}
	return NULL;
}

void router_anycast6_reason(const struct router_addr6 *a, char *buf, size_t size)
{
	struct prefix6 subnet = { a->addr, a->len };
	char p[PREFIX6_STRLEN];

	ipv6_mask(&subnet.addr, a->len);
	prefix6_format(&subnet, true, p);
	if (a->ifname[0])
		snprintf(buf, size, "the Subnet-Router anycast address of the router's subnet %s (on %s)",
			 p, a->ifname);
	else
		snprintf(buf, size, "the Subnet-Router anycast address of the router's subnet %s", p);
}

void router_addr6_reason(const struct router_addr6 *a, char *buf, size_t size)
{
	if (a->ifname[0])
		snprintf(buf, size, "the router's own address (on %s)", a->ifname);
	else
		snprintf(buf, size, "the router's own address");
}

size_t router_view_addresses_on(const struct router_view *v, const char *ifname, uint32_t *out,
				size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < v->n; i++) {
		const struct router_addr *a = &v->items[i];
		if (a->kind != ROUTER_ADDRESS || strcmp(a->ifname, ifname) != 0)
			continue;
		if (n < max)
			out[n] = a->addr;
		n++;
	}
	return n;
}

void router_view_sort(struct router_view *v)
{
	size_t n = 0;

	sort6(v);

	if (v->n > 0)
		qsort(v->items, v->n, sizeof(*v->items), qsort_cmp);
	for (size_t i = 0; i < v->n; i++)
		if (n == 0 || addr_cmp(&v->items[n - 1], &v->items[i]) != 0)
			v->items[n++] = v->items[i];
	v->n = n;
	v->n_exact = 0;
	while (v->n_exact < n && !is_route(&v->items[v->n_exact]))
		v->n_exact++;
	v->sorted = true;
}

bool router_view_equal(const struct router_view *a, const struct router_view *b)
{
	if (a->n != b->n || a->n6 != b->n6 || strcmp(a->default4, b->default4) != 0)
		return false;
	for (size_t i = 0; i < a->n6; i++)
		if (addr6_cmp(&a->items6[i], &b->items6[i]) != 0)
			return false;
	for (size_t i = 0; i < a->n; i++)
		if (addr_cmp(&a->items[i], &b->items[i]) != 0)
			return false;
	return true;
}

int router_view_copy(const struct router_view *src, struct router_view *ret)
{
	struct router_addr *items = NULL;

	if (src->n > 0) {
		items = reallocarray(NULL, src->n, sizeof(*items));
		if (!items)
			return -ENOMEM;
		memcpy(items, src->items, src->n * sizeof(*items));
	}
	struct router_addr6 *items6 = NULL;
	if (src->n6 > 0) {
		items6 = reallocarray(NULL, src->n6, sizeof(*items6));
		if (!items6) {
			free(items);
			return -ENOMEM;
		}
		memcpy(items6, src->items6, src->n6 * sizeof(*items6));
	}
	*ret = *src;
	ret->items = items;
	ret->allocated = src->n;
	ret->items6 = items6;
	ret->allocated6 = src->n6;
	return 0;
}

static bool matches(const struct router_addr *a, uint32_t addr)
{
	if (is_route(a))
		return (addr & prefix4_mask(a->len)) == a->addr;
	return a->addr == addr;
}

/* Is `a` a better reason than `best` (both match)? */
static bool better(const struct router_addr *a, const struct router_addr *best)
{
	if (!best)
		return true;
	if (a->kind != best->kind)
		return a->kind < best->kind;
	if (is_route(a) && a->len != best->len)
		return a->len > best->len;
	return addr_cmp(a, best) < 0;
}

static const struct router_addr *match_sorted(const struct router_view *v, uint32_t addr)
{
	const struct router_addr *best = NULL;
	size_t lo = 0, hi = v->n_exact;

	/* the first exact entry for addr: the lowest kind, ADDRESS before BROADCAST */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->items[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < v->n_exact && v->items[lo].addr == addr)
		return &v->items[lo];
	for (size_t i = v->n_exact; i < v->n; i++)
		if (matches(&v->items[i], addr) && better(&v->items[i], best))
			best = &v->items[i];
	return best;
}

const struct router_addr *router_view_match(const struct router_view *v, uint32_t addr)
{
	const struct router_addr *best = NULL;

	if (v->sorted)
		return match_sorted(v, addr);
	for (size_t i = 0; i < v->n; i++)
		if (matches(&v->items[i], addr) && better(&v->items[i], best))
			best = &v->items[i];
	return best;
}

void router_addr_reason(const struct router_addr *a, char *buf, size_t size)
{
	struct prefix4 p = { .addr = a->addr & prefix4_mask(a->len), .len = a->len };
	char ps[PREFIX4_STRLEN], on[IFNAME_MAX + 8] = "";

	prefix4_format(&p, true, ps);
	switch (a->kind) {
	case ROUTER_ADDRESS:
		if (a->ifname[0])
			snprintf(on, sizeof(on), " (on %s)", a->ifname);
		snprintf(buf, size, "the router's own address%s", on);
		break;
	case ROUTER_BROADCAST:
		if (a->ifname[0])
			snprintf(on, sizeof(on), " (on %s)", a->ifname);
		if (a->len >= 31)
			snprintf(buf, size, "a broadcast address of the router%s", on);
		else
			snprintf(buf, size, "a broadcast address of the router's subnet %s%s", ps,
				 on);
		break;
	case ROUTER_LOCAL_ROUTE:
		if (a->ifname[0])
			snprintf(on, sizeof(on), " on %s", a->ifname);
		snprintf(buf, size, "delivered locally by the router (local route %s%s)", ps, on);
		break;
	}
}
