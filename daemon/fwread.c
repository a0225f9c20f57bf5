/* SPDX-License-Identifier: MIT */
#include "fwread.h"

#include <errno.h>
#include <jansson.h>
#include <nftables/libnftables.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "macro.h"

/* One `list` command as JSON input, its JSON output parsed; -EIO with the error text. */
static int list(struct nft_ctx *ctx, json_t *what, json_t **ret, char **ret_error)
{
	json_t *cmd = json_pack("{s:[{s:o}]}", "nftables", "list", what);
	_cleanup_free_ char *text = cmd ? json_dumps(cmd, JSON_COMPACT) : NULL;
	json_t *out;
	int r;

	json_decref(cmd);
	if (!text)
		return -ENOMEM;
	r = nft_run_cmd_from_buffer(ctx, text);
	if (r != 0) {
		const char *e = nft_ctx_get_error_buffer(ctx);
		if (ret_error)
			*ret_error = e ? strndup(e, 300) : strdup("");
		(void)nft_ctx_get_output_buffer(ctx);
		return e && strstr(e, "No such file or directory") ? -ENOENT : -EIO;
	}
	out = json_loads(nft_ctx_get_output_buffer(ctx), 0, NULL);
	if (!out) {
		if (ret_error)
			*ret_error = strdup("libnftables' JSON output could not be parsed");
		return -EBADMSG;
	}
	*ret = out;
	return 0;
}

/* The objects of one kind ("chain", "rule") in a listing, one call each. */
static void for_each(json_t *listing, const char *kind, void (*fn)(json_t *obj, void *data),
		     void *data)
{
	json_t *items = json_object_get(listing, "nftables"), *item;
	size_t i;

	json_array_foreach(items, i, item)
	{
		json_t *obj = json_object_get(item, kind);
		if (json_is_object(obj))
			fn(obj, data);
	}
}

static const char *str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : "";
}

/* ---- one rule --------------------------------------------------------------------------- */

static bool is_ct(json_t *e, const char *key)
{
	return strcmp(str(json_object_get(e, "ct"), "key"), key) == 0;
}

/* Does a ct value (one name, or a list of names: `ct status`, `ct state`) hold `name`? */
static bool holds(json_t *right, const char *name)
{
	json_t *v;
	size_t i;

	if (json_is_string(right))
		return strcmp(json_string_value(right), name) == 0;
	json_array_foreach(right, i, v)
	{
		if (json_is_string(v) && strcmp(json_string_value(v), name) == 0)
			return true;
	}
	return false;
}

/*
 * A `match` expression: a ct mark test, `ct status dnat`, or something else. Returns true when
 * it matches the first packet of every connection natwarden admits (`ct state new`, or a list
 * holding `new`): no condition for what is judged here.
 */
static bool classify_match(json_t *m, struct fwcheck_rule *r)
{
	json_t *left = json_object_get(m, "left"), *right = json_object_get(m, "right");
	json_t *and = json_object_get(left, "&"), *prefix = json_object_get(right, "prefix");
	const char *op = str(m, "op");

	if (strcmp(op, "in") == 0 && is_ct(left, "state") && holds(right, "new"))
		return true;
	r->cond = FWCHECK_CT_OTHER;
	if (strcmp(op, "==") == 0 && is_ct(left, "mark") && json_is_object(prefix)) {
		/* `ct mark and 0xffff0000 == 0x4e570000` is listed as a prefix: 0x4e570000/16 */
		json_int_t len = json_integer_value(json_object_get(prefix, "len"));
		if (len >= 1 && len <= 32) {
			r->cond = FWCHECK_CT_MARK;
			r->mark_mask = (uint32_t)(0xffffffffull << (32 - len));
			r->mark_value =
			    (uint32_t)json_integer_value(json_object_get(prefix, "addr"));
		}
	} else if (strcmp(op, "==") == 0 && json_is_integer(right)) {
		json_t *mask = json_array_get(and, 1);
		if (is_ct(left, "mark")) {
			r->cond = FWCHECK_CT_MARK;
			r->mark_mask = 0xffffffffu;
		} else if (json_array_size(and) == 2 && is_ct(json_array_get(and, 0), "mark") &&
			   json_is_integer(mask)) {
			r->cond = FWCHECK_CT_MARK;
			r->mark_mask = (uint32_t)json_integer_value(mask);
		}
		r->mark_value = (uint32_t)json_integer_value(right);
	} else if (strcmp(op, "in") == 0 && is_ct(left, "status") && holds(right, "dnat")) {
		r->cond = FWCHECK_CT_DNAT;
	}
	return false;
}

static enum fwcheck_verdict verdict_of(const char *key, json_t *value, struct fwcheck_rule *r)
{
	static const struct {
		const char *key;
		enum fwcheck_verdict v;
	} verdicts[] = {
		{ "accept", FWCHECK_ACCEPT },	  { "drop", FWCHECK_DROP },
		{ "reject", FWCHECK_DROP },	  { "jump", FWCHECK_JUMP },
		{ "goto", FWCHECK_GOTO },	  { "return", FWCHECK_RETURN },
		{ "continue", FWCHECK_CONTINUE },
	};

	for (size_t i = 0; i < ELEMENTSOF(verdicts); i++)
		if (strcmp(key, verdicts[i].key) == 0) {
			if (verdicts[i].v == FWCHECK_JUMP || verdicts[i].v == FWCHECK_GOTO)
				snprintf(r->target, sizeof(r->target), "%s", str(value, "target"));
			return verdicts[i].v;
		}
	return FWCHECK_UNKNOWN;
}

/*
 * `ct state vmap { new : drop, ... }`: the verdict for a new connection, as if the rule were
 * `ct state new VERDICT`; a map without `new` does not apply to one (true when it was that).
 */
static bool state_vmap(json_t *vmap, struct fwcheck_rule *r, unsigned *conditions)
{
	json_t *entries = json_object_get(json_object_get(vmap, "data"), "set"), *e;
	const char *key;
	json_t *value;
	size_t i;

	if (!is_ct(json_object_get(vmap, "key"), "state"))
		return false;
	json_array_foreach(entries, i, e)
	{
		if (!holds(json_array_get(e, 0), "new") || !json_is_object(json_array_get(e, 1)))
			continue;
		json_object_foreach(json_array_get(e, 1), key, value)
		{
			r->verdict = verdict_of(key, value, r);
		}
		return true;
	}
	/* no entry for new: as a condition that never holds for ours */
	r->cond = FWCHECK_CT_OTHER;
	(*conditions)++;
	return true;
}

/*
 * A rule's expressions: counters and logs change nothing; each match is a condition (but
 * `ct state new`, which every connection natwarden admits starts with); a verdict is the last
 * word; anything else (a limit, a quota, a set statement...) makes the rule one that may or
 * may not apply.
 */
static struct fwcheck_rule classify_rule(json_t *rule)
{
	struct fwcheck_rule r = { .cond = FWCHECK_ALWAYS, .verdict = FWCHECK_CONTINUE };
	json_t *exprs = json_object_get(rule, "expr"), *e, *value;
	unsigned conditions = 0;
	const char *key;
	size_t i;

	json_array_foreach(exprs, i, e)
	{
		if (json_object_size(e) != 1)
			continue;
		json_object_foreach(e, key, value)
		{
			if (strcmp(key, "counter") == 0 || strcmp(key, "log") == 0)
				continue;
			if (strcmp(key, "match") == 0) {
				if (!classify_match(value, &r))
					conditions++;
				continue;
			}
			if (strcmp(key, "vmap") == 0 && state_vmap(value, &r, &conditions))
				continue;
			r.verdict = verdict_of(key, value, &r);
			if (r.verdict == FWCHECK_UNKNOWN)
				conditions += 2; /* a statement not understood */
		}
	}
	if (conditions > 1)
		r.cond = FWCHECK_CT_OTHER;
	return r;
}

int fwread_parse_rule(const char *json, struct fwcheck_rule *ret)
{
	json_t *rule = json_loads(json, 0, NULL);

	if (!rule)
		return -EBADMSG;
	*ret = classify_rule(rule);
	json_decref(rule);
	return 0;
}

/* ---- the chains ------------------------------------------------------------------------- */

struct reading {
	struct fwread *out;
	const char *own_table;
};

/*
 * A name natwarden can judge and show: at most FWCHECK_NAME_MAX bytes (the kernel allows
 * 255; cut, it would name another chain or none) and no control character (it would reach
 * the journal, --check and the status file as it is).
 */
static bool showable(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > FWCHECK_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return false;
	return true;
}

static bool wanted_base(json_t *c, const struct reading *rd)
{
	enum fwcheck_family f = fwcheck_family_parse(str(c, "family"));

	if (f == FWCHECK_OTHER || !fwcheck_hook_is_forward(str(c, "hook")))
		return false;
	return !(f == FWCHECK_INET && strcmp(str(c, "table"), rd->own_table) == 0);
}

/* A chain to read: base (from `list chains`) or a jump's target; counted when it cannot be. */
static void add_chain(struct fwread *o, enum fwcheck_family family, const char *table,
		      const char *name, json_t *base)
{
	struct fwcheck_chain ch = { .family = family };

	if (o->n_chains >= FWREAD_CHAINS_MAX || !showable(table) || !showable(name)) {
		o->n_unread++; /* not judged, and said so */
		return;
	}
	if (base) {
		ch.base = ch.forward = true;
		ch.priority = (int)json_integer_value(json_object_get(base, "prio"));
		ch.policy_drop = strcmp(str(base, "policy"), "drop") == 0;
	}
	snprintf(ch.table, sizeof(ch.table), "%s", table);
	snprintf(ch.name, sizeof(ch.name), "%s", name);
	o->chains[o->n_chains++] = ch;
}

static void on_base_chain(json_t *c, void *data)
{
	struct reading *rd = data;

	if (wanted_base(c, rd))
		add_chain(rd->out, fwcheck_family_parse(str(c, "family")), str(c, "table"),
			  str(c, "name"), c);
}

/* Chain `ch`'s rules from its table's listing, in their order. -ENOMEM, or 0. */
static int fill_rules(json_t *listing, struct fwcheck_chain *ch)
{
	json_t *items = json_object_get(listing, "nftables"), *item, *obj;
	struct fwcheck_rule *rules = NULL;
	size_t i, n = 0, k = 0;

	for (int pass = 0; pass < 2; pass++) {
		json_array_foreach(items, i, item)
		{
			obj = json_object_get(item, "rule");
			if (json_is_object(obj) && strcmp(str(obj, "chain"), ch->name) == 0) {
				if (pass == 1 && k < n)
					rules[k++] = classify_rule(obj);
				else if (pass == 0)
					n++;
			}
			obj = json_object_get(item, "chain");
			if (pass == 0 && json_is_object(obj) && strcmp(str(obj, "name"), ch->name) == 0)
				ch->rules_read = true; /* it exists: its rules are all below */
		}
		if (pass == 0 && n && !(rules = calloc(n, sizeof(*rules))))
			return -ENOMEM;
	}
	ch->rules = rules;
	ch->n_rules = k;
	return 0;
}

static bool known(const struct fwread *o, const struct fwcheck_chain *from, const char *name)
{
	for (size_t i = 0; i < o->n_chains; i++)
		if (o->chains[i].family == from->family &&
		    strcmp(o->chains[i].table, from->table) == 0 &&
		    strcmp(o->chains[i].name, name) == 0)
			return true;
	return false;
}

/* The regular chains chain `i` goes to unconditionally, added (unread) after the others. */
static void add_targets(struct fwread *o, size_t i)
{
	for (size_t k = 0; k < o->chains[i].n_rules; k++) {
		const struct fwcheck_rule *r = &o->chains[i].rules[k];
		const struct fwcheck_chain *from = &o->chains[i];
		if (r->cond != FWCHECK_ALWAYS ||
		    (r->verdict != FWCHECK_JUMP && r->verdict != FWCHECK_GOTO) ||
		    known(o, from, r->target))
			continue;
		add_chain(o, from->family, from->table, r->target, NULL);
	}
}

static bool same_table(const struct fwcheck_chain *a, const struct fwcheck_chain *b)
{
	return a->family == b->family && strcmp(a->table, b->table) == 0;
}

/*
 * One `list table` for chain `first`'s table, then the rules of every chain of that table the
 * walk needs, the targets of jumps included as they are found: one listing per table, however
 * many of its chains are read (each listing also fetches every element of the table's sets).
 * A table gone since is left unread.
 */
static int read_table(struct nft_ctx *ctx, struct fwread *o, size_t first, char **ret_error)
{
	const struct fwcheck_chain *t = &o->chains[first];
	json_t *what = json_pack("{s:{s:s,s:s}}", "table", "family", fwcheck_family_name(t->family),
				 "name", t->table);
	json_t *listing = NULL;
	int r;

	if (!what)
		return -ENOMEM;
	r = list(ctx, what, &listing, ret_error);
	if (r == -ENOENT) {
		if (ret_error) {
			free(*ret_error);
			*ret_error = NULL;
		}
		return 0;
	}
	for (size_t i = first; r == 0 && i < o->n_chains; i++) {
		if (!same_table(&o->chains[i], &o->chains[first]) || o->chains[i].rules_read)
			continue;
		r = fill_rules(listing, &o->chains[i]);
		if (r == 0)
			add_targets(o, i);
	}
	json_decref(listing);
	return r;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct nft_ctx *reader_context(void)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);

	if (!ctx)
		return NULL;
	nft_ctx_output_set_flags(ctx, NFT_CTX_OUTPUT_JSON);
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	return ctx;
}

int fwread_chains(const char *own_table, struct fwread *ret, char **ret_error)
{
	struct fwread o = { .chains = calloc(FWREAD_CHAINS_MAX, sizeof(struct fwcheck_chain)) };
	struct reading rd = { .out = &o, .own_table = own_table };
	struct nft_ctx *ctx = reader_context();
	uint64_t t0 = now_ms();
	json_t *all = NULL;
	int r = -ENOMEM;

	if (ret_error)
		*ret_error = NULL;
	if (!o.chains || !ctx)
		goto out;
	r = list(ctx, json_pack("{s:n}", "chains"), &all, ret_error);
	if (r < 0)
		goto out;
	for_each(all, "chain", on_base_chain, &rd);
	json_decref(all);
	/* table by table, in the order their first base chain came; each table listed once */
	for (size_t i = 0; i < o.n_chains && r >= 0; i++) {
		bool listed = false;
		for (size_t k = 0; k < i && !listed; k++)
			listed = same_table(&o.chains[k], &o.chains[i]);
		if (listed || o.chains[i].rules_read)
			continue;
		if (now_ms() - t0 > FWREAD_BUDGET_MS)
			break; /* the rest stays unread, and is counted below */
		r = read_table(ctx, &o, i, ret_error);
	}
	for (size_t i = 0; r >= 0 && i < o.n_chains; i++)
		o.n_unread += !o.chains[i].rules_read;
out:
	nft_ctx_free(ctx);
	if (r < 0) {
		fwread_finish(&o);
		return r;
	}
	*ret = o;
	return 0;
}

void fwread_finish(struct fwread *r)
{
	for (size_t i = 0; r->chains && i < r->n_chains; i++)
		free((void *)r->chains[i].rules);
	free(r->chains);
	r->chains = NULL;
	r->n_chains = 0;
}
