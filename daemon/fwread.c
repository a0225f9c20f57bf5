/* SPDX-License-Identifier: MIT */
#include "fwread.h"

#include <errno.h>
#include <jansson.h>
#include <nftables/libnftables.h>
#include <stdlib.h>
#include <string.h>

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

static bool holds_dnat(json_t *right)
{
	json_t *v;
	size_t i;

	if (json_is_string(right))
		return strcmp(json_string_value(right), "dnat") == 0;
	json_array_foreach(right, i, v) if (json_is_string(v) &&
					    strcmp(json_string_value(v), "dnat") == 0) return true;
	return false;
}

/* A `match` expression: a ct mark test, `ct status dnat`, or something else. */
static void classify_match(json_t *m, struct fwcheck_rule *r)
{
	json_t *left = json_object_get(m, "left"), *right = json_object_get(m, "right");
	json_t *and = json_object_get(left, "&");
	const char *op = str(m, "op");

	r->cond = FWCHECK_CT_OTHER;
	if (strcmp(op, "==") == 0 && json_is_integer(right)) {
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
	} else if (strcmp(op, "in") == 0 && is_ct(left, "status") && holds_dnat(right)) {
		r->cond = FWCHECK_CT_DNAT;
	}
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
 * A rule's expressions: counters and logs change nothing; each match is a condition; a verdict
 * is the last word; anything else (a limit, a quota, a set statement...) makes the rule one
 * that may or may not apply.
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
				conditions++;
				classify_match(value, &r);
				continue;
			}
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

static bool wanted_base(json_t *c, const struct reading *rd)
{
	enum fwcheck_family f = fwcheck_family_parse(str(c, "family"));

	if (f == FWCHECK_OTHER || !fwcheck_hook_is_forward(str(c, "hook")))
		return false;
	return !(f == FWCHECK_INET && strcmp(str(c, "table"), rd->own_table) == 0);
}

static void add_chain(struct reading *rd, json_t *c, bool base)
{
	struct fwread *o = rd->out;
	struct fwcheck_chain ch = {
		.family = fwcheck_family_parse(str(c, "family")),
		.base = base,
		.forward = base,
		.priority = (int)json_integer_value(json_object_get(c, "prio")),
		.policy_drop = strcmp(str(c, "policy"), "drop") == 0,
	};

	if (o->n_chains >= FWREAD_CHAINS_MAX)
		return; /* left out: what is not read is not judged */
	snprintf(ch.table, sizeof(ch.table), "%s", str(c, "table"));
	snprintf(ch.name, sizeof(ch.name), "%s", str(c, "name"));
	o->chains[o->n_chains++] = ch;
}

static void on_base_chain(json_t *c, void *data)
{
	struct reading *rd = data;

	if (wanted_base(c, rd))
		add_chain(rd, c, true);
}

struct collect {
	struct fwcheck_chain *ch;
	bool failed; /* out of memory */
};

static void on_rule(json_t *rule, void *data)
{
	struct collect *c = data;
	struct fwcheck_rule *grown;

	if (c->failed)
		return;
	grown =
	    reallocarray((struct fwcheck_rule *)c->ch->rules, c->ch->n_rules + 1, sizeof(*grown));
	if (!grown) {
		c->failed = true;
		return;
	}
	grown[c->ch->n_rules++] = classify_rule(rule);
	c->ch->rules = grown;
}

/* `list chain` of one chain: its rules. A chain gone since is left unread. */
static int read_rules(struct nft_ctx *ctx, struct fwcheck_chain *ch, char **ret_error)
{
	json_t *what =
	    json_pack("{s:{s:s,s:s,s:s}}", "chain", "family", fwcheck_family_name(ch->family),
		      "table", ch->table, "name", ch->name);
	json_t *out = NULL;
	int r;

	if (!what)
		return -ENOMEM;
	r = list(ctx, what, &out, ret_error);
	if (r == -ENOENT) {
		if (ret_error) {
			free(*ret_error);
			*ret_error = NULL;
		}
		return 0;
	}
	if (r < 0)
		return r;
	struct collect c = { .ch = ch };
	for_each(out, "rule", on_rule, &c);
	json_decref(out);
	if (c.failed)
		return -ENOMEM;
	ch->rules_read = true;
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
		struct fwcheck_chain *from = &o->chains[i];
		if (r->cond != FWCHECK_ALWAYS ||
		    (r->verdict != FWCHECK_JUMP && r->verdict != FWCHECK_GOTO) ||
		    known(o, from, r->target))
			continue;
		if (o->n_chains >= FWREAD_CHAINS_MAX)
			return;
		struct fwcheck_chain ch = { .family = from->family };
		snprintf(ch.table, sizeof(ch.table), "%s", from->table);
		snprintf(ch.name, sizeof(ch.name), "%s", r->target);
		o->chains[o->n_chains++] = ch;
	}
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
	/* the list grows as jumps lead to regular chains; each is read once */
	for (size_t i = 0; i < o.n_chains && r >= 0; i++) {
		r = read_rules(ctx, &o.chains[i], ret_error);
		if (r >= 0)
			add_targets(&o, i);
	}
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
