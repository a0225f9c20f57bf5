/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: any bytes as a file in the spool, through everything natwardend does with a
 * submission short of the kernel and the disk: parse it, then the daemon's own transaction
 * (daemon/txn.c) judges it against a fixed policy and a populated active set and merges it into
 * the desired model; here the nftables delta and the whole table are rendered, the verdict
 * written with the codec and read back, then the transaction is rolled back for the next input.
 *
 * What must hold (abort() otherwise):
 *   - every rejection, by the parser or the engine, has a reason, and every reason is one line
 *     of printable ASCII (it becomes a "reason" record of the verdict and a journal field);
 *   - an accepted fragment obeys the policy, checked here independently of the engine;
 *   - no text from a fragment reaches libnftables: the whole-table text is, byte for byte, the
 *     fixed template rendered for an empty model followed only by element commands, and every
 *     element command matches a strict grammar whose items are numbers this harness formats
 *     again itself (so no quote, semicolon, '#', '@', '$', brace, newline or word such as
 *     'include' can come from a fragment);
 *   - the delta is a valid transaction for the kernel: deletions before additions, a deletion
 *     only of what is there, an addition only of what is not, no overlapping intervals;
 *   - applying the delta to the kernel's view gives exactly the desired model, which is what
 *     ruleset_commit_view() records; rendering again changes nothing;
 *   - an accepted fragment's elements are all live afterwards, a withdrawn one's forwards gone;
 *     pinholes (IPv6 host . protocol . port in the set `pinholes`, . ports in
 *     `pinhole_ranges`) likewise;
 *   - resubmitting an accepted fragment is a pure lease renewal (identical, empty delta);
 *   - the verdict text parses back to what was written, and is never itself a fragment; a
 *     submitted file that looks like a verdict (a forgery) is rejected.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "active.h"
#include "engine.h"
#include "fragment.h"
#include "ruleset.h"
#include "txn.h"
#include "verdict.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x)                                                                          \
	do {                                                                              \
		if (!(x)) {                                                               \
			fprintf(stderr, "fuzz-intake: %s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #x);                                            \
			abort();                                                          \
		}                                                                         \
	} while (0)

#define NAME "fuzz"		     /* the submitted file's name */
#define NOW_MS INT64_C(1700000000000) /* the daemon's clock, fixed */

/*
 * Destinations deliberately include addresses no forward may have (0.0.0.0/8, loopback, the
 * router's own address, multicast, 240.0.0.0/4, broadcast): the engine must refuse them anyway.
 */
static const char policy_text[] =
	"[daemon]\ntable = nwfuzz\n"
	"[wan]\ninterface = wan0\naddress = 203.0.113.7\nhairpin = yes\n"
	"[reserved]\nports = 22, 53\n"
	"[submitter u]\nports = 1-30000, 40000-40100\n"
	"destinations = 0.0.0.0/1, 192.168.0.0/16, 203.0.113.0/24, 224.0.0.0/3,"
	" 2001:db8::/32, fe80::/10, ff00::/8, ::/96, ::ffff:0:0/96\n"
	"masquerade = yes\nmax_fragments = 4\nmax_rules = 64\n"
	"[submitter v]\nports = 80, 443, 8000-8999\nprotocols = tcp\n"
	"destinations = 192.168.1.0/24\nmax_fragments = 2\nmax_rules = 8\nmax_lease = 3600\n"
	"[submitter w]\nports = 1-65535\ndestinations = 0.0.0.0/0, ::/0\nmasquerade = yes\n"
	"max_fragments = 1\n";

/* What is active before each input: (user, uid, name, text). */
static const struct {
	const char *user;
	uint32_t uid;
	const char *name, *text;
} held[] = {
	{ "other", 2, "held",
	  "dnat tcp 100-200 to 10.0.0.1\ndnat udp 80 to 10.0.0.2\ndnat udp 81 to 192.168.1.7\n"
	  "masquerade 10.0.0.0/16\npinhole tcp 443 to 2001:db8::1\n"
	  "pinhole udp 3000-3010 to 2001:db8::2\n" }, /* udp 81 is not masqueraded */
	{ "u", 1000, NAME,
	  "dnat tcp 80 to 192.168.1.10\ndnat tcp 443 to 192.168.1.10:8443\n"
	  "masquerade 192.168.1.10\nlease 600\n" },
	{ "u", 1000, "aux",
	  "dnat udp 5000-5010 to 192.168.1.11\ndnat udp 5020 to 10.0.0.3\nmasquerade 10.0.0.0/8\n" },
	{ "v", 1001, "web", "dnat tcp 8080 to 192.168.1.20\nlease 60\n" },
	{ "w", 1003, "one", "dnat tcp 31000 to 192.168.1.30\n" }, /* w is at max_fragments */
};

/* The users a submission is judged for, each from the same starting state. */
static const struct {
	const char *user;
	uint32_t uid;
} submitters[] = { { "u", 1000 }, { "v", 1001 }, { "w", 1003 }, { "x", 1002 } };

static struct policy *policy;
static struct ruleset_config cfg;
static struct active_set *active;
static struct elements base; /* the model of `active`: desired = kernel before each input */
static char *template_text;  /* ruleset_render_full() of an empty model */
static size_t template_len;

/* ---- helpers ------------------------------------------------------------------------------ */

static struct fragment *parse_or_die(const char *name, const char *text)
{
	struct fragment *f = NULL;
	struct diag_list errs;

	diag_init(&errs);
	CHECK(fragment_parse(name, text, strlen(text), &f, &errs) == 0);
	return f;
}

static bool map_equal(const struct u64map *a, const struct u64map *b, bool values)
{
	uint64_t k, v, w;

	if (a->n != b->n)
		return false;
	for (size_t i = 0; u64map_next(a, &i, &k, &v);)
		if (!u64map_get(b, k, &w) || (values && v != w))
			return false;
	return true;
}

static bool elements_equal(const struct elements *a, const struct elements *b)
{
	if (a->pinholes.n != b->pinholes.n)
		return false;
	for (size_t i = 0; i < a->pinholes.n; i++)
		if (!pinset_has(&b->pinholes, &a->pinholes.items[i]))
			return false;
	return map_equal(&a->ports, &b->ports, true) && map_equal(&a->ranges, &b->ranges, true) &&
	       map_equal(&a->masq, &b->masq, true);
}

/* One line of printable ASCII: what a verdict record and a journal field can carry. */
static bool printable_line(const char *s)
{
	for (; *s; s++)
		if (!char_is_print(*s))
			return false;
	return true;
}

static void check_reasons(const struct diag_list *l)
{
	CHECK(l->n > 0);
	for (size_t i = 0; i < l->n; i++) {
		CHECK(memchr(l->items[i].text, '\0', DIAG_TEXT) != NULL);
		CHECK(l->items[i].text[0] != '\0');
		CHECK(printable_line(l->items[i].text));
	}
}

static char *render_to_string(int (*render)(FILE *, void *), void *userdata, int *ret)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	CHECK(out);
	*ret = render(out, userdata);
	CHECK(fclose(out) == 0);
	CHECK(strlen(text) == len);
	return text;
}

/* ---- the nftables text, read back strictly ------------------------------------------------ */

/*
 * A model of what the kernel holds, as the element commands change it: the same keys and
 * values as struct elements; masq_tcp and masq_udp together are `masq`, the protocol in the
 * key's top bits.
 */
enum set_id { SET_PORT, SET_RANGE, SET_MASQ_TCP, SET_MASQ_UDP, SET_PIN, SET_PIN_RANGE };

static const char *const set_names[] = { "dnat_port", "dnat_range",	"masq_tcp",
					  "masq_udp",  "pinholes", "pinhole_ranges" };

static struct u64map *model_set(struct elements *m, enum set_id id)
{
	return id == SET_PORT ? &m->ports : id == SET_RANGE ? &m->ranges : &m->masq;
}

/* Parse a whole token [s, s+len) as a number in [min, max]. */
static bool number(const char *s, size_t len, uint32_t min, uint32_t max, uint32_t *ret)
{
	return parse_uint32(s, len, min, max, ret) == 0;
}

static bool proto_of(const char *s, size_t len, uint8_t *ret)
{
	if (len == 3 && memcmp(s, "tcp", 3) == 0)
		*ret = PROTO_TCP;
	else if (len == 3 && memcmp(s, "udp", 3) == 0)
		*ret = PROTO_UDP;
	else
		return false;
	return true;
}

/*
 * One element item of set `id`, with its value for an addition. The item must be exactly what
 * this function formats again from the numbers it found: nothing else can pass.
 */
static void parse_item(enum set_id id, bool with_value, const char *s, size_t len, uint64_t *ret_key,
		       uint64_t *ret_value)
{
	char again[128], a[IPV4_STRLEN];
	const char *p = s, *end = s + len, *q;
	uint8_t proto = 0;
	uint32_t lo = 0, hi = 0, addr = 0, tport = 0;

	CHECK(len > 0 && len < 100);
	switch (id) {
	case SET_PORT:
		/* "PROTO . PORT" [" : ADDR . PORT"] */
		q = memchr(p, ' ', (size_t)(end - p));
		CHECK(q && proto_of(p, (size_t)(q - p), &proto));
		CHECK(end - q > 3 && memcmp(q, " . ", 3) == 0);
		p = q + 3;
		q = memchr(p, ' ', (size_t)(end - p));
		if (!q)
			q = end;
		CHECK(number(p, (size_t)(q - p), 1, 65535, &lo));
		if (with_value) {
			const char *colon;
			CHECK(end - q > 3 && memcmp(q, " : ", 3) == 0);
			p = q + 3;
			colon = memchr(p, ' ', (size_t)(end - p));
			CHECK(colon);
			CHECK(ipv4_parse(p, (size_t)(colon - p), &addr) == 0);
			CHECK(end - colon > 3 && memcmp(colon, " . ", 3) == 0);
			CHECK(number(colon + 3, (size_t)(end - colon - 3), 1, 65535, &tport));
		} else {
			CHECK(q == end);
		}
		*ret_key = port_key(proto, (uint16_t)lo);
		*ret_value = (uint64_t)addr << 16 | tport;
		if (with_value)
			snprintf(again, sizeof(again), "%s . %u : %s . %u", proto_name(proto), lo,
				 ipv4_format(addr, a), tport);
		else
			snprintf(again, sizeof(again), "%s . %u", proto_name(proto), lo);
		break;
	case SET_RANGE: {
		/* "LO-HI . PROTO" [" : ADDR"]: the port first, as the map is keyed */
		uint16_t l16, h16;
		q = memchr(p, ' ', (size_t)(end - p));
		CHECK(q && parse_port_range(p, (size_t)(q - p), &l16, &h16) == 0);
		lo = l16;
		hi = h16;
		CHECK(lo < hi); /* a single port is never a range element */
		CHECK(end - q > 3 && memcmp(q, " . ", 3) == 0);
		p = q + 3;
		q = memchr(p, ' ', (size_t)(end - p));
		if (!q)
			q = end;
		CHECK(proto_of(p, (size_t)(q - p), &proto));
		if (with_value) {
			CHECK(end - q > 3 && memcmp(q, " : ", 3) == 0);
			CHECK(ipv4_parse(q + 3, (size_t)(end - q - 3), &addr) == 0);
		} else {
			CHECK(q == end);
		}
		*ret_key = range_key(proto, (uint16_t)lo, (uint16_t)hi);
		*ret_value = addr;
		if (with_value)
			snprintf(again, sizeof(again), "%u-%u . %s : %s", lo, hi, proto_name(proto),
				 ipv4_format(addr, a));
		else
			snprintf(again, sizeof(again), "%u-%u . %s", lo, hi, proto_name(proto));
		break;
	}
	case SET_MASQ_TCP:
	case SET_MASQ_UDP: {
		/* a public port "80" or range "30000-30010", nothing else: no protocol, no value */
		uint16_t l16, h16;
		proto = id == SET_MASQ_TCP ? PROTO_TCP : PROTO_UDP;
		CHECK(parse_port_range(s, len, &l16, &h16) == 0);
		*ret_key = range_key(proto, l16, h16);
		*ret_value = 1;
		if (l16 == h16)
			snprintf(again, sizeof(again), "%u", (unsigned)l16);
		else
			snprintf(again, sizeof(again), "%u-%u", (unsigned)l16, (unsigned)h16);
		break;
	}
	case SET_PIN:
	case SET_PIN_RANGE:
		abort(); /* apply_pin() */
	}
	CHECK(strlen(again) == len && memcmp(again, s, len) == 0);
	/* nothing a fragment could smuggle: and the one place a target could go wrong */
	if (with_value && id <= SET_RANGE)
		CHECK(ipv4_special_kind(addr) == NULL && addr != policy->wan.address);
}

/*
 * One item of the pinhole set, "ADDR . PROTO . PORT[-PORT]": it must be exactly what this
 * function formats again, and its host an address no pinhole may have only if refused.
 */
static void parse_pin(const char *s, size_t len, struct pin_key *ret)
{
	char again[128], a[IPV6_STRLEN];
	const char *p = s, *end = s + len, *q;
	uint16_t lo, hi;

	CHECK(len > 0 && len < 100);
	q = memchr(p, ' ', (size_t)(end - p));
	CHECK(q && ipv6_parse(p, (size_t)(q - p), &ret->addr, NULL) == 0);
	CHECK(end - q > 3 && memcmp(q, " . ", 3) == 0);
	p = q + 3;
	q = memchr(p, ' ', (size_t)(end - p));
	CHECK(q && proto_of(p, (size_t)(q - p), &ret->proto));
	CHECK(end - q > 3 && memcmp(q, " . ", 3) == 0);
	p = q + 3;
	CHECK(parse_port_range(p, (size_t)(end - p), &lo, &hi) == 0);
	ret->lo = lo;
	ret->hi = hi;
	if (lo == hi)
		snprintf(again, sizeof(again), "%s . %s . %u", ipv6_format(&ret->addr, a),
			 proto_name(ret->proto), (unsigned)lo);
	else
		snprintf(again, sizeof(again), "%s . %s . %u-%u", ipv6_format(&ret->addr, a),
			 proto_name(ret->proto), (unsigned)lo, (unsigned)hi);
	CHECK(strlen(again) == len && memcmp(again, s, len) == 0);
	CHECK(ipv6_special_kind(&ret->addr) == NULL);
}

/* Does an element of `set` share host, protocol and a port with `k`? (The kernel refuses.) */
static bool pins_overlap(const struct pinset *set, const struct pin_key *k)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct pin_key *o = &set->items[i];
		if (memcmp(&o->addr, &k->addr, sizeof(k->addr)) == 0 && o->proto == k->proto &&
		    o->lo <= k->hi && k->lo <= o->hi)
			return true;
	}
	return false;
}

/* Apply one item of a pinhole set to the model: single ports in one, ranges in the other. */
static void apply_pin(struct elements *m, enum set_id id, bool add, const char *s, size_t len)
{
	struct pin_key k;

	parse_pin(s, len, &k);
	CHECK((k.lo != k.hi) == (id == SET_PIN_RANGE));
	if (add) {
		CHECK(!pins_overlap(&m->pinholes, &k)); /* an interval set: no overlap, no duplicate */
		CHECK(pinset_add(&m->pinholes, &k) == 0);
	} else {
		CHECK(pinset_has(&m->pinholes, &k));
		pinset_remove(&m->pinholes, &k);
	}
}

static bool ranges_overlap(const struct u64map *ranges, uint64_t key)
{
	uint64_t k;

	for (size_t i = 0; u64map_next(ranges, &i, &k, NULL);)
		if (k >> 32 == key >> 32 && ((k >> 16) & 0xffff) <= (key & 0xffff) &&
		    ((key >> 16) & 0xffff) <= (k & 0xffff))
			return true;
	return false;
}

/*
 * Apply element commands to the kernel model `m`, as the kernel would in one transaction,
 * checking each against the grammar
 *
 *   (add|delete) element inet TABLE SET { ITEM[, ITEM]... }\n
 *
 * Returns how many elements changed.
 */
static size_t apply_commands(struct elements *m, const char *text, size_t len, bool adds_only)
{
	const char *p = text, *end = text + len;
	bool seen_add = false;
	size_t changes = 0;
	char head[160];

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q;
		bool add;
		int id = -1;
		size_t items = 0;

		CHECK(nl); /* every command ends its line */
		add = (size_t)(nl - p) > 4 && memcmp(p, "add ", 4) == 0;
		CHECK(add || ((size_t)(nl - p) > 7 && memcmp(p, "delete ", 7) == 0));
		CHECK(!(adds_only && !add));
		CHECK(add || !seen_add); /* all deletions first */
		seen_add |= add;
		for (int i = 0; i < (int)ELEMENTSOF(set_names); i++) {
			int n = snprintf(head, sizeof(head), "%s element inet %s %s { ",
					 add ? "add" : "delete", cfg.table, set_names[i]);
			if ((size_t)(nl - p) > (size_t)n && memcmp(p, head, (size_t)n) == 0) {
				id = i;
				p += n;
				break;
			}
		}
		CHECK(id >= 0);
		CHECK(nl - p >= 2 && memcmp(nl - 2, " }", 2) == 0);
		for (const char *stop = nl - 2; p < stop; p = q + 2) {
			uint64_t key = 0, value = 0;

			q = memchr(p, ',', (size_t)(stop - p));
			if (!q)
				q = stop;
			else
				CHECK(q + 1 < stop && q[1] == ' ');
			if (id == SET_PIN || id == SET_PIN_RANGE) {
				apply_pin(m, (enum set_id)id, add, p, (size_t)(q - p));
				items++;
				changes++;
				if (q == stop)
					break;
				continue;
			}
			struct u64map *set = model_set(m, (enum set_id)id);
			parse_item((enum set_id)id, add, p, (size_t)(q - p), &key, &value);
			if (add) {
				CHECK(!u64map_get(set, key, NULL)); /* "add" of what is there: refused */
				if (id != SET_PORT) /* interval map and sets: no overlap */
					CHECK(!ranges_overlap(set, key));
				CHECK(u64map_put(set, key, value) == 0);
			} else {
				CHECK(u64map_remove(set, key)); /* "delete" of what is not there: refused */
			}
			items++;
			changes++;
			if (q == stop)
				break;
		}
		CHECK(items >= 1 && items <= 256);
		p = nl + 1;
	}
	return changes;
}

static bool map_copy_ok(struct u64map *dst, const struct u64map *src)
{
	uint64_t k, v;

	u64map_clear(dst);
	for (size_t i = 0; u64map_next(src, &i, &k, &v);)
		if (u64map_put(dst, k, v) < 0)
			return false;
	return true;
}

/* The model as the kernel holds it: the same maps, the masquerade sets' values all 1. */
static void kernel_form(struct elements *k, const struct elements *desired)
{
	uint64_t key;

	elements_clear(k);
	CHECK(map_copy_ok(&k->ports, &desired->ports));
	CHECK(map_copy_ok(&k->ranges, &desired->ranges));
	for (size_t i = 0; u64map_next(&desired->masq, &i, &key, NULL);)
		CHECK(u64map_put(&k->masq, key, 1) == 0);
	CHECK(pinset_copy(&k->pinholes, &desired->pinholes, NULL) == 0);
}

/* ---- rendering ---------------------------------------------------------------------------- */

struct full_args {
	const struct elements *e;
};

static int render_full_cb(FILE *out, void *userdata)
{
	const struct full_args *a = userdata;

	return ruleset_render_full(&cfg, a->e, out);
}

struct delta_args {
	const struct elements *kernel, *desired;
	const struct touched *t;
	struct delta_stats stats;
};

static int render_delta_cb(FILE *out, void *userdata)
{
	struct delta_args *a = userdata;

	return ruleset_render_delta(&cfg, a->kernel, a->desired, a->t, out, &a->stats);
}

/*
 * The whole table for `desired`: the template, then additions that rebuild it exactly; and
 * the daemon's view of the kernel after it (kernel_apply_full()) is what they built.
 */
static void check_full(const struct elements *desired)
{
	struct full_args args = { desired };
	struct elements got, want, view;
	struct touched all;
	char *text;
	int r;

	text = render_to_string(render_full_cb, &args, &r);
	CHECK(r == 0);
	CHECK(strncmp(text, template_text, template_len) == 0);
	elements_init(&got);
	elements_init(&want);
	apply_commands(&got, text + template_len, strlen(text) - template_len, true);
	kernel_form(&want, desired);
	CHECK(elements_equal(&got, &want));
	elements_init(&view);
	touched_init(&all);
	all.all = true;
	CHECK(ruleset_commit_view(&view, desired, &all) == 0);
	CHECK(elements_equal(&view, &got));
	touched_finish(&all);
	elements_finish(&view);
	elements_finish(&got);
	elements_finish(&want);
	free(text);
}

/*
 * Render the delta kernel -> desired over `t`, apply it to a copy of the kernel model, and
 * check it lands exactly on `desired`; then commit the view the daemon's way and check that
 * agrees, and that a second render finds nothing to do. Returns the kernel model afterwards in
 * `after`.
 */
static void check_delta(struct elements *kernel, const struct elements *desired,
			const struct touched *t, struct elements *after)
{
	struct delta_args args = { kernel, desired, t, { 0 } };
	struct elements want;
	size_t applied;
	char *text;
	int r;

	text = render_to_string(render_delta_cb, &args, &r);
	CHECK(r >= 0);
	CHECK((size_t)r == args.stats.added + args.stats.deleted);
	CHECK((r == 0) == (text[0] == '\0')); /* no change: no transaction at all */
	CHECK(elements_copy(after, kernel) == 0);
	applied = apply_commands(after, text, strlen(text), false);
	CHECK(applied == (size_t)r);
	free(text);

	elements_init(&want);
	kernel_form(&want, desired);
	CHECK(elements_equal(after, &want));
	elements_finish(&want);

	CHECK(ruleset_commit_view(kernel, desired, t) == 0);
	CHECK(elements_equal(kernel, after));

	args = (struct delta_args){ kernel, desired, t, { 0 } };
	text = render_to_string(render_delta_cb, &args, &r);
	CHECK(r == 0 && text[0] == '\0');
	free(text);
}

/* ---- the verdict, as report() writes it ---------------------------------------------------- */

static void check_verdict(const char *user, const char *word, bool renewed, int64_t expires,
			  const struct fragment *live, const struct diag_list *reasons)
{
	_cleanup_free_ char *vtext = NULL, *printed = NULL;
	struct verdict_text v;
	size_t vlen = 0, n_live = 0;
	FILE *out = open_memstream(&vtext, &vlen);
	struct fragment *f = NULL;
	struct diag_list errs;

	CHECK(out);
	verdict_write_head(out, NAME, user, word, renewed, expires);
	if (live) {
		printed = fragment_print(live);
		CHECK(printed);
		for (char *save = NULL, *l = strtok_r(printed, "\n", &save); l;
		     l = strtok_r(NULL, "\n", &save))
			if (strncmp(l, "lease ", 6) != 0) {
				verdict_write_live(out, l);
				n_live++;
			}
		CHECK(n_live == live->n_stmts);
	}
	for (size_t i = 0; reasons && i < reasons->n; i++) {
		char line[DIAG_TEXT + 96];

		verdict_write_reason(out, diag_format(&reasons->items[i], NAME, line, sizeof(line)));
	}
	if (reasons && reasons->dropped) {
		char more[96];
		snprintf(more, sizeof(more), "%s: ... and %zu more", NAME, reasons->dropped);
		verdict_write_reason(out, more);
	}
	CHECK(fclose(out) == 0);

	CHECK(verdict_is(vtext, vlen));
	CHECK(verdict_parse(vtext, vlen, &v) == 0);
	CHECK(strcmp(v.fragment, NAME) == 0);
	CHECK(strcmp(v.user, user) == 0);
	CHECK(strcmp(v.verdict, word) == 0);
	CHECK(v.renewed == renewed);
	CHECK(v.expires == expires);
	CHECK(v.n_live == n_live);
	if (live) {
		/* the live lines are the canonical statements, in order: they parse back to them */
		size_t total = 0, o = 0;
		for (size_t i = 0; i < v.n_live; i++)
			total += strlen(v.live[i]) + 1;
		char *joined = calloc(total + 1, 1);
		CHECK(joined);
		for (size_t i = 0; i < v.n_live; i++) {
			size_t l = strlen(v.live[i]);
			memcpy(joined + o, v.live[i], l);
			joined[o + l] = '\n';
			o += l + 1;
		}
		diag_init(&errs);
		CHECK(fragment_parse(NAME, joined, strlen(joined), &f, &errs) == 0);
		CHECK(f->n_stmts == live->n_stmts);
		for (size_t i = 0; i < f->n_stmts; i++) {
			const struct fragment_stmt *a = &f->stmts[i], *b = &live->stmts[i];
			CHECK(a->kind == b->kind);
			if (a->kind == STMT_MASQUERADE)
				CHECK(a->masq.addr == b->masq.addr && a->masq.len == b->masq.len);
			else if (a->kind == STMT_PINHOLE)
				CHECK(a->proto == b->proto && a->port_lo == b->port_lo &&
				      a->port_hi == b->port_hi &&
				      memcmp(&a->to_addr6, &b->to_addr6, sizeof(a->to_addr6)) == 0);
			else
				CHECK(a->proto == b->proto && a->port_lo == b->port_lo &&
				      a->port_hi == b->port_hi && a->to_addr == b->to_addr &&
				      a->to_port == b->to_port);
		}
		fragment_free(f);
		f = NULL;
		free(joined);
	}
	CHECK(v.n_reasons == (reasons ? reasons->n + (reasons->dropped ? 1 : 0) : 0));
	for (size_t i = 0; reasons && i < reasons->n; i++) {
		char want[DIAG_TEXT + 96];

		diag_format(&reasons->items[i], NAME, want, sizeof(want));
		CHECK(strcmp(v.reasons[i], want) == 0);
	}
	verdict_text_free(&v);

	/* a file carrying a verdict is never mistaken for a submission */
	diag_init(&errs);
	CHECK(fragment_parse(NAME, vtext, vlen, &f, &errs) < 0);
	CHECK(errs.n > 0);
}

/* ---- the policy, checked independently of the engine --------------------------------------- */

static bool in_destinations(const struct submitter *s, const struct prefix4 *p)
{
	for (size_t i = 0; i < s->n_destinations; i++)
		if (p->len >= s->destinations[i].len &&
		    (p->addr & prefix4_mask(s->destinations[i].len)) == s->destinations[i].addr)
			return true;
	return false;
}

/*
 * A pinhole: inside an IPv6 destination, never an address of the kinds the engine refuses
 * (written out here, not ipv6_special_kind()), no other active pinhole on its host, protocol
 * and a port.
 */
static void check_pinhole_policy(const struct submitter *s, const struct fragment_stmt *st,
				 const struct active_entry *old, const struct active_entry *self)
{
	const uint8_t *b = st->to_addr6.b;
	static const uint8_t zero[16], mapped[12] = { [10] = 0xff, [11] = 0xff };
	bool inside = false;

	for (size_t i = 0; i < s->n_destinations6; i++)
		inside |= prefix6_contains_addr(&s->destinations6[i], &st->to_addr6);
	CHECK(inside);
	CHECK(memcmp(b, zero, 12) != 0);   /* ::/96: unspecified, loopback, IPv4-compatible */
	CHECK(memcmp(b, mapped, 12) != 0); /* ::ffff:0:0/96 */
	CHECK(b[0] != 0xff && !(b[0] == 0xfe && (b[1] & 0xc0) == 0x80));
	for (size_t i = 0; i < active_set_size(active); i++) {
		const struct active_entry *e = active_set_at(active, i);
		if (e == old || e == self)
			continue;
		for (size_t k = 0; k < e->frag->n_stmts; k++) {
			const struct fragment_stmt *o = &e->frag->stmts[k];
			CHECK(o->kind != STMT_PINHOLE || o->proto != st->proto ||
			      memcmp(&o->to_addr6, &st->to_addr6, sizeof(o->to_addr6)) != 0 ||
			      o->port_hi < st->port_lo || st->port_hi < o->port_lo);
		}
	}
}

/* `self`: the entry accepted for `f`, already in the active set (the transaction merged it). */
static void check_obeys_policy(const char *user, const struct fragment *f,
			       const struct active_entry *old, const struct active_entry *self)
{
	const struct submitter *s = policy_find_submitter(policy, user);
	size_t fragments = 1, rules = f->n_stmts;

	CHECK(s);
	CHECK(f->n_stmts > 0);
	CHECK(s->max_lease == 0 || (f->lease > 0 && f->lease <= s->max_lease));
	for (size_t i = 0; i < active_set_size(active); i++) {
		const struct active_entry *e = active_set_at(active, i);
		if (e == old || e == self || strcmp(e->user, user) != 0)
			continue;
		fragments++;
		rules += e->frag->n_stmts;
	}
	CHECK(fragments <= s->max_fragments && rules <= s->max_rules);
	for (size_t i = 0; i < f->n_stmts; i++) {
		const struct fragment_stmt *st = &f->stmts[i];
		if (st->kind == STMT_MASQUERADE) {
			bool covers = false;
			CHECK(s->masquerade && in_destinations(s, &st->masq));
			for (size_t k = 0; k < f->n_stmts; k++)
				covers |= f->stmts[k].kind == STMT_DNAT &&
					  (f->stmts[k].to_addr & prefix4_mask(st->masq.len)) == st->masq.addr;
			CHECK(covers); /* a masquerade without a forward of its own fragment: refused */
			continue;
		}
		struct prefix4 to = { st->to_addr, 32 };
		CHECK((st->proto == PROTO_TCP && s->tcp) || (st->proto == PROTO_UDP && s->udp));
		if (st->kind == STMT_PINHOLE) {
			check_pinhole_policy(s, st, old, self);
		} else {
			CHECK(in_destinations(s, &to));
			CHECK(to.addr >> 24 != 0 && to.addr >> 24 != 127 && to.addr < 0xe0000000u);
			CHECK(to.addr != policy->wan.address);
		}
		CHECK(1 <= st->port_lo && st->port_lo <= st->port_hi);
		for (uint32_t port = st->port_lo; port <= st->port_hi; port++) {
			bool allowed = false;
			for (size_t k = 0; k < s->ports.n; k++)
				allowed |= s->ports.items[k].lo <= port && port <= s->ports.items[k].hi;
			for (size_t k = 0; k < policy->reserved.n; k++)
				CHECK(port < policy->reserved.items[k].lo ||
				      port > policy->reserved.items[k].hi);
			CHECK(allowed);
			const struct active_entry *owner = active_set_claim(active, st->proto, (uint16_t)port);
			CHECK(st->kind == STMT_PINHOLE || !owner || owner == old || owner == self);
		}
	}
}

/* ---- one submission, for one user ---------------------------------------------------------- */

/* Does a masquerade of fragment `f` hold `addr`? (Computed here, not by ruleset.c.) */
static bool masq_covers(const struct fragment *f, uint32_t addr)
{
	for (size_t i = 0; i < f->n_stmts; i++)
		if (f->stmts[i].kind == STMT_MASQUERADE &&
		    (addr & prefix4_mask(f->stmts[i].masq.len)) == f->stmts[i].masq.addr)
			return true;
	return false;
}

/* Is this fragment's every element live in the kernel model `k`, masqueraded as it asks? */
static void check_live(const struct elements *k, const struct fragment *f)
{
	for (size_t i = 0; i < f->n_stmts; i++) {
		const struct fragment_stmt *s = &f->stmts[i];
		uint64_t v;
		if (s->kind == STMT_MASQUERADE)
			continue; /* it acts through the dnat statements: below */
		if (s->kind == STMT_PINHOLE) {
			struct pin_key pk = { s->to_addr6, s->proto, s->port_lo, s->port_hi };
			CHECK(pinset_has(&k->pinholes, &pk));
			continue;
		}
		if (s->port_lo == s->port_hi) {
			CHECK(u64map_get(&k->ports, port_key(s->proto, s->port_lo), &v));
			CHECK(v == ((uint64_t)s->to_addr << 16 | (s->to_port ? s->to_port : s->port_lo)));
		} else {
			CHECK(u64map_get(&k->ranges, range_key(s->proto, s->port_lo, s->port_hi), &v));
			CHECK(v == s->to_addr);
		}
		CHECK(u64map_get(&k->masq, range_key(s->proto, s->port_lo, s->port_hi), NULL) ==
		      masq_covers(f, s->to_addr));
	}
}

/*
 * The kernel model's masquerade sets are exactly, over every active fragment, the public
 * ports of its forwards to an address inside one of its own masquerades: nothing of another
 * fragment's, and no masquerade entry without its forward.
 */
static void check_masq_model(const struct elements *k)
{
	size_t n = 0;
	uint64_t key;

	for (size_t i = 0; i < active_set_size(active); i++) {
		const struct fragment *f = active_set_at(active, i)->frag;
		for (size_t j = 0; j < f->n_stmts; j++) {
			const struct fragment_stmt *s = &f->stmts[j];
			uint64_t public = range_key(s->proto, s->port_lo, s->port_hi);
			bool in;
			if (s->kind != STMT_DNAT)
				continue;
			in = u64map_get(&k->masq, public, NULL);
			CHECK(in == masq_covers(f, s->to_addr));
			n += in;
		}
	}
	CHECK(n == k->masq.n);
	for (size_t i = 0; u64map_next(&k->masq, &i, &key, NULL);) {
		uint16_t lo = (uint16_t)(key >> 16), hi = (uint16_t)key;
		if (lo == hi)
			CHECK(u64map_get(&k->ports, port_key((uint8_t)(key >> 32), lo), NULL));
		else
			CHECK(u64map_get(&k->ranges, key, NULL));
	}
}

/* A withdrawn or replaced fragment's forwards are gone, unless its successor has them. */
static void check_gone(const struct elements *k, const struct fragment *old, const struct fragment *now)
{
	for (size_t i = 0; i < old->n_stmts; i++) {
		const struct fragment_stmt *s = &old->stmts[i];
		bool kept = false;
		if (s->kind == STMT_MASQUERADE)
			continue; /* it acts through the dnat statements */
		if (s->kind == STMT_PINHOLE) {
			struct pin_key pk = { s->to_addr6, s->proto, s->port_lo, s->port_hi };
			for (size_t j = 0; now && j < now->n_stmts; j++)
				kept |= now->stmts[j].kind == STMT_PINHOLE &&
					now->stmts[j].proto == s->proto &&
					now->stmts[j].port_lo == s->port_lo &&
					now->stmts[j].port_hi == s->port_hi &&
					memcmp(&now->stmts[j].to_addr6, &s->to_addr6, sizeof(pk.addr)) == 0;
			CHECK(kept || !pinset_has(&k->pinholes, &pk));
			continue;
		}
		for (size_t j = 0; now && j < now->n_stmts; j++)
			kept |= now->stmts[j].kind == STMT_DNAT && now->stmts[j].proto == s->proto &&
				now->stmts[j].port_lo == s->port_lo && now->stmts[j].port_hi == s->port_hi;
		if (kept)
			continue;
		if (s->port_lo == s->port_hi)
			CHECK(!u64map_get(&k->ports, port_key(s->proto, s->port_lo), NULL));
		else
			CHECK(!u64map_get(&k->ranges, range_key(s->proto, s->port_lo, s->port_hi), NULL));
		CHECK(!u64map_get(&k->masq, range_key(s->proto, s->port_lo, s->port_hi), NULL));
	}
}

static struct fragment *clone_fragment(const struct fragment *f)
{
	struct fragment *c = calloc(1, sizeof(*c));

	CHECK(c);
	*c = *f;
	c->stmts = NULL;
	if (f->n_stmts) {
		c->stmts = calloc(f->n_stmts, sizeof(*c->stmts));
		CHECK(c->stmts);
		memcpy(c->stmts, f->stmts, f->n_stmts * sizeof(*c->stmts));
	}
	return c;
}

/* What the transaction says of one op, checked against the models and the policy. */
static void check_outcome(const char *user, const struct txn_op *op, const struct active_entry *old,
			  struct elements *kernel, const struct elements *desired,
			  const struct touched *t)
{
	struct elements after;
	struct judgement again;

	elements_init(&after);
	switch (op->outcome) {
	case TXN_WITHDRAWN:
		check_delta(kernel, desired, t, &after);
		check_masq_model(&after);
		if (old)
			check_gone(&after, old->frag, NULL);
		check_full(desired);
		check_verdict(user, "withdrawn", false, 0, NULL, NULL);
		break;
	case TXN_RENEWED:
		/* a renewal: nothing touched, no transaction */
		CHECK(old && op->old == old);
		check_delta(kernel, desired, t, &after);
		CHECK(elements_equal(&after, kernel));
		check_verdict(user, "accepted", true, old->expires, old->frag, NULL);
		break;
	case TXN_ACCEPTED:
		CHECK(op->old == old && (!old || !fragment_equal(old->frag, op->entry->frag)));
		check_obeys_policy(user, op->entry->frag, old, op->entry);
		check_delta(kernel, desired, t, &after);
		check_live(&after, op->entry->frag);
		check_masq_model(&after);
		if (old)
			check_gone(&after, old->frag, op->entry->frag);
		check_full(desired);
		check_verdict(user, "accepted", false, op->entry->expires, op->entry->frag, NULL);
		/* the same file again: identical, only the lease renewed, nothing for the kernel */
		engine_judge(policy, NULL, user, active, op->entry->frag, &again);
		CHECK(again.verdict == VERDICT_ACCEPTED && again.replaces && again.identical);
		break;
	default:
		CHECK(false);
	}
	elements_finish(&after);
}

/*
 * The parsed fragment `f` (owned), submitted by `user`, through the daemon's own transaction
 * (daemon/txn.c): judged, merged, then rolled back for the next input.
 */
static void submit(const char *user, uint32_t uid, struct fragment *f)
{
	size_t n_before = active_set_size(active), rules_before = active_set_rules(active);
	struct active_entry *old = active_set_find(active, user, f->name);
	struct elements desired, kernel;
	struct txn_world w = { .policy = policy, .active = active, .desired = &desired };
	struct txn_op op;
	struct txn t;

	elements_init(&desired);
	elements_init(&kernel);
	CHECK(elements_copy(&desired, &base) == 0);
	kernel_form(&kernel, &base);
	txn_op_submit(&op, user, uid, f);
	txn_begin(&t, &w, &op, 1, NOW_MS);
	CHECK(txn_save(&t) == 0); /* nothing saved here: no state */
	if (op.outcome == TXN_REJECTED) {
		check_reasons(&op.reasons);
		check_verdict(user, "rejected", false, 0, NULL, &op.reasons);
		CHECK(elements_equal(&desired, &base));
	} else {
		CHECK(!diag_any(&op.reasons) && !op.reasons.dropped);
		CHECK(policy_find_submitter(policy, user));
		check_outcome(user, &op, old, &kernel, &desired, txn_touched(&t));
	}
	/* undone: the state before this input, exactly */
	CHECK(txn_rollback(&t) == 0);
	txn_end(&t);
	CHECK(elements_equal(&desired, &base));
	CHECK(active_set_size(active) == n_before && active_set_rules(active) == rules_before);
	CHECK(active_set_find(active, user, NAME) == old);
	txn_op_release(&op);
	elements_finish(&desired);
	elements_finish(&kernel);
}

/* ---- set-up and the entry point ----------------------------------------------------------- */

static int render_template_cb(FILE *out, void *userdata)
{
	struct elements empty;
	int r;

	(void)userdata;
	elements_init(&empty);
	r = ruleset_render_full(&cfg, &empty, out);
	elements_finish(&empty);
	return r;
}

static void setup(void)
{
	struct diag_list errs;
	int r;

	diag_init(&errs);
	CHECK(policy_parse("fuzz.ini", policy_text, sizeof(policy_text) - 1, &policy, &errs) == 0);
	ruleset_config_from_policy(&cfg, policy);
	CHECK(cfg.hairpin);
	active = active_set_new();
	CHECK(active);
	elements_init(&base);
	for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++) {
		struct active_entry *e =
			active_entry_new(held[i].user, held[i].uid, parse_or_die(held[i].name, held[i].text));
		CHECK(e);
		CHECK(active_set_insert(active, e) == 0);
		CHECK(elements_add_fragment(&base, e->frag) == 0);
	}
	template_text = render_to_string(render_template_cb, NULL, &r);
	CHECK(r == 0);
	template_len = strlen(template_text);
	/*
	 * The template is the one place with quotes and semicolons: it holds the policy's table and
	 * interface names and nothing else variable. Make sure it ends where element commands start.
	 */
	CHECK(template_len > 2 && strcmp(template_text + template_len - 2, "}\n") == 0);
	CHECK(strstr(template_text, "include") == NULL && strstr(template_text, "define") == NULL);
	CHECK(strstr(template_text, " element ") == NULL);
	/* marked as ours, every translation labelled, the guard in place */
	CHECK(strstr(template_text, "\tcomment \"" RULESET_TABLE_COMMENT "\"\n") != NULL);
	CHECK(strstr(template_text, "\tchain guard {\n") != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verdict_text v;
	struct fragment *f = NULL;
	struct diag_list errs;
	int r;

	if (!policy)
		setup();

	/* The client reads verdicts: whatever a file holds must not break verdict_parse(). */
	if (verdict_parse((const char *)data, size, &v) == 0)
		verdict_text_free(&v);

	/*
	 * Only a leftover in work that carries a verdict is taken as answered before a crash; a
	 * new file that looks like one is a forgery, judged like any other (spool_take()).
	 */

	/* op_from_submission(): the parse does not depend on the submitter, so it is done once */
	diag_init(&errs);
	r = fragment_parse(NAME, (const char *)data, size, &f, &errs);
	CHECK(!(r == 0 && verdict_is((const char *)data, size))); /* a forged verdict: rejected */
	if (r < 0) {
		CHECK(r == -EINVAL);
		check_reasons(&errs);
		check_verdict(submitters[0].user, "rejected", false, 0, NULL, &errs);
		return 0;
	}
	CHECK(errs.n == 0 && errs.dropped == 0);
	for (size_t i = 0; i < sizeof(submitters) / sizeof(submitters[0]); i++)
		submit(submitters[i].user, submitters[i].uid, clone_fragment(f));
	fragment_free(f);
	return 0;
}
