/* SPDX-License-Identifier: MIT */
#include "ruleset.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

#define CHUNK 256 /* elements per add/delete command */

void ruleset_config_from_policy(struct ruleset_config *c, const struct policy *p)
{
	*c = (struct ruleset_config){ 0 };
	snprintf(c->table, sizeof(c->table), "%s", p->daemon.table);
	c->wan_auto = strcmp(p->wan.interface, POLICY_WAN_AUTO) == 0;
	if (!c->wan_auto) /* else chosen by the daemon, from the routes */
		snprintf(c->wan_interface, sizeof(c->wan_interface), "%s", p->wan.interface);
	c->hairpin = p->wan.hairpin;
	c->follow_wan = !p->wan.has_address;
	if (p->wan.has_address)
		(void)ruleset_config_set_wan4(c, &p->wan.address, 1);
	c->mark = p->wan.mark;
	c->mark_mask = p->wan.mark_mask;
}

bool ruleset_config_equal(const struct ruleset_config *a, const struct ruleset_config *b)
{
	return strcmp(a->table, b->table) == 0 && strcmp(a->wan_interface, b->wan_interface) == 0 &&
	       a->hairpin == b->hairpin && a->mark == b->mark && a->mark_mask == b->mark_mask;
}

/* Into the sorted next[0, *m): `addr` once, keeping the lowest RULESET_WAN4_MAX. */
static void wan4_insert(uint32_t *next, size_t *m, uint32_t addr)
{
	size_t i = *m;

	if (i == RULESET_WAN4_MAX) {
		if (addr >= next[i - 1])
			return;
		i--; /* the highest makes room */
	}
	for (size_t j = 0; j < i; j++)
		if (next[j] == addr)
			return;
	while (i > 0 && next[i - 1] > addr) {
		next[i] = next[i - 1];
		i--;
	}
	next[i] = addr;
	if (*m < RULESET_WAN4_MAX)
		(*m)++;
}

bool ruleset_config_set_wan4(struct ruleset_config *c, const uint32_t *addrs, size_t n)
{
	uint32_t next[RULESET_WAN4_MAX] = { 0 };
	size_t m = 0;
	bool changed;

	for (size_t i = 0; i < n; i++)
		wan4_insert(next, &m, addrs[i]);
	changed = m != c->n_wan4 || memcmp(next, c->wan4, m * sizeof(*next)) != 0;
	c->n_wan4 = m;
	memcpy(c->wan4, next, m * sizeof(*next));
	return changed;
}

void ruleset_wan4_format(const struct ruleset_config *c, char *buf, size_t size)
{
	size_t used = 0;
	char a[IPV4_STRLEN];

	snprintf(buf, size, "-");
	for (size_t i = 0; i < c->n_wan4; i++) {
		int n = snprintf(buf + used, size - used, "%s%s", i ? ", " : "",
				 ipv4_format(c->wan4[i], a));
		if (n < 0 || (size_t)n >= size - used) {
			buf[used] = '\0'; /* never half an address */
			break;
		}
		used += (size_t)n;
	}
}

/* "203.0.113.7, 198.51.100.2": the public addresses, for an element list */
static void render_wan4_list(const struct ruleset_config *c, FILE *out)
{
	char a[IPV4_STRLEN];

	for (size_t i = 0; i < c->n_wan4; i++)
		fprintf(out, "%s%s", i ? ", " : "", ipv4_format(c->wan4[i], a));
}

void ruleset_render_wan4(const struct ruleset_config *c, FILE *out)
{
	fprintf(out, "flush set inet %s wan4\n", c->table);
	if (c->n_wan4 == 0)
		return;
	fprintf(out, "add element inet %s wan4 { ", c->table);
	render_wan4_list(c, out);
	fprintf(out, " }\n");
}

void elements_init(struct elements *e)
{
	u64map_init(&e->ports);
	u64map_init(&e->ranges);
	u64map_init(&e->masq);
	pinset_init(&e->pinholes);
}

void elements_finish(struct elements *e)
{
	u64map_finish(&e->ports);
	u64map_finish(&e->ranges);
	u64map_finish(&e->masq);
	pinset_finish(&e->pinholes);
}

void elements_clear(struct elements *e)
{
	u64map_clear(&e->ports);
	u64map_clear(&e->ranges);
	u64map_clear(&e->masq);
	pinset_clear(&e->pinholes);
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
	    map_copy(&dst->masq, &src->masq) < 0 ||
	    pinset_copy(&dst->pinholes, &src->pinholes, NULL) < 0)
		return -ENOMEM;
	return 0;
}

/* Is the target of dnat statement `s` inside a masquerade prefix of its own fragment? */
static bool masqueraded(const struct fragment *f, const struct fragment_stmt *s)
{
	for (size_t i = 0; i < f->n_stmts; i++)
		if (f->stmts[i].kind == STMT_MASQUERADE &&
		    prefix4_contains_addr(&f->stmts[i].masq, s->to_addr))
			return true;
	return false;
}

static uint64_t masq_key(const struct fragment_stmt *s)
{
	return range_key(s->proto, s->port_lo, s->port_hi);
}

static struct pin_key pin_key_of(const struct fragment_stmt *s)
{
	return (struct pin_key){ .addr = s->to_addr6, .proto = s->proto, .lo = s->port_lo,
				 .hi = s->port_hi };
}

int elements_add_fragment(struct elements *e, const struct fragment *f)
{
	for (size_t i = 0; i < f->n_stmts; i++) {
		const struct fragment_stmt *s = &f->stmts[i];
		uint16_t to_port = s->to_port ? s->to_port : s->port_lo;
		int r;

		if (s->kind == STMT_PINHOLE) {
			struct pin_key k = pin_key_of(s);
			if (pinset_add(&e->pinholes, &k) < 0)
				return -ENOMEM;
			continue;
		}
		if (s->kind != STMT_DNAT)
			continue;
		if (s->port_lo == s->port_hi)
			r = u64map_put(&e->ports, port_key(s->proto, s->port_lo),
				       (uint64_t)s->to_addr << 16 | to_port);
		else
			r = u64map_put(&e->ranges, range_key(s->proto, s->port_lo, s->port_hi),
				       s->to_addr);
		if (r >= 0 && masqueraded(f, s))
			r = u64map_put(&e->masq, masq_key(s), 1);
		if (r < 0)
			return r;
	}
	return 0;
}

void elements_remove_fragment(struct elements *e, const struct fragment *f)
{
	for (size_t i = 0; i < f->n_stmts; i++) {
		const struct fragment_stmt *s = &f->stmts[i];
		struct pin_key k = pin_key_of(s);

		if (s->kind == STMT_PINHOLE)
			pinset_remove(&e->pinholes, &k); /* the engine keeps pinholes apart */
		if (s->kind != STMT_DNAT)
			continue;
		if (s->port_lo == s->port_hi)
			u64map_remove(&e->ports, port_key(s->proto, s->port_lo));
		else
			u64map_remove(&e->ranges, range_key(s->proto, s->port_lo, s->port_hi));
		u64map_remove(&e->masq, masq_key(s)); /* the port was this fragment's alone */
	}
}

void touched_init(struct touched *t)
{
	*t = (struct touched){ 0 };
	u64map_init(&t->ports);
	u64map_init(&t->ranges);
	u64map_init(&t->masq);
	pinset_init(&t->pinholes);
}

void touched_finish(struct touched *t)
{
	u64map_finish(&t->ports);
	u64map_finish(&t->ranges);
	u64map_finish(&t->masq);
	pinset_finish(&t->pinholes);
}

int touched_add_fragment(struct touched *t, const struct fragment *f)
{
	for (size_t i = 0; i < f->n_stmts; i++) {
		const struct fragment_stmt *s = &f->stmts[i];
		struct pin_key k = pin_key_of(s);
		int r;

		if (s->kind == STMT_PINHOLE && pinset_add(&t->pinholes, &k) < 0)
			return -ENOMEM;
		if (s->kind != STMT_DNAT)
			continue; /* a masquerade acts through its fragment's dnat statements */
		if (s->port_lo == s->port_hi)
			r = u64map_put(&t->ports, port_key(s->proto, s->port_lo), 1);
		else
			r = u64map_put(&t->ranges, range_key(s->proto, s->port_lo, s->port_hi), 1);
		if (r >= 0)
			r = u64map_put(&t->masq, masq_key(s), 1);
		if (r < 0)
			return r;
	}
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
	int n = snprintf(buf, size, "%u-%u . %s", lo, hi, proto_name((uint8_t)(key >> 32)));

	if (with_value && n > 0 && (size_t)n < size)
		snprintf(buf + n, size - (size_t)n, " : %s", ipv4_format((uint32_t)value, a));
}

/* A public port or range of a masquerade set: "80" or "30000-30010" (no protocol, no value). */
static void format_masq(char *buf, size_t size, uint64_t key, uint64_t value, bool with_value)
{
	unsigned lo = (unsigned)(key >> 16) & 0xffff, hi = (unsigned)key & 0xffff;

	(void)value; /* a set: no value */
	(void)with_value;
	if (lo == hi)
		snprintf(buf, size, "%u", lo);
	else
		snprintf(buf, size, "%u-%u", lo, hi);
}

typedef void (*format_fn)(char *buf, size_t size, uint64_t key, uint64_t value, bool with_value);

/* Is `key` present (with that value, for maps) in `m`? */
static bool has(const struct u64map *m, uint64_t key, bool is_map, uint64_t *ret_value)
{
	uint64_t v = 0;

	if (!u64map_get(m, key, &v))
		return false;
	if (ret_value)
		*ret_value = is_map ? v : 1;
	return true;
}

/*
 * Deletions (pass 0) or additions (pass 1) for one map or set over the keys in `keys`; with
 * `proto` set, only keys of that protocol in their top bits (a masquerade set per protocol).
 */
static void diff_keys(struct batch *b, int pass, const struct u64map *keys,
		      const struct u64map *kernel, const struct u64map *desired, bool is_map,
		      format_fn fmt, uint8_t proto)
{
	char item[96];
	uint64_t key;

	for (size_t i = 0; u64map_next(keys, &i, &key, NULL);) {
		if (proto && key >> 32 != proto)
			continue;
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

/* A pinhole element: "2001:db8::10 . tcp . 443" or "... . 3478-3480". */
static void format_pin(char *buf, size_t size, const struct pin_key *k)
{
	char a[IPV6_STRLEN];

	if (k->lo == k->hi)
		snprintf(buf, size, "%s . %s . %u", ipv6_format(&k->addr, a), proto_name(k->proto),
			 k->lo);
	else
		snprintf(buf, size, "%s . %s . %u-%u", ipv6_format(&k->addr, a),
			 proto_name(k->proto), k->lo, k->hi);
}

/*
 * Deletions (pass 0) or additions (pass 1) of pinhole elements over the keys in `keys`: the
 * single ports (`ranges` false, the set `pinholes`) or the port ranges (`pinhole_ranges`).
 */
static void diff_pins(struct batch *b, int pass, const struct pinset *keys,
		      const struct pinset *kernel, const struct pinset *desired, bool ranges)
{
	char item[96];

	for (size_t i = 0; i < keys->n; i++) {
		const struct pin_key *k = &keys->items[i];
		bool in_k = pinset_has(kernel, k), in_d = pinset_has(desired, k);

		if ((k->lo != k->hi) != ranges)
			continue;
		if (in_k == in_d || (pass == 0 && !in_k) || (pass == 1 && !in_d))
			continue;
		format_pin(item, sizeof(item), k);
		batch_item(b, item);
	}
}

int ruleset_render_prime(const struct ruleset_config *c, const struct elements *kernel, FILE *out)
{
	char item[96];
	const char *set = NULL;
	uint64_t key, value;
	size_t i = 0;

	if (u64map_next(&kernel->ports, &i, &key, &value)) {
		format_port(item, sizeof(item), key, value, true);
		set = "dnat_port";
	}
	for (size_t k = 0; !set && k < kernel->pinholes.n; k++) {
		const struct pin_key *p = &kernel->pinholes.items[k];
		if (p->lo != p->hi)
			continue;
		format_pin(item, sizeof(item), p);
		set = "pinholes";
	}
	if (!set)
		return 0;
	fprintf(out, "add table inet %s { }\nadd element inet %s %s { %s }\n", c->table, c->table,
		set, item);
	return 1;
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
	struct u64map all_ports, all_ranges, all_masq;
	const struct u64map *ports = &t->ports, *ranges = &t->ranges, *masq = &t->masq;
	struct pinset all_pins;
	const struct pinset *pins = &t->pinholes;
	struct delta_stats stats = { 0 };
	int r = 0;

	u64map_init(&all_ports);
	u64map_init(&all_ranges);
	u64map_init(&all_masq);
	pinset_init(&all_pins);
	if (t->all) {
		if (key_union(&all_ports, &kernel->ports, &desired->ports) < 0 ||
		    key_union(&all_ranges, &kernel->ranges, &desired->ranges) < 0 ||
		    key_union(&all_masq, &kernel->masq, &desired->masq) < 0 ||
		    pinset_copy(&all_pins, &kernel->pinholes, &desired->pinholes) < 0) {
			r = -ENOMEM;
			goto out;
		}
		ports = &all_ports;
		ranges = &all_ranges;
		masq = &all_masq;
		pins = &all_pins;
	}

	for (int pass = 0; pass < 2; pass++) {
		size_t *counter = pass ? &stats.added : &stats.deleted;
		const char *verb = pass ? "add" : "delete";
		struct batch bp = { out, verb, c->table, "dnat_port", 0, counter };
		struct batch br = { out, verb, c->table, "dnat_range", 0, counter };
		struct batch bt = { out, verb, c->table, "masq_tcp", 0, counter };
		struct batch bu = { out, verb, c->table, "masq_udp", 0, counter };
		struct batch b6 = { out, verb, c->table, "pinholes", 0, counter };
		struct batch b6r = { out, verb, c->table, "pinhole_ranges", 0, counter };

		diff_keys(&bp, pass, ports, &kernel->ports, &desired->ports, true, format_port, 0);
		batch_end(&bp);
		diff_keys(&br, pass, ranges, &kernel->ranges, &desired->ranges, true, format_range,
			  0);
		batch_end(&br);
		diff_keys(&bt, pass, masq, &kernel->masq, &desired->masq, false, format_masq,
			  PROTO_TCP);
		batch_end(&bt);
		diff_keys(&bu, pass, masq, &kernel->masq, &desired->masq, false, format_masq,
			  PROTO_UDP);
		batch_end(&bu);
		diff_pins(&b6, pass, pins, &kernel->pinholes, &desired->pinholes, false);
		batch_end(&b6);
		diff_pins(&b6r, pass, pins, &kernel->pinholes, &desired->pinholes, true);
		batch_end(&b6r);
	}
	if (ret_stats)
		*ret_stats = stats;
	r = (int)(stats.added + stats.deleted);
out:
	u64map_finish(&all_ports);
	u64map_finish(&all_ranges);
	u64map_finish(&all_masq);
	pinset_finish(&all_pins);
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

	if (t->all)
		return elements_copy(kernel, desired);
	for (size_t i = 0; i < t->pinholes.n; i++) {
		const struct pin_key *k = &t->pinholes.items[i];
		if (!pinset_has(&desired->pinholes, k))
			pinset_remove(&kernel->pinholes, k);
		else if (pinset_add(&kernel->pinholes, k) < 0)
			return -ENOMEM;
	}
	if ((r = commit_keys(&kernel->ports, &desired->ports, &t->ports, true)) < 0 ||
	    (r = commit_keys(&kernel->ranges, &desired->ranges, &t->ranges, true)) < 0 ||
	    (r = commit_keys(&kernel->masq, &desired->masq, &t->masq, false)) < 0)
		return r;
	return 0;
}

/*
 * The prerouting rules: a membership test on the map first, so only our own keys get the
 * label, then the label, then the translation. dnat_range is keyed port first (see
 * ruleset.h), dnat_port protocol first.
 */
/* " ct mark set ct mark or V" (the mask is the value) or "... and ~MASK or V" */
static void render_mark(const struct ruleset_config *c, FILE *out)
{
	if (c->mark_mask == c->mark)
		fprintf(out, " ct mark set ct mark or 0x%08" PRIx32, c->mark);
	else
		fprintf(out, " ct mark set ct mark and 0x%08" PRIx32 " or 0x%08" PRIx32,
			(uint32_t)~c->mark_mask, c->mark);
}

void ruleset_admin_rule(const struct ruleset_config *c, char *buf, size_t size)
{
	snprintf(buf, size, "ct mark and 0x%08" PRIx32 " == 0x%08" PRIx32 " accept", c->mark_mask,
		 c->mark);
}

/*
 * The WAN interface in the rules: [wan] interface = auto without an IPv4 default route has
 * none yet, and nft refuses an empty name. RULESET_NO_INTERFACE cannot be a Linux interface's
 * name (a '/'), so the rules match nothing from the WAN until the daemon knows the interface.
 */
static const char *wan_if(const struct ruleset_config *c)
{
	return c->wan_interface[0] ? c->wan_interface : RULESET_NO_INTERFACE;
}

static void render_prerouting(const struct ruleset_config *c, FILE *out)
{
	static const char *const maps[] = { "dnat_port", "dnat_range" };
	static const char *const keys[] = { "meta l4proto . th dport", "th dport . meta l4proto" };

	fprintf(out, "\tchain prerouting {\n"
		     "\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
	for (int hairpin = 0; hairpin <= (int)c->hairpin; hairpin++) {
		for (size_t m = 0; m < 2; m++) {
			if (hairpin)
				fprintf(out, "\t\tiifname != \"%s\" ip daddr @wan4", wan_if(c));
			else
				fprintf(out, "\t\tiifname \"%s\" %s", wan_if(c),
					"fib daddr type local meta nfproto ipv4");
			fprintf(out, " %s @%s ct label set %d", keys[m], maps[m], RULESET_CT_LABEL);
			render_mark(c, out);
			fprintf(out, " dnat ip to %s map @%s\n", keys[m], maps[m]);
		}
	}
	fprintf(out, "\t}\n");
}

static void render_chains(const struct ruleset_config *c, FILE *out)
{
	render_prerouting(c, out);
	/* nft 1.0.6 refuses `meta l4proto . ct original proto-dst`: one rule per protocol */
	fprintf(out,
		"\tchain postrouting {\n"
		"\t\ttype nat hook postrouting priority srcnat; policy accept;\n"
		"\t\tct label %d meta l4proto tcp ct original proto-dst @masq_tcp masquerade\n"
		"\t\tct label %d meta l4proto udp ct original proto-dst @masq_udp masquerade\n",
		RULESET_CT_LABEL, RULESET_CT_LABEL);
	if (c->hairpin)
		fprintf(out,
			"\t\tiifname != \"%s\" ct label %d ct status dnat ct original ip daddr @wan4"
			" masquerade\n",
			wan_if(c), RULESET_CT_LABEL);
	/* none of our translations ends at a local socket, whatever the engine let through */
	fprintf(out,
		"\t}\n"
		"\tchain guard {\n"
		"\t\ttype filter hook input priority filter; policy accept;\n"
		"\t\tct label %d ct status dnat counter drop\n"
		"\t}\n",
		RULESET_CT_LABEL);
	/* before the administrator's forward chains (priority filter), so they see the mark */
	fprintf(out, "\tchain pinhole {\n"
		     "\t\ttype filter hook forward priority filter - 10; policy accept;\n");
	for (int ranges = 0; ranges < 2; ranges++) {
		fprintf(out,
			"\t\tiifname \"%s\" ct state new ip6 daddr . meta l4proto . th dport @%s",
			wan_if(c), ranges ? "pinhole_ranges" : "pinholes");
		render_mark(c, out);
		fprintf(out, " accept\n");
	}
	fprintf(out, "\t}\n");
}

void ruleset_render_replace(const struct ruleset_config *c, uint64_t handle, FILE *out)
{
	if (handle)
		fprintf(out, "delete table inet handle %" PRIu64 "\n", handle);
	else
		fprintf(out, "create table inet %s { comment \"%s\"; }\n", c->table,
			RULESET_TABLE_COMMENT);
}

int ruleset_render_full(const struct ruleset_config *c, const struct elements *desired, FILE *out)
{
	struct elements empty;
	struct touched all;
	int r;

	fprintf(out,
		"table inet %s {\n"
		"\tcomment \"%s\"\n"
		"\tmap dnat_port { type inet_proto . inet_service : ipv4_addr . inet_service; }\n"
		"\tmap dnat_range { type inet_service . inet_proto : ipv4_addr; flags interval; }\n"
		"\tset masq_tcp { type inet_service; flags interval; }\n"
		"\tset masq_udp { type inet_service; flags interval; }\n"
		"\tset pinholes { type ipv6_addr . inet_proto . inet_service; }\n"
		"\tset pinhole_ranges { type ipv6_addr . inet_proto . inet_service; flags interval; }\n",
		c->table, RULESET_TABLE_COMMENT);
	/* the public addresses are part of the table's definition: they are no forward */
	if (c->hairpin && c->n_wan4) {
		fprintf(out, "\tset wan4 { type ipv4_addr; elements = { ");
		render_wan4_list(c, out);
		fprintf(out, " }; }\n");
	} else if (c->hairpin)
		fprintf(out, "\tset wan4 { type ipv4_addr; }\n");
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
