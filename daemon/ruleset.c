/* SPDX-License-Identifier: MIT */
#include "ruleset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK 256 /* elements per add/delete command */

void ruleset_config_from_policy(struct ruleset_config *c, const struct policy *p)
{
	*c = (struct ruleset_config){ 0 };
	snprintf(c->table, sizeof(c->table), "%s", p->daemon.table);
	snprintf(c->wan_interface, sizeof(c->wan_interface), "%s", p->wan.interface);
	c->hairpin = p->wan.hairpin && p->wan.has_address;
	c->wan_address = p->wan.has_address ? p->wan.address : 0;
}

bool ruleset_config_equal(const struct ruleset_config *a, const struct ruleset_config *b)
{
	return strcmp(a->table, b->table) == 0 && strcmp(a->wan_interface, b->wan_interface) == 0 &&
	       a->hairpin == b->hairpin && (!a->hairpin || a->wan_address == b->wan_address);
}

void elements_init(struct elements *e)
{
	u64map_init(&e->ports);
	u64map_init(&e->ranges);
	u64map_init(&e->hosts);
	u64map_init(&e->nets);
}

void elements_finish(struct elements *e)
{
	u64map_finish(&e->ports);
	u64map_finish(&e->ranges);
	u64map_finish(&e->hosts);
	u64map_finish(&e->nets);
}

void elements_clear(struct elements *e)
{
	u64map_clear(&e->ports);
	u64map_clear(&e->ranges);
	u64map_clear(&e->hosts);
	u64map_clear(&e->nets);
}

static int map_copy(struct u64map *dst, const struct u64map *src)
{
	uint64_t k, v;

	u64map_clear(dst);
	for (size_t i = 0; u64map_next(src, &i, &k, &v);)
		if (u64map_put(dst, k, v) < 0)
			return -ENOMEM;
	return 0;
}

int elements_copy(struct elements *dst, const struct elements *src)
{
	if (map_copy(&dst->ports, &src->ports) < 0 || map_copy(&dst->ranges, &src->ranges) < 0 ||
	    map_copy(&dst->hosts, &src->hosts) < 0 || map_copy(&dst->nets, &src->nets) < 0)
		return -ENOMEM;
	return 0;
}

static int count_up(struct u64map *m, uint64_t key)
{
	uint64_t n = 0;

	u64map_get(m, key, &n);
	return u64map_put(m, key, n + 1);
}

static void count_down(struct u64map *m, uint64_t key)
{
	uint64_t n = 0;

	if (!u64map_get(m, key, &n) || n <= 1)
		u64map_remove(m, key);
	else
		u64map_put(m, key, n - 1);
}

int elements_add_fragment(struct elements *e, const struct fragment *f)
{
	for (size_t i = 0; i < f->n_stmts; i++) {
		const struct fragment_stmt *s = &f->stmts[i];
		int r;

		if (s->kind == STMT_MASQUERADE)
			r = s->masq.len == 32 ? count_up(&e->hosts, s->masq.addr)
					      : count_up(&e->nets, net_key(&s->masq));
		else if (s->port_lo == s->port_hi)
			r = u64map_put(&e->ports, port_key(s->proto, s->port_lo),
				       (uint64_t)s->to_addr << 16 | (s->to_port ? s->to_port : s->port_lo));
		else
			r = u64map_put(&e->ranges, range_key(s->proto, s->port_lo, s->port_hi),
				       s->to_addr);
		if (r < 0)
			return r;
	}
	return 0;
}

void elements_remove_fragment(struct elements *e, const struct fragment *f)
{
	for (size_t i = 0; i < f->n_stmts; i++) {
		const struct fragment_stmt *s = &f->stmts[i];

		if (s->kind == STMT_MASQUERADE) {
			if (s->masq.len == 32)
				count_down(&e->hosts, s->masq.addr);
			else
				count_down(&e->nets, net_key(&s->masq));
		} else if (s->port_lo == s->port_hi) {
			u64map_remove(&e->ports, port_key(s->proto, s->port_lo));
		} else {
			u64map_remove(&e->ranges, range_key(s->proto, s->port_lo, s->port_hi));
		}
	}
}

void touched_init(struct touched *t)
{
	*t = (struct touched){ 0 };
	u64map_init(&t->ports);
	u64map_init(&t->ranges);
	u64map_init(&t->hosts);
}

void touched_finish(struct touched *t)
{
	u64map_finish(&t->ports);
	u64map_finish(&t->ranges);
	u64map_finish(&t->hosts);
}

int touched_add_fragment(struct touched *t, const struct fragment *f)
{
	for (size_t i = 0; i < f->n_stmts; i++) {
		const struct fragment_stmt *s = &f->stmts[i];
		int r = 0;

		if (s->kind == STMT_MASQUERADE) {
			if (s->masq.len == 32)
				r = u64map_put(&t->hosts, s->masq.addr, 1);
			else
				t->nets = true;
		} else if (s->port_lo == s->port_hi) {
			r = u64map_put(&t->ports, port_key(s->proto, s->port_lo), 1);
		} else {
			r = u64map_put(&t->ranges, range_key(s->proto, s->port_lo, s->port_hi), 1);
		}
		if (r < 0)
			return r;
	}
	return 0;
}

struct prefix_sort {
	uint32_t addr;
	uint8_t len;
};

static int compare_prefix(const void *x, const void *y)
{
	const struct prefix_sort *a = x, *b = y;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return (int)a->len - (int)b->len;
}

int ruleset_effective_nets(const struct elements *desired, struct u64map *ret)
{
	struct prefix_sort *v = calloc(desired->nets.n + 1, sizeof(*v));
	struct prefix4 cover = { 0 };
	bool have_cover = false;
	uint64_t k;
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; u64map_next(&desired->nets, &i, &k, NULL);)
		v[n++] = (struct prefix_sort){ (uint32_t)(k >> 8), (uint8_t)(k & 0xff) };
	if (n)
		qsort(v, n, sizeof(*v), compare_prefix);
	u64map_clear(ret);
	/*
	 * Prefixes nest or are disjoint. Sorted by address, then length, everything inside a
	 * prefix follows it directly: one "current cover" is enough.
	 */
	for (size_t i = 0; i < n; i++) {
		struct prefix4 p = { v[i].addr, v[i].len };
		if (have_cover && prefix4_contains(&cover, &p))
			continue;
		cover = p;
		have_cover = true;
		if (u64map_put(ret, net_key(&p), 1) < 0) {
			free(v);
			return -ENOMEM;
		}
	}
	free(v);
	return 0;
}

/* A chunked "add/delete element inet T SET { a, b, ... }" writer. */
struct batch {
	FILE *out;
	const char *verb, *table, *set;
	size_t n;
	size_t *counter;
};

static void batch_item(struct batch *b, const char *item)
{
	if (b->n % CHUNK == 0)
		fprintf(b->out, "%s%s element inet %s %s { ", b->n ? " }\n" : "", b->verb, b->table,
			b->set);
	else
		fputs(", ", b->out);
	fputs(item, b->out);
	b->n++;
	(*b->counter)++;
}

static void batch_end(struct batch *b)
{
	if (b->n)
		fputs(" }\n", b->out);
}

static void format_port(char *buf, size_t size, uint64_t key, uint64_t value, bool with_value)
{
	char a[IPV4_STRLEN];
	int n = snprintf(buf, size, "%s . %u", proto_name((uint8_t)(key >> 16)),
			 (unsigned)(key & 0xffff));

	if (with_value && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, " : %s . %u",
			 ipv4_format((uint32_t)(value >> 16), a), (unsigned)(value & 0xffff));
}

static void format_range(char *buf, size_t size, uint64_t key, uint64_t value, bool with_value)
{
	char a[IPV4_STRLEN];
	unsigned lo = (unsigned)(key >> 16) & 0xffff, hi = (unsigned)key & 0xffff;
	int n = snprintf(buf, size, "%s . %u-%u", proto_name((uint8_t)(key >> 32)), lo, hi);

	if (with_value && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, " : %s", ipv4_format((uint32_t)value, a));
}

static void format_host(char *buf, size_t size, uint64_t key, uint64_t value, bool with_value)
{
	char a[IPV4_STRLEN];

	(void)value; /* a set: no value */
	(void)with_value;
	snprintf(buf, size, "%s", ipv4_format((uint32_t)key, a));
}

static void format_net(char *buf, size_t size, uint64_t key, uint64_t value, bool with_value)
{
	char pfx[PREFIX4_STRLEN];
	struct prefix4 p = { (uint32_t)(key >> 8), (uint8_t)(key & 0xff) };

	(void)value; /* a set: no value */
	(void)with_value;
	snprintf(buf, size, "%s", prefix4_format(&p, true, pfx));
}

typedef void (*format_fn)(char *buf, size_t size, uint64_t key, uint64_t value, bool with_value);

/* Is `key` present (with that value, for maps) in `m`? Sets count as present at any count. */
static bool has(const struct u64map *m, uint64_t key, bool is_map, uint64_t *ret_value)
{
	uint64_t v = 0;

	if (!u64map_get(m, key, &v))
		return false;
	if (ret_value)
		*ret_value = is_map ? v : 1;
	return true;
}

/* Deletions (pass 0) or additions (pass 1) for one map or set over the keys in `keys`. */
static void diff_keys(struct batch *b, int pass, const struct u64map *keys,
		      const struct u64map *kernel, const struct u64map *desired, bool is_map,
		      format_fn fmt)
{
	char item[96];
	uint64_t key;

	for (size_t i = 0; u64map_next(keys, &i, &key, NULL);) {
		uint64_t kv = 0, dv = 0;
		bool in_k = has(kernel, key, is_map, &kv), in_d = has(desired, key, is_map, &dv);
		bool same = in_k && in_d && kv == dv;

		if (same)
			continue;
		if (pass == 0 && in_k) {
			fmt(item, sizeof(item), key, kv, false);
			batch_item(b, item);
		} else if (pass == 1 && in_d) {
			fmt(item, sizeof(item), key, dv, true);
			batch_item(b, item);
		}
	}
}

/* Union of the keys of two maps, for "everything touched". */
static int key_union(struct u64map *dst, const struct u64map *a, const struct u64map *b)
{
	uint64_t k;

	u64map_clear(dst);
	for (size_t i = 0; u64map_next(a, &i, &k, NULL);)
		if (u64map_put(dst, k, 1) < 0)
			return -ENOMEM;
	for (size_t i = 0; u64map_next(b, &i, &k, NULL);)
		if (u64map_put(dst, k, 1) < 0)
			return -ENOMEM;
	return 0;
}

int ruleset_render_delta(const struct ruleset_config *c, const struct elements *kernel,
			 const struct elements *desired, const struct touched *t, FILE *out,
			 struct delta_stats *ret_stats)
{
	struct u64map eff, all_ports, all_ranges, all_hosts, all_nets;
	const struct u64map *ports = &t->ports, *ranges = &t->ranges, *hosts = &t->hosts;
	struct delta_stats stats = { 0 };
	int r = 0;

	u64map_init(&eff);
	u64map_init(&all_ports);
	u64map_init(&all_ranges);
	u64map_init(&all_hosts);
	u64map_init(&all_nets);
	if (t->all) {
		if (key_union(&all_ports, &kernel->ports, &desired->ports) < 0 ||
		    key_union(&all_ranges, &kernel->ranges, &desired->ranges) < 0 ||
		    key_union(&all_hosts, &kernel->hosts, &desired->hosts) < 0) {
			r = -ENOMEM;
			goto out;
		}
		ports = &all_ports;
		ranges = &all_ranges;
		hosts = &all_hosts;
	}
	if ((t->nets || t->all) && ((r = ruleset_effective_nets(desired, &eff)) < 0 ||
				    (r = key_union(&all_nets, &kernel->nets, &eff)) < 0))
		goto out;

	for (int pass = 0; pass < 2; pass++) {
		size_t *counter = pass ? &stats.added : &stats.deleted;
		const char *verb = pass ? "add" : "delete";
		struct batch bp = { out, verb, c->table, "dnat_port", 0, counter };
		struct batch br = { out, verb, c->table, "dnat_range", 0, counter };
		struct batch bh = { out, verb, c->table, "masq_host", 0, counter };
		struct batch bn = { out, verb, c->table, "masq_net", 0, counter };

		diff_keys(&bp, pass, ports, &kernel->ports, &desired->ports, true, format_port);
		batch_end(&bp);
		diff_keys(&br, pass, ranges, &kernel->ranges, &desired->ranges, true, format_range);
		batch_end(&br);
		diff_keys(&bh, pass, hosts, &kernel->hosts, &desired->hosts, false, format_host);
		batch_end(&bh);
		if (t->nets || t->all) {
			diff_keys(&bn, pass, &all_nets, &kernel->nets, &eff, false, format_net);
			batch_end(&bn);
		}
	}
	if (ret_stats)
		*ret_stats = stats;
	r = (int)(stats.added + stats.deleted);
out:
	u64map_finish(&eff);
	u64map_finish(&all_ports);
	u64map_finish(&all_ranges);
	u64map_finish(&all_hosts);
	u64map_finish(&all_nets);
	return r;
}

static int commit_keys(struct u64map *kernel, const struct u64map *desired,
		       const struct u64map *keys, bool is_map)
{
	uint64_t key, v;

	for (size_t i = 0; u64map_next(keys, &i, &key, NULL);) {
		if (u64map_get(desired, key, &v)) {
			if (u64map_put(kernel, key, is_map ? v : 1) < 0)
				return -ENOMEM;
		} else {
			u64map_remove(kernel, key);
		}
	}
	return 0;
}

int ruleset_commit_view(struct elements *kernel, const struct elements *desired,
			const struct touched *t)
{
	int r;

	if (t->all) {
		uint64_t k;
		if ((r = map_copy(&kernel->ports, &desired->ports)) < 0 ||
		    (r = map_copy(&kernel->ranges, &desired->ranges)) < 0)
			return r;
		u64map_clear(&kernel->hosts);
		for (size_t i = 0; u64map_next(&desired->hosts, &i, &k, NULL);)
			if (u64map_put(&kernel->hosts, k, 1) < 0)
				return -ENOMEM;
	} else if ((r = commit_keys(&kernel->ports, &desired->ports, &t->ports, true)) < 0 ||
		   (r = commit_keys(&kernel->ranges, &desired->ranges, &t->ranges, true)) < 0 ||
		   (r = commit_keys(&kernel->hosts, &desired->hosts, &t->hosts, false)) < 0) {
		return r;
	}
	if (t->nets || t->all)
		return ruleset_effective_nets(desired, &kernel->nets);
	return 0;
}

static void render_chains(const struct ruleset_config *c, FILE *out)
{
	char a[IPV4_STRLEN];
	const char *lookup = "dnat ip to meta l4proto . th dport map";

	fprintf(out,
		"\tchain prerouting {\n"
		"\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
		"\t\tiifname \"%s\" fib daddr type local meta nfproto ipv4 %s @dnat_port\n"
		"\t\tiifname \"%s\" fib daddr type local meta nfproto ipv4 %s @dnat_range\n",
		c->wan_interface, lookup, c->wan_interface, lookup);
	if (c->hairpin) {
		ipv4_format(c->wan_address, a);
		fprintf(out,
			"\t\tiifname != \"%s\" ip daddr %s %s @dnat_port\n"
			"\t\tiifname != \"%s\" ip daddr %s %s @dnat_range\n",
			c->wan_interface, a, lookup, c->wan_interface, a, lookup);
	}
	fprintf(out,
		"\t}\n"
		"\tchain postrouting {\n"
		"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		"\t\tct status dnat ip daddr @masq_host masquerade\n"
		"\t\tct status dnat ip daddr @masq_net masquerade\n");
	if (c->hairpin)
		fprintf(out, "\t\tiifname != \"%s\" ct status dnat ct original ip daddr %s masquerade\n",
			c->wan_interface, a);
	fprintf(out, "\t}\n");
}

int ruleset_render_full(const struct ruleset_config *c, const struct elements *desired, FILE *out)
{
	struct elements empty;
	struct touched all;
	int r;

	fprintf(out,
		"table inet %s {}\n"
		"delete table inet %s\n"
		"table inet %s {\n"
		"\tmap dnat_port { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
		"\tmap dnat_range { type inet_proto . inet_service : ipv4_addr; flags interval; }\n"
		"\tset masq_host { type ipv4_addr; }\n"
		"\tset masq_net { type ipv4_addr; flags interval; }\n",
		c->table, c->table, c->table);
	render_chains(c, out);
	fprintf(out, "}\n");

	elements_init(&empty);
	touched_init(&all);
	all.all = true;
	r = ruleset_render_delta(c, &empty, desired, &all, out, NULL);
	touched_finish(&all);
	elements_finish(&empty);
	return r < 0 ? r : 0;
}
