/* SPDX-License-Identifier: MIT */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileio.h"
#include "fragment.h"
#include "strutil.h"

enum section_kind {
	SEC_NONE,    /* before the first header */
	SEC_INVALID, /* unknown or malformed: already reported */
	SEC_DAEMON,
	SEC_WAN,
	SEC_RESERVED,
	SEC_SUBMITTER,
};

struct header {
	char name[64];
	unsigned line;
};

struct ctx {
	struct policy *p;
	struct diag_list *errs;
	/* reader */
	const char *pos, *end;
	unsigned line;
	/* sections seen, for duplicates */
	struct header *headers;
	size_t n_headers;
	enum section_kind kind;
	struct submitter *sub;
	unsigned wan_line;
	/* keys seen: "section\0key" -> line, a small linear list (policies are small) */
	struct seen {
		char section[64];
		char key[32];
		unsigned line;
	} *seen;
	size_t n_seen;
	bool oom;
};

#define Q(s) str_quote((char[STR_QUOTE_MAX]){ 0 }, STR_QUOTE_MAX, (s), strlen(s))

/* Whether the bytes of `s` from `from` to `len` are all ASCII letters, digits or in `extra`. */
static bool chars_valid(const char *s, size_t from, size_t len, const char *extra)
{
	for (size_t i = from; i < len; i++)
		if (!char_is_alpha(s[i]) && !char_is_digit(s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

static bool name_valid(const char *s, size_t max)
{
	size_t len = strlen(s);

	return len > 0 && len <= max && (char_is_alpha(s[0]) || s[0] == '_') &&
	       chars_valid(s, 1, len, "_.-");
}

static bool table_name_valid(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len <= NAME_MAX_TABLE && char_is_alpha(s[0]) &&
	       chars_valid(s, 1, len, "_");
}

static bool ifname_valid(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len <= IFNAME_MAX && strcmp(s, ".") != 0 && strcmp(s, "..") != 0 &&
	       chars_valid(s, 0, len, "_.-");
}

static bool path_valid(const char *s)
{
	size_t len = strlen(s);

	if (len < 2 || len > 255 || s[0] != '/' || s[len - 1] == '/' ||
	    !chars_valid(s, 0, len, "_.-/"))
		return false;
	return !strstr(s, "//") && !strstr(s, "/./") && !strstr(s, "/../") &&
	       strcmp(s + len - 2, "/.") != 0 && strcmp(s + len - 3, "/..") != 0;
}

static int parse_bool(const char *v, bool *ret)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
		*ret = true;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_port_list(struct ctx *c, unsigned line, const char *key, const char *v,
			   struct port_list *ret)
{
	const char *cur = v, *end = v + strlen(v), *item;
	struct port_range *items = NULL;
	size_t n = 0, len;

	while (str_next_item(&cur, end, ',', &item, &len)) {
		uint16_t lo, hi;
		int r = parse_port_range(item, len, &lo, &hi);
		if (r < 0 || n >= POLICY_MAX_LIST) {
			char q[STR_QUOTE_MAX];
			if (n >= POLICY_MAX_LIST)
				diag_add(c->errs, line, "%s: more than %d items", key, POLICY_MAX_LIST);
			else
				diag_add(c->errs, line,
					 "%s: %s is not a port or range (use 1-65535 or LOW-HIGH, decimal, no leading zeros)",
					 key, str_quote(q, sizeof(q), item, len));
			free(items);
			return -EINVAL;
		}
		struct port_range *grown = reallocarray(items, n + 1, sizeof(*items));
		if (!grown) {
			free(items);
			c->oom = true;
			return -ENOMEM;
		}
		items = grown;
		items[n++] = (struct port_range){ lo, hi };
	}
	free(ret->items);
	ret->items = items;
	ret->n = n;
	return 0;
}

static int parse_destinations(struct ctx *c, unsigned line, const char *v, struct submitter *s)
{
	char err[256];
	int r = destinations_parse(v, s, err, sizeof(err));

	if (r == -ENOMEM)
		c->oom = true;
	else if (r < 0)
		diag_add(c->errs, line, "%s", err);
	return r;
}

static int parse_protocols(struct ctx *c, unsigned line, const char *v, struct submitter *s)
{
	const char *cur = v, *end = v + strlen(v), *item;
	bool tcp = false, udp = false;
	size_t len;

	while (str_next_item(&cur, end, ',', &item, &len)) {
		if (len == 3 && memcmp(item, "tcp", 3) == 0)
			tcp = true;
		else if (len == 3 && memcmp(item, "udp", 3) == 0)
			udp = true;
		else {
			char q[STR_QUOTE_MAX];
			diag_add(c->errs, line, "protocols: unknown protocol %s (use tcp, udp)",
				 str_quote(q, sizeof(q), item, len));
			return -EINVAL;
		}
	}
	s->tcp = tcp;
	s->udp = udp;
	return 0;
}

static int parse_number(struct ctx *c, unsigned line, const char *key, const char *v,
			uint32_t min, uint32_t max, uint32_t *ret)
{
	if (parse_uint32(v, strlen(v), min, max, ret) < 0) {
		diag_add(c->errs, line, "%s: %s is not a number %u-%u", key, Q(v), min, max);
		return -EINVAL;
	}
	return 0;
}

static int set_name(struct ctx *c, unsigned line, const char *key, const char *v, char *dst,
		    size_t size, bool (*valid)(const char *), const char *what)
{
	if (!valid(v)) {
		diag_add(c->errs, line, "%s: %s is not %s", key, Q(v), what);
		return -EINVAL;
	}
	snprintf(dst, size, "%s", v);
	return 0;
}

static bool user_name_valid(const char *s)
{
	return name_valid(s, NAME_MAX_USER);
}

static int set_path(struct ctx *c, unsigned line, const char *key, const char *v, char **dst)
{
	if (!path_valid(v)) {
		diag_add(c->errs, line,
			 "%s: %s is not a clean absolute path (letters, digits, _ . - /; no . or .. parts)",
			 key, Q(v));
		return -EINVAL;
	}
	char *copy = strdup(v);
	if (!copy) {
		c->oom = true;
		return -ENOMEM;
	}
	free(*dst);
	*dst = copy;
	return 0;
}

static int handle_daemon(struct ctx *c, unsigned line, const char *k, const char *v)
{
	struct policy *p = c->p;

	if (strcmp(k, "user") == 0)
		return set_name(c, line, k, v, p->daemon.user, sizeof(p->daemon.user),
				user_name_valid, "a user name");
	if (strcmp(k, "group") == 0)
		return set_name(c, line, k, v, p->daemon.group, sizeof(p->daemon.group),
				user_name_valid, "a group name");
	if (strcmp(k, "table") == 0)
		return set_name(c, line, k, v, p->daemon.table, sizeof(p->daemon.table),
				table_name_valid, "a table name (a letter, then letters, digits, _; at most 32)");
	if (strcmp(k, "spool") == 0)
		return set_path(c, line, k, v, &p->daemon.spool);
	if (strcmp(k, "state") == 0)
		return set_path(c, line, k, v, &p->daemon.state);
	if (strcmp(k, "runtime") == 0)
		return set_path(c, line, k, v, &p->daemon.runtime);
	if (strcmp(k, "metrics") == 0) {
		size_t n = strlen(v);
		if (n < 6 || strcmp(v + n - 5, ".prom") != 0 || v[n - 6] == '/') {
			diag_add(c->errs, line,
				 "metrics: %s must name a file ending in .prom (node-exporter's textfile collector reads only those)",
				 Q(v));
			return -EINVAL;
		}
		return set_path(c, line, k, v, &p->daemon.metrics);
	}
	diag_add(c->errs, line,
		 "unknown key %s in [daemon] (user, group, table, spool, state, runtime, metrics)", Q(k));
	return -EINVAL;
}

static int handle_wan(struct ctx *c, unsigned line, const char *k, const char *v)
{
	struct policy *p = c->p;

	if (strcmp(k, "interface") == 0)
		return set_name(c, line, k, v, p->wan.interface, sizeof(p->wan.interface),
				ifname_valid, "an interface name (1-15 of letters, digits, _ . -)");
	if (strcmp(k, "address") == 0) {
		if (ipv4_parse(v, strlen(v), &p->wan.address) < 0) {
			diag_add(c->errs, line,
				 "address: %s is not an IPv4 address (four decimal octets 0-255, no leading zeros)",
				 Q(v));
			return -EINVAL;
		}
		p->wan.has_address = true;
		return 0;
	}
	if (strcmp(k, "mark") == 0) {
		const char *why = NULL;
		if (policy_mark_parse(v, &p->wan.mark, &p->wan.mark_mask, &why) < 0) {
			diag_add(c->errs, line, "mark: %s: %s", Q(v), why);
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(k, "hairpin") == 0) {
		if (parse_bool(v, &p->wan.hairpin) < 0) {
			diag_add(c->errs, line, "hairpin: %s is not yes or no", Q(v));
			return -EINVAL;
		}
		return 0;
	}
	diag_add(c->errs, line, "unknown key %s in [wan] (interface, address, hairpin, mark)", Q(k));
	return -EINVAL;
}

static int handle_submitter(struct ctx *c, unsigned line, const char *k, const char *v)
{
	struct submitter *s = c->sub;

	if (strcmp(k, "ports") == 0)
		return parse_port_list(c, line, k, v, &s->ports);
	if (strcmp(k, "protocols") == 0)
		return parse_protocols(c, line, v, s);
	if (strcmp(k, "destinations") == 0)
		return parse_destinations(c, line, v, s);
	if (strcmp(k, "masquerade") == 0) {
		if (parse_bool(v, &s->masquerade) < 0) {
			diag_add(c->errs, line, "masquerade: %s is not yes or no", Q(v));
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(k, "max_fragments") == 0)
		return parse_number(c, line, k, v, 1, 100000, &s->max_fragments);
	if (strcmp(k, "max_rules") == 0)
		return parse_number(c, line, k, v, 1, 1000000, &s->max_rules);
	if (strcmp(k, "max_lease") == 0)
		return parse_number(c, line, k, v, 0, FRAGMENT_MAX_LEASE, &s->max_lease);
	if (strcmp(k, "max_spool_entries") == 0)
		return parse_number(c, line, k, v, 1, 100000, &s->max_spool_entries);
	if (strcmp(k, "max_spool_bytes") == 0)
		return parse_number(c, line, k, v, 65536, 1u << 30, &s->max_spool_bytes);
	if (strcmp(k, "max_submissions_per_minute") == 0)
		return parse_number(c, line, k, v, 1, 1000000, &s->max_submissions_per_minute);
	diag_add(c->errs, line,
		 "unknown key %s in [submitter %s] (ports, protocols, destinations, masquerade, max_fragments, max_rules, max_lease, max_spool_entries, max_spool_bytes, max_submissions_per_minute)",
		 Q(k), s->name);
	return -EINVAL;
}

/* Remember (section, key); report a duplicate. */
static bool first_time(struct ctx *c, const char *section, const char *key, unsigned line)
{
	for (size_t i = 0; i < c->n_seen; i++)
		if (strcmp(c->seen[i].section, section) == 0 && strcmp(c->seen[i].key, key) == 0) {
			diag_add(c->errs, line, "duplicate key %s (first set at line %u)", Q(key),
				 c->seen[i].line);
			return false;
		}
	struct seen *grown = reallocarray(c->seen, c->n_seen + 1, sizeof(*grown));
	if (!grown) {
		c->oom = true;
		return false;
	}
	c->seen = grown;
	struct seen *s = &c->seen[c->n_seen++];
	snprintf(s->section, sizeof(s->section), "%s", section);
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->line = line;
	return true;
}

static int handler(void *user, const char *section, const char *name, const char *value,
		   int lineno)
{
	struct ctx *c = user;
	unsigned line = (unsigned)lineno;

	switch (c->kind) {
	case SEC_NONE:
		diag_add(c->errs, line, "key %s before any [section]", Q(name));
		return 1;
	case SEC_INVALID:
		return 1; /* the header was reported */
	default:
		break;
	}
	if (strlen(name) >= sizeof(c->seen[0].key)) {
		diag_add(c->errs, line, "unknown key %s", Q(name));
		return 1;
	}
	if (!first_time(c, section, name, line))
		return 1;
	switch (c->kind) {
	case SEC_DAEMON:
		handle_daemon(c, line, name, value);
		break;
	case SEC_WAN:
		handle_wan(c, line, name, value);
		break;
	case SEC_RESERVED:
		if (strcmp(name, "ports") == 0)
			parse_port_list(c, line, name, value, &c->p->reserved);
		else
			diag_add(c->errs, line, "unknown key %s in [reserved] (ports)", Q(name));
		break;
	case SEC_SUBMITTER:
		handle_submitter(c, line, name, value);
		break;
	default:
		break;
	}
	return 1; /* our own findings are in errs; keep inih going */
}

static struct submitter *add_submitter(struct ctx *c, const char *name, unsigned line)
{
	struct policy *p = c->p;

	if (p->n_submitters >= POLICY_MAX_SUBMITTERS) {
		diag_add(c->errs, line, "more than %d submitters", POLICY_MAX_SUBMITTERS);
		return NULL;
	}
	struct submitter *grown = reallocarray(p->submitters, p->n_submitters + 1, sizeof(*grown));
	if (!grown) {
		c->oom = true;
		return NULL;
	}
	p->submitters = grown;
	struct submitter *s = &p->submitters[p->n_submitters++];
	*s = (struct submitter){
		.line = line,
		.tcp = true,
		.udp = true,
		.max_fragments = 8,
		.max_rules = 64,
		.max_spool_entries = SUBMITTER_DEFAULT_MAX_SPOOL_ENTRIES,
		.max_spool_bytes = SUBMITTER_DEFAULT_MAX_SPOOL_BYTES,
		.max_submissions_per_minute = SUBMITTER_DEFAULT_MAX_SUBMISSIONS_PER_MINUTE,
	};
	snprintf(s->name, sizeof(s->name), "%.*s", (int)(sizeof(s->name) - 1), name); /* checked: at most 32 */
	return s;
}

static enum section_kind classify_section(struct ctx *c, const char *name, unsigned line)
{
	for (size_t i = 0; i < c->n_headers; i++)
		if (strcmp(c->headers[i].name, name) == 0) {
			diag_add(c->errs, line, "section [%s] appears twice (first at line %u)", name,
				 c->headers[i].line);
			return SEC_INVALID;
		}
	struct header *grown = reallocarray(c->headers, c->n_headers + 1, sizeof(*grown));
	if (!grown) {
		c->oom = true;
		return SEC_INVALID;
	}
	c->headers = grown;
	snprintf(c->headers[c->n_headers].name, sizeof(grown->name), "%s", name);
	c->headers[c->n_headers++].line = line;

	if (strcmp(name, "daemon") == 0)
		return SEC_DAEMON;
	if (strcmp(name, "wan") == 0) {
		c->wan_line = line;
		return SEC_WAN;
	}
	if (strcmp(name, "reserved") == 0)
		return SEC_RESERVED;
	if (strncmp(name, "submitter ", 10) == 0) {
		if (!user_name_valid(name + 10)) {
			diag_add(c->errs, line, "section [%s]: %s is not a user name", name,
				 Q(name + 10));
			return SEC_INVALID;
		}
		for (size_t i = 0; i < c->p->n_submitters; i++)
			if (strcmp(c->p->submitters[i].name, name + 10) == 0) {
				diag_add(c->errs, line, "section [%s] appears twice", name);
				return SEC_INVALID;
			}
		c->sub = add_submitter(c, name + 10, line);
		return c->sub ? SEC_SUBMITTER : SEC_INVALID;
	}
	diag_add(c->errs, line,
		 "unknown section [%s] (daemon, wan, reserved, submitter USER)", name);
	return SEC_INVALID;
}

/* A section header, as inih sees it: '[' after blanks, name up to the first ']'. */
static void track_header(struct ctx *c, const char *s, size_t len, unsigned line)
{
	const char *close;
	char name[64];

	str_trim(&s, &len);
	if (len == 0 || s[0] != '[')
		return;
	close = memchr(s, ']', len);
	if (!close) {
		c->kind = SEC_INVALID; /* inih reports the syntax error */
		return;
	}
	if ((size_t)(close - s - 1) >= sizeof(name)) {
		diag_add(c->errs, line, "section name is too long");
		c->kind = SEC_INVALID;
		return;
	}
	memcpy(name, s + 1, (size_t)(close - s - 1));
	name[close - s - 1] = '\0';
	c->kind = classify_section(c, name, line);
}

/* fgets() for inih over our in-memory copy. Enforces our line cap: never splits a line. */
static char *reader(char *buf, int num, void *stream)
{
	struct ctx *c = stream;
	const char *nl;
	size_t len, full;

	if (c->pos >= c->end)
		return NULL;
	nl = memchr(c->pos, '\n', (size_t)(c->end - c->pos));
	full = nl ? (size_t)(nl - c->pos) + 1 : (size_t)(c->end - c->pos);
	len = full - (nl ? 1 : 0);
	c->line++;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)c->pos[i];
		if ((ch < 0x20 && ch != '\t' && !(ch == '\r' && i == len - 1)) || ch == 0x7f) {
			diag_add(c->errs, c->line, "control byte 0x%02x at column %zu", ch, i + 1);
			len = 0;
			break;
		}
	}
	if (len > POLICY_MAX_LINE || len + 2 > (size_t)num) {
		if (len)
			diag_add(c->errs, c->line, "line is %zu bytes long, the limit is %d", len,
				 POLICY_MAX_LINE);
		len = 0;
	}
	memcpy(buf, c->pos, len);
	buf[len] = '\n';
	buf[len + 1] = '\0';
	track_header(c, buf, len, c->line);
	c->pos += full;
	return buf;
}

static void check_complete(struct ctx *c)
{
	struct policy *p = c->p;

	if (!p->wan.interface[0])
		diag_add(c->errs, c->wan_line, "[wan] interface is required");
	for (size_t i = 0; i < p->n_submitters; i++) {
		const struct submitter *s = &p->submitters[i];
		if (s->ports.n == 0)
			diag_add(c->errs, s->line, "[submitter %s] needs ports", s->name);
		if (s->n_destinations == 0 && s->n_destinations6 == 0)
			diag_add(c->errs, s->line, "[submitter %s] needs destinations", s->name);
		if (!s->tcp && !s->udp)
			diag_add(c->errs, s->line, "[submitter %s] needs at least one protocol", s->name);
	}
	if (strcmp(p->daemon.spool, p->daemon.state) == 0 ||
	    strcmp(p->daemon.spool, p->daemon.runtime) == 0 ||
	    strcmp(p->daemon.state, p->daemon.runtime) == 0)
		diag_add(c->errs, 0, "[daemon] spool, state and runtime must be different directories");
}

static int set_defaults(struct policy *p, const char *path)
{
	snprintf(p->daemon.user, sizeof(p->daemon.user), "natwarden");
	snprintf(p->daemon.group, sizeof(p->daemon.group), "natwarden-submit");
	snprintf(p->daemon.table, sizeof(p->daemon.table), "natwarden");
	p->wan.mark = p->wan.mark_mask = POLICY_DEFAULT_MARK;
	p->path = strdup(path);
	p->daemon.spool = strdup("/var/spool/natwarden");
	p->daemon.state = strdup("/var/lib/natwarden");
	p->daemon.runtime = strdup("/run/natwarden");
	if (!p->path || !p->daemon.spool || !p->daemon.state || !p->daemon.runtime)
		return -ENOMEM;
	return 0;
}

int policy_parse(const char *path, const char *text, size_t len, struct policy **ret,
		 struct diag_list *errs)
{
	_cleanup_policy_ struct policy *p = calloc(1, sizeof(*p));
	struct ctx c = { .errs = errs, .pos = text, .end = text + len };
	size_t before = errs->n + errs->dropped;
	int r;

	if (!p || set_defaults(p, path) < 0)
		return -ENOMEM;
	c.p = p;
	if (len > POLICY_MAX_BYTES) {
		diag_add(errs, 0, "file is %zu bytes, the limit is %d", len, POLICY_MAX_BYTES);
		return -EINVAL;
	}
	/* Debian's inih takes its settings from globals. Never let it split a long line. */
	ini_use_stack = false;
	ini_allow_realloc = false;
	ini_max_line = POLICY_MAX_LINE + 3;
	ini_initial_alloc = POLICY_MAX_LINE + 3;
	ini_allow_multiline = false;
	ini_allow_no_value = false;
	ini_stop_on_first_error = false;
	ini_allow_inline_comments = true;

	r = ini_parse_stream(reader, &c, handler, &c);
	free(c.headers);
	free(c.seen);
	if (r == -2 || c.oom)
		return -ENOMEM;
	if (r > 0 && !diag_has(errs, (unsigned)r, ""))
		diag_add(errs, (unsigned)r, "syntax error: expected [section], key = value or a comment");
	check_complete(&c);
	if (r != 0 || errs->n + errs->dropped > before) {
		diag_sort(errs);
		return -EINVAL;
	}
	*ret = steal_pointer(&p);
	return 0;
}

int policy_load(const char *path, struct policy **ret, struct diag_list *errs)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *text = NULL;
	struct stat st;
	size_t len;
	int r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		diag_add(errs, 0, "cannot open: %s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		diag_add(errs, 0, "cannot stat: %s", strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		diag_add(errs, 0, "not a regular file");
		return -EPERM;
	}
	if (st.st_uid != 0) {
		diag_add(errs, 0, "owned by uid %u: the policy must be owned by root", st.st_uid);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		diag_add(errs, 0, "mode %04o is writable by group or others: chmod go-w it",
			 st.st_mode & 07777);
		return -EPERM;
	}
	r = read_fd_capped(fd, POLICY_MAX_BYTES, &text, &len);
	if (r == -EFBIG) {
		diag_add(errs, 0, "file is larger than %d bytes", POLICY_MAX_BYTES);
		return -EINVAL;
	}
	if (r < 0) {
		diag_add(errs, 0, "cannot read: %s", strerror(-r));
		return r;
	}
	return policy_parse(path, text, len, ret, errs);
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_submitters; i++) {
		free(p->submitters[i].ports.items);
		free(p->submitters[i].destinations);
		free(p->submitters[i].destinations6);
	}
	free(p->submitters);
	free(p->reserved.items);
	free(p->daemon.spool);
	free(p->daemon.state);
	free(p->daemon.runtime);
	free(p->daemon.metrics);
	free(p->path);
	free(p);
}

const struct submitter *policy_find_submitter(const struct policy *p, const char *user)
{
	for (size_t i = 0; i < p->n_submitters; i++)
		if (strcmp(p->submitters[i].name, user) == 0)
			return &p->submitters[i];
	return NULL;
}
