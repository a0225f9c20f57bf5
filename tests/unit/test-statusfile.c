/* SPDX-License-Identifier: MIT */
/* The status file codec: what natwardend writes to RUNTIME/status, the client reads back. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "macro.h"
#include "statusfile.h"
#include "tap.h"

/* Parse exactly `len` bytes in a buffer of that size: no NUL after them to lean on. */
static int parse_exact(const char *s, size_t len, struct statusfile *ret)
{
	_cleanup_free_ char *copy = fixture_copy(s, len);

	return statusfile_parse(copy, len, ret);
}

static struct statusfile_mapping dnat(const char *user, const char *frag, const char *proto,
				      const char *ports, const char *target, int64_t expires)
{
	struct statusfile_mapping m = { .expires = expires };

	snprintf(m.kind, sizeof(m.kind), "dnat");
	snprintf(m.user, sizeof(m.user), "%s", user);
	snprintf(m.fragment, sizeof(m.fragment), "%s", frag);
	snprintf(m.proto, sizeof(m.proto), "%s", proto);
	snprintf(m.ports, sizeof(m.ports), "%s", ports);
	snprintf(m.target, sizeof(m.target), "%s", target);
	return m;
}

static struct statusfile_mapping masq(const char *user, const char *frag, const char *prefix,
				      int64_t expires)
{
	struct statusfile_mapping m = { .expires = expires };

	snprintf(m.kind, sizeof(m.kind), "masquerade");
	snprintf(m.user, sizeof(m.user), "%s", user);
	snprintf(m.fragment, sizeof(m.fragment), "%s", frag);
	snprintf(m.target, sizeof(m.target), "%s", prefix);
	return m;
}

static struct statusfile_event event(int64_t time, const char *kind, const char *user,
				     const char *frag, const char *text)
{
	struct statusfile_event e = { .time = time };

	snprintf(e.kind, sizeof(e.kind), "%s", kind);
	snprintf(e.user, sizeof(e.user), "%s", user);
	snprintf(e.fragment, sizeof(e.fragment), "%s", frag);
	snprintf(e.text, sizeof(e.text), "%s", text);
	return e;
}

/* A block of mapping lines, as the daemon keeps one per fragment. */
static char *block(const struct statusfile_mapping *m, size_t n)
{
	struct text t;
	FILE *out = text_open(&t);

	for (size_t i = 0; i < n; i++)
		if (statusfile_format_mapping(out, &m[i]) < 0)
			abort();
	text_close(&t);
	return t.s;
}

static bool map_equal(const struct statusfile_mapping *a, const struct statusfile_mapping *b)
{
	return strcmp(a->user, b->user) == 0 && strcmp(a->fragment, b->fragment) == 0 &&
	       strcmp(a->kind, b->kind) == 0 && strcmp(a->proto, b->proto) == 0 &&
	       strcmp(a->ports, b->ports) == 0 && strcmp(a->target, b->target) == 0 &&
	       a->expires == b->expires;
}

static bool event_equal(const struct statusfile_event *a, const struct statusfile_event *b)
{
	return a->time == b->time && strcmp(a->kind, b->kind) == 0 &&
	       strcmp(a->user, b->user) == 0 && strcmp(a->fragment, b->fragment) == 0 &&
	       strcmp(a->text, b->text) == 0;
}

static bool head_equal(const struct statusfile_head *a, const struct statusfile_head *b)
{
	return a->pid == b->pid && a->started == b->started && a->updated == b->updated &&
	       a->last_change == b->last_change && a->last_apply_us == b->last_apply_us &&
	       strcmp(a->table, b->table) == 0 && a->users == b->users &&
	       a->fragments == b->fragments && a->mappings == b->mappings &&
	       strcmp(a->last_error, b->last_error) == 0 &&
	       strcmp(a->wan_interface, b->wan_interface) == 0 &&
	       strcmp(a->wan_source, b->wan_source) == 0 && strcmp(a->wan_state, b->wan_state) == 0 &&
	       strcmp(a->wan_addresses, b->wan_addresses) == 0 &&
	       strcmp(a->admin_check, b->admin_check) == 0;
}

static struct statusfile_head example_head(void)
{
	struct statusfile_head h = {
		.pid = 4321,
		.started = 1767225600,
		.updated = 1767225661,
		.last_change = 1767225660,
		.last_apply_us = 1234,
		.users = 2,
		.fragments = 2,
		.mappings = 3,
	};

	snprintf(h.table, sizeof(h.table), "inet natwarden");
	snprintf(h.wan_interface, sizeof(h.wan_interface), "ppp0");
	snprintf(h.wan_source, sizeof(h.wan_source), "interface");
	snprintf(h.wan_state, sizeof(h.wan_state), "up");
	snprintf(h.wan_addresses, sizeof(h.wan_addresses), "198.51.100.2, 203.0.113.9");
	return h;
}

static char *render(const struct statusfile_data *d)
{
	struct text t;
	FILE *out = text_open(&t);

	if (statusfile_render(out, d) < 0)
		abort();
	text_close(&t);
	return t.s;
}

static void test_pinhole(void)
{
	struct statusfile_mapping v6[] = {
		dnat("dave", "web6", "tcp", "443", "2001:db8:0:1::240", 1767229200),
		dnat("dave", "web6", "udp", "3478-3480", "2001:db8:0:1::241", 0),
	};
	snprintf(v6[0].kind, sizeof(v6[0].kind), "pinhole");
	snprintf(v6[1].kind, sizeof(v6[1].kind), "pinhole");
	_cleanup_free_ char *b0 = block(v6, ELEMENTSOF(v6));
	const char *blocks[] = { b0 };
	struct statusfile_data d = { .head = example_head(), .blocks = blocks, .n_blocks = 1 };
	_cleanup_free_ char *text = render(&d);
	struct statusfile s;

	ok(strstr(text, "\npinhole\tdave\tweb6\ttcp\t443\t2001:db8:0:1::240\t1767229200\n"
			"pinhole\tdave\tweb6\tudp\t3478-3480\t2001:db8:0:1::241\t0\n") != NULL,
	   "pinhole lines as dnat ones, with their kind");
	is_int(parse_exact(text, strlen(text), &s), 0, "a status with pinholes parses");
	ok(s.n_maps == 2 && map_equal(&s.maps[0], &v6[0]) && map_equal(&s.maps[1], &v6[1]),
	   "each pinhole as written");
	statusfile_finish(&s);
}

static void test_example(void)
{
	struct statusfile_mapping web[] = {
		dnat("alice", "web", "tcp", "80", "192.168.1.10", 0),
		dnat("alice", "web", "udp", "27015-27030", "192.168.1.11:27000", 0),
	};
	struct statusfile_mapping lan[] = { masq("bob", "lan", "192.168.2.0/24", 1767229200) };
	_cleanup_free_ char *b0 = block(web, ELEMENTSOF(web)), *b1 = block(lan, 1);
	const char *blocks[] = { b0, b1 };
	struct statusfile_event events[] = {
		event(1767225000, "expired", "carol", "game", "its lease ran out"),
		event(1767225100, "recovered", "", "", "table restored after an outside change"),
	};
	struct statusfile_data d = {
		.head = example_head(),
		.blocks = blocks,
		.n_blocks = 2,
		.events = events,
		.n_events = 2,
	};
	_cleanup_free_ char *text = render(&d);

	is_str(text,
	       "natwarden-status\t1\n"
	       "pid\t4321\n"
	       "started\t1767225600\n"
	       "updated\t1767225661\n"
	       "last_change\t1767225660\n"
	       "last_apply_us\t1234\n"
	       "table\tinet natwarden\n"
	       "users\t2\n"
	       "fragments\t2\n"
	       "mappings\t3\n"
	       "last_error\t-\n"
	       "wan\tppp0\tinterface\tup\t198.51.100.2, 203.0.113.9\n"
	       "admin_check\t-\n"
	       "dnat\talice\tweb\ttcp\t80\t192.168.1.10\t0\n"
	       "dnat\talice\tweb\tudp\t27015-27030\t192.168.1.11:27000\t0\n"
	       "masquerade\tbob\tlan\t192.168.2.0/24\t1767229200\n"
	       "event\t1767225000\texpired\tcarol\tgame\tits lease ran out\n"
	       "event\t1767225100\trecovered\t\t\ttable restored after an outside change\n",
	       "the example, byte for byte");

	struct statusfile s;
	is_int(parse_exact(text, strlen(text), &s), 0, "parses");
	is_int(s.version, 1, "version");
	struct statusfile_head want = example_head();
	ok(head_equal(&s.head, &want), "the header, field for field");
	is_int(s.n_maps, 3, "three mappings");
	bool maps_same = s.n_maps == 3;
	for (size_t i = 0; maps_same && i < 3; i++)
		maps_same = map_equal(&s.maps[i], i < 2 ? &web[i] : &lan[0]) && s.maps[i].seq == i;
	ok(maps_same, "each mapping as written, seq its place");
	is_int(s.n_events, 2, "two events");
	ok(s.n_events == 2 && event_equal(&s.events[0], &events[0]) &&
		   event_equal(&s.events[1], &events[1]),
	   "each event as written, empty fields kept");
	statusfile_finish(&s);
	ok(s.maps == NULL && s.events == NULL && s.n_maps == 0, "finish leaves nothing");

	/* a last error round-trips; "-" is none */
	snprintf(d.head.last_error, sizeof(d.head.last_error), "reload failed: policy.ini:3: x");
	free(text);
	text = render(&d);
	ok(strstr(text, "\nlast_error\treload failed: policy.ini:3: x\n") != NULL,
	   "a last error is written as it is");
	ok(parse_exact(text, strlen(text), &s) == 0 &&
		   strcmp(s.head.last_error, "reload failed: policy.ini:3: x") == 0,
	   "and read back");
	statusfile_finish(&s);

	d = (struct statusfile_data){ .head = example_head() };
	free(text);
	text = render(&d);
	ok(parse_exact(text, strlen(text), &s) == 0 && s.n_maps == 0 && s.n_events == 0 &&
		   s.head.last_error[0] == '\0',
	   "no mappings, no events, no error");
	statusfile_finish(&s);
}

static void test_format(void)
{
	struct statusfile_mapping m = dnat("a", "b", "tcp", "1", "10.0.0.1", 0);
	struct text t;
	FILE *out = text_open(&t);

	snprintf(m.kind, sizeof(m.kind), "snat");
	is_int(statusfile_format_mapping(out, &m), -EINVAL, "an unknown kind is refused");
	text_close(&t);
	is_int(t.len, 0, "and nothing written");
	free(t.s);

	out = text_open(&t);
	m = masq("a", "b", "10.0.0.0/8", -5);
	snprintf(m.proto, sizeof(m.proto), "tcp"); /* not part of a masquerade line */
	is_int(statusfile_format_mapping(out, &m), 0, "a masquerade");
	text_close(&t);
	is_str(t.s, "masquerade\ta\tb\t10.0.0.0/8\t-5\n", "has no protocol or ports");
	free(t.s);
}

/* No value can add a field or a record, whatever bytes it holds. */
static void test_hostile_values(void)
{
	struct statusfile_mapping m =
		dnat("u\tx", "f\nmasquerade\tevil\tx\t0.0.0.0/0\t0", "tcp", "80", "10.0.0.1", 7);
	_cleanup_free_ char *b = block(&m, 1);
	const char *blocks[] = { b };
	struct statusfile_event ev =
	    event(1, "revoked\t", "u\n", "f\r", "a\tb\nevent\t2\tx\ty\tz\tw");
	struct statusfile_data d = {
		.head = example_head(),
		.blocks = blocks,
		.n_blocks = 1,
		.events = &ev,
		.n_events = 1,
	};
	struct statusfile s;

	snprintf(d.head.last_error, sizeof(d.head.last_error),
		 "nft: Error: x\ndnat\tmallory\tf\ttcp\t22\t10.6.6.6\t0\x7f");
	snprintf(d.head.table, sizeof(d.head.table), "inet t\nmappings\t999");
	_cleanup_free_ char *text = render(&d);
	size_t lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	is_int(lines, 15, "thirteen header lines, one mapping, one event: nothing more");
	is_int(parse_exact(text, strlen(text), &s), 0, "parses");
	is_int(s.n_maps, 1, "one mapping");
	is_str(s.n_maps ? s.maps[0].user : NULL, "u?x", "a TAB in a value is '?'");
	is_str(s.n_maps ? s.maps[0].fragment : NULL, "f?masquerade?evil?x?0.0.0.0/0?0",
	       "a newline too");
	is_int(s.n_maps ? s.maps[0].expires : -1, 7, "the fields after it stay in place");
	is_str(s.head.last_error, "nft: Error: x?dnat?mallory?f?tcp?22?10.6.6.6?0?",
	       "a multi-line error stays one record");
	is_str(s.head.table, "inet t?mappings?999", "the table too");
	is_int(s.head.mappings, 3, "so no record is overwritten");
	is_int(s.n_events, 1, "one event");
	ok(s.n_events == 1 && strcmp(s.events[0].kind, "revoked?") == 0 &&
		   strcmp(s.events[0].user, "u?") == 0 && strcmp(s.events[0].fragment, "f?") == 0 &&
		   strcmp(s.events[0].text, "a?b?event?2?x?y?z?w") == 0,
	   "its fields, each '?' for a control byte");
	statusfile_finish(&s);
}

static void test_malformed(void)
{
	const char *text = "natwarden-status\t1\n"
			   "\n"
			   "pid\n"
			   "future\tsomething\tnew\n"
			   "dnat\ta\tb\ttcp\t80\t10.0.0.1\n"		   /* one field short */
			   "dnat\ta\tb\ttcp\t80\t10.0.0.1\t0\textra\n"	   /* one too many */
			   "masquerade\ta\tb\t10.0.0.0/8\n"		   /* short */
			   "masquerade\ta\tb\t10.0.0.0/8\t0\tx\n"	   /* long */
			   "event\t1\tk\tu\tf\n"			   /* short */
			   "event\t1\tk\tu\tf\tt\tx\n"			   /* long */
			   "dnat\ta\tb\ttcp\t1\t2\t3\t4\t5\t6\t7\t8\n"	   /* far too long */
			   "dnat\tok\tgood\tudp\t53\t10.0.0.53\t99\n"
			   "users\t7\n"
			   "wan\teth0\tpolicy\tup\n" /* short: ignored */
			   "event\t5\tk\tu\tf\tfine";
	struct statusfile s;

	is_int(parse_exact(text, strlen(text), &s), 0, "a file with malformed lines parses");
	is_int(s.n_maps, 1, "mapping lines with the wrong number of fields are ignored");
	ok(s.head.wan_interface[0] == '\0' && s.head.wan_addresses[0] == '\0',
	   "a wan line with a field short is ignored (and a file without one leaves it empty)");
	ok(s.n_maps == 1 && strcmp(s.maps[0].user, "ok") == 0 && s.maps[0].expires == 99 &&
		   s.maps[0].seq == 0,
	   "the good one is kept, first in place");
	is_int(s.n_events, 1, "so are bad events; a last line without a newline counts");
	is_int(s.head.users, 7, "an empty line, a lone key, an unknown record: skipped");
	statusfile_finish(&s);
	text = "natwarden-status\t1\nwan\tppp0\tinterface\tmissing\t-\n";
	is_int(parse_exact(text, strlen(text), &s), 0, "a wan record without addresses parses");
	ok(strcmp(s.head.wan_state, "missing") == 0 && s.head.wan_addresses[0] == '\0',
	   "its \"-\" reads back as no address");
	statusfile_finish(&s);

	static const char *const bad[] = {
		"",
		"pid\t1\n",
		"natwarden-status\t2\npid\t1\n",
		"natwarden-status\n",
		"natwarden-status 1\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		is_int(parse_exact(bad[i], strlen(bad[i]), &s), -EBADMSG, "not a status file (%zu)",
		       i);
		ok(s.maps == NULL && s.events == NULL, "and nothing to free");
	}
	static const char nul[] =
	    "pid\t1\ndnat\ta\tb\ttcp\t80\t10.0.0.1\t0\n\0natwarden-status\t1\n";
	is_int(parse_exact(nul, sizeof(nul) - 1, &s), -EBADMSG, "a NUL ends the text");
	static const char nul2[] = "natwarden-status\t1\nusers\t3\0\nusers\t4\n";
	ok(parse_exact(nul2, sizeof(nul2) - 1, &s) == 0 && s.head.users == 3,
	   "nothing after it counts");
	statusfile_finish(&s);

	/* values longer than their fields are cut, never overflow */
	char longv[600];
	memset(longv, 'x', sizeof(longv) - 1);
	longv[sizeof(longv) - 1] = '\0';
	_cleanup_free_ char *big = NULL;
	if (asprintf(&big, "natwarden-status\t1\ntable\t%s\nlast_error\t%s\n"
			   "dnat\t%s\t%s\t%s\t%s\t%s\t1\nevent\t1\t%s\t%s\t%s\t%s\n",
		     longv, longv, longv, longv, longv, longv, longv, longv, longv, longv,
		     longv) < 0)
		abort();
	is_int(parse_exact(big, strlen(big), &s), 0, "over-long values parse");
	ok(strlen(s.head.table) == sizeof(s.head.table) - 1 &&
		   strlen(s.head.last_error) == sizeof(s.head.last_error) - 1,
	   "cut to the header's fields");
	ok(s.n_maps == 1 && strlen(s.maps[0].user) == sizeof(s.maps[0].user) - 1 &&
	       strlen(s.maps[0].target) == sizeof(s.maps[0].target) - 1 && s.maps[0].expires == 1,
	   "and to the mapping's");
	ok(s.n_events == 1 && strlen(s.events[0].text) == sizeof(s.events[0].text) - 1,
	   "and to the event's");
	statusfile_finish(&s);
}

/* 10,000 mappings in 2,500 blocks, 32 events: the daemon's scale, in order. */
static void test_many(void)
{
	const size_t n_blocks = 2500, per = 4;
	char **texts = calloc(n_blocks, sizeof(*texts));
	struct statusfile_event events[32];
	struct statusfile s;
	bool same = true;

	if (!texts)
		abort();
	for (size_t i = 0; i < n_blocks; i++) {
		struct statusfile_mapping m[4];
		char user[16], frag[16], ports[16], target[32];
		snprintf(user, sizeof(user), "user%zu", i % 97);
		snprintf(frag, sizeof(frag), "f%zu", i);
		for (size_t k = 0; k < per; k++) {
			snprintf(ports, sizeof(ports), "%zu", 1 + i * per + k);
			snprintf(target, sizeof(target), "10.%zu.%zu.%zu", i / 256, i % 256, k);
			m[k] = dnat(user, frag, k % 2 ? "udp" : "tcp", ports, target, (int64_t)i);
		}
		texts[i] = block(m, per);
	}
	for (size_t i = 0; i < ELEMENTSOF(events); i++)
		events[i] = event((int64_t)i, "expired", "u", "f", "its lease ran out");
	struct statusfile_data d = {
		.head = example_head(),
		.blocks = (const char *const *)texts,
		.n_blocks = n_blocks,
		.events = events,
		.n_events = ELEMENTSOF(events),
	};
	_cleanup_free_ char *text = render(&d);

	is_int(parse_exact(text, strlen(text), &s), 0, "10,000 mappings parse");
	is_int(s.n_maps, n_blocks * per, "all of them");
	for (size_t j = 0; same && j < s.n_maps; j++) {
		size_t i = j / per, k = j % per;
		char ports[24], target[32], frag[24];
		snprintf(ports, sizeof(ports), "%zu", 1 + j);
		snprintf(target, sizeof(target), "10.%zu.%zu.%zu", i / 256, i % 256, k);
		snprintf(frag, sizeof(frag), "f%zu", i);
		same = s.maps[j].seq == j && strcmp(s.maps[j].ports, ports) == 0 &&
		       strcmp(s.maps[j].target, target) == 0 &&
		       strcmp(s.maps[j].fragment, frag) == 0 && s.maps[j].expires == (int64_t)i;
	}
	ok(same, "in the order written, each as written");
	ok(s.n_events == 32 && s.events[31].time == 31, "the 32 events, oldest first");
	statusfile_finish(&s);
	for (size_t i = 0; i < n_blocks; i++)
		free(texts[i]);
	free(texts);
}

/* Every prefix of a file: no crash, no read past it; a status file once its first line is in. */
static void test_truncated(void)
{
	struct statusfile_mapping m[] = { dnat("a", "b", "tcp", "80", "10.0.0.1", 5),
					  masq("a", "b", "10.0.0.0/24", 5) };
	_cleanup_free_ char *b = block(m, 2);
	const char *blocks[] = { b };
	struct statusfile_event ev = event(1, "expired", "a", "c", "its lease ran out");
	struct statusfile_data d = {
	    .head = example_head(), .blocks = blocks, .n_blocks = 1, .events = &ev, .n_events = 1};
	_cleanup_free_ char *text = render(&d);
	size_t len = strlen(text), first = strlen("natwarden-status\t1"), wrong = 0;

	for (size_t n = 0; n <= len; n++) {
		struct statusfile s;
		int r = parse_exact(text, n, &s);
		if ((r == 0) != (n >= first))
			wrong++;
		if (r == 0)
			statusfile_finish(&s);
	}
	is_int(wrong, 0, "each of the %zu prefixes parses exactly when it has the version",
	       len + 1);
}

static struct statusfile_admin admin(const char *table, const char *chain, const char *what,
				    const char *action)
{
	struct statusfile_admin a;

	snprintf(a.table, sizeof(a.table), "%s", table);
	snprintf(a.chain, sizeof(a.chain), "%s", chain);
	snprintf(a.what, sizeof(a.what), "%s", what);
	snprintf(a.action, sizeof(a.action), "%s", action);
	return a;
}

static bool admin_equal(const struct statusfile_admin *a, const struct statusfile_admin *b)
{
	return strcmp(a->table, b->table) == 0 && strcmp(a->chain, b->chain) == 0 &&
	       strcmp(a->what, b->what) == 0 && strcmp(a->action, b->action) == 0;
}

/* The administrator's chains that would drop natwarden's connections, and the check's state. */
static void test_admin(void)
{
	struct statusfile_mapping web[] = { dnat("alice", "web", "tcp", "80", "192.168.1.10", 0) };
	_cleanup_free_ char *b0 = block(web, 1);
	const char *blocks[] = { b0 };
	struct statusfile_admin found[] = {
		admin("inet filter", "forward", "forwards and pinholes",
		      "add \"ct mark and 0x10000000 == 0x10000000 accept\""),
		admin("ip6 early", "fw", "pinholes",
		      "move it to priority filter (0) or later (at priority -20 it runs before "
		      "natwarden marks pinholes)"),
	};
	struct statusfile_data d = { .head = example_head(), .blocks = blocks, .n_blocks = 1,
				     .admin = found, .n_admin = 2 };
	struct statusfile s;

	snprintf(d.head.admin_check, sizeof(d.head.admin_check), "ok");
	_cleanup_free_ char *text = render(&d);
	ok(strstr(text, "\nlast_error\t-\nwan\tppp0\tinterface\tup\t198.51.100.2, 203.0.113.9\n"
			"admin_check\tok\n"
			"admin_drop\tinet filter\tforward\tforwards and pinholes\tadd \"ct mark and "
			"0x10000000 == 0x10000000 accept\"\n"
			"admin_drop\tip6 early\tfw\tpinholes\tmove it to priority filter (0) or later "
			"(at priority -20 it runs before natwarden marks pinholes)\n"
			"dnat\talice\t") != NULL,
	   "admin_check and the admin_drop lines between the header and the mappings");
	is_int(parse_exact(text, strlen(text), &s), 0, "parses");
	ok(head_equal(&s.head, &d.head), "admin_check read back");
	is_int(s.n_admin, 2, "two admin_drop lines");
	ok(s.n_admin == 2 && admin_equal(&s.admin[0], &found[0]) &&
		   admin_equal(&s.admin[1], &found[1]),
	   "each as written");
	is_int(s.n_maps, 1, "the mapping still there");
	statusfile_finish(&s);
	ok(s.admin == NULL && s.n_admin == 0, "finish frees them");

	/* a reason with a TAB and a newline stays one field of one line */
	snprintf(d.head.admin_check, sizeof(d.head.admin_check), "cannot read\tthe\nchains");
	found[0] = admin("inet\tfilter", "for\nward", "forwards", "add\t\"x\"");
	free(text);
	text = render(&d);
	ok(parse_exact(text, strlen(text), &s) == 0 &&
		   strcmp(s.head.admin_check, "cannot read?the?chains") == 0 && s.n_admin == 2 &&
		   strcmp(s.admin[0].table, "inet?filter") == 0 &&
		   strcmp(s.admin[0].chain, "for?ward") == 0 &&
		   strcmp(s.admin[0].action, "add?\"x\"") == 0,
	   "control bytes in admin values are written as '?'");
	statusfile_finish(&s);

	const char bad[] = "natwarden-status\t1\nadmin_check\t-\nadmin_drop\tinet filter\tforward\n"
			   "admin_drop\ta\tb\tc\td\te\n";
	is_int(parse_exact(bad, sizeof(bad) - 1, &s), 0, "parses with malformed admin_drop lines");
	ok(s.n_admin == 0 && s.head.admin_check[0] == '\0',
	   "admin_drop lines with the wrong number of fields are ignored; \"-\" is not checked yet");
	statusfile_finish(&s);
}

int main(void)
{
	test_example();
	test_admin();
	test_pinhole();
	test_format();
	test_hostile_values();
	test_malformed();
	test_many();
	test_truncated();
	return tap_done();
}
