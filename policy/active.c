/* SPDX-License-Identifier: MIT */
#include "active.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define HASH_BUCKETS 4096

struct user_total {
	char user[NAME_MAX_USER + 1];
	size_t fragments, rules;
};

struct active_set {
	struct active_entry **entries;
	size_t n, allocated;
	struct active_entry *buckets[HASH_BUCKETS];
	/* claims[0] for tcp, claims[1] for udp, indexed by port */
	const struct active_entry **claims[2];
	struct user_total *users;
	size_t n_users;
	size_t rules;
};

static unsigned hash_key(const char *user, const char *name)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const char *s = user; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h = (h ^ 0xffu) * 16777619u;
	for (const char *s = name; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h % HASH_BUCKETS;
}

static int proto_slot(uint8_t proto)
{
	return proto == PROTO_TCP ? 0 : proto == PROTO_UDP ? 1 : -1;
}

struct active_set *active_set_new(void)
{
	struct active_set *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	for (int i = 0; i < 2; i++) {
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		a->claims[i] = calloc(65536, sizeof(*a->claims[i]));
		if (!a->claims[i]) {
			active_set_free(a);
			return NULL;
		}
	}
	return a;
}

void active_set_free(struct active_set *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		active_entry_free(a->entries[i]);
	free(a->entries);
	free(a->claims[0]);
	free(a->claims[1]);
	free(a->users);
	free(a);
}

struct active_entry *active_entry_new(const char *user, uint32_t uid, struct fragment *frag)
{
	struct active_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	snprintf(e->user, sizeof(e->user), "%s", user);
	e->uid = uid;
	e->frag = frag;
	return e;
}

void active_entry_free(struct active_entry *e)
{
	if (!e)
		return;
	fragment_free(e->frag);
	free(e);
}

static struct user_total *user_total(const struct active_set *a, const char *user)
{
	for (size_t i = 0; i < a->n_users; i++)
		if (strcmp(a->users[i].user, user) == 0)
			return &a->users[i];
	return NULL;
}

static void set_claims(struct active_set *a, const struct active_entry *e,
		       const struct active_entry *owner)
{
	for (size_t i = 0; i < e->frag->n_stmts; i++) {
		const struct fragment_stmt *s = &e->frag->stmts[i];
		int slot = proto_slot(s->proto);
		if (s->kind != STMT_DNAT || slot < 0)
			continue;
		for (uint32_t p = s->port_lo; p <= s->port_hi; p++)
			a->claims[slot][p] = owner;
	}
}

static bool claims_free(const struct active_set *a, const struct active_entry *e)
{
	for (size_t i = 0; i < e->frag->n_stmts; i++) {
		const struct fragment_stmt *s = &e->frag->stmts[i];
		int slot = proto_slot(s->proto);
		if (s->kind != STMT_DNAT)
			continue;
		if (slot < 0)
			return false;
		for (uint32_t p = s->port_lo; p <= s->port_hi; p++)
			if (a->claims[slot][p])
				return false;
	}
	return true;
}

const struct active_entry *active_set_pinhole_owner(const struct active_set *a,
						    const struct in6 *addr, uint8_t proto,
						    uint16_t lo, uint16_t hi,
						    const struct active_entry *except,
						    uint16_t *ret_port)
{
	for (size_t i = 0; i < active_set_size(a); i++) {
		const struct active_entry *e = active_set_at(a, i);
		if (e == except)
			continue;
		for (size_t k = 0; k < e->frag->n_stmts; k++) {
			const struct fragment_stmt *s = &e->frag->stmts[k];
			if (s->kind != STMT_PINHOLE || s->proto != proto || s->port_lo > hi ||
			    lo > s->port_hi || memcmp(&s->to_addr6, addr, sizeof(*addr)) != 0)
				continue;
			if (ret_port)
				*ret_port = MAX(lo, s->port_lo);
			return e;
		}
	}
	return NULL;
}

int active_set_insert(struct active_set *a, struct active_entry *e)
{
	struct user_total *u;

	if (active_set_find(a, e->user, e->frag->name) || !claims_free(a, e))
		return -EEXIST;
	if (a->n == a->allocated) {
		size_t n = a->allocated ? a->allocated * 2 : 64;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		struct active_entry **grown = reallocarray(a->entries, n, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		a->entries = grown;
		a->allocated = n;
	}
	u = user_total(a, e->user);
	if (!u) {
		struct user_total *grown = reallocarray(a->users, a->n_users + 1, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		a->users = grown;
		u = &a->users[a->n_users++];
		*u = (struct user_total){ 0 };
		snprintf(u->user, sizeof(u->user), "%s", e->user);
	}
	u->fragments++;
	u->rules += e->frag->n_stmts;
	a->rules += e->frag->n_stmts;
	e->index = a->n;
	a->entries[a->n++] = e;
	unsigned h = hash_key(e->user, e->frag->name);
	e->hash_next = a->buckets[h];
	a->buckets[h] = e;
	set_claims(a, e, e);
	return 0;
}

void active_set_remove(struct active_set *a, struct active_entry *e)
{
	struct user_total *u = user_total(a, e->user);
	unsigned h = hash_key(e->user, e->frag->name);

	for (struct active_entry **pp = &a->buckets[h]; *pp; pp = &(*pp)->hash_next)
		if (*pp == e) {
			*pp = e->hash_next;
			break;
		}
	a->entries[e->index] = a->entries[--a->n];
	a->entries[e->index]->index = e->index;
	set_claims(a, e, NULL);
	if (u) {
		u->fragments--;
		u->rules -= e->frag->n_stmts;
		if (u->fragments == 0)
			*u = a->users[--a->n_users];
	}
	a->rules -= e->frag->n_stmts;
	e->hash_next = NULL;
}

struct active_entry *active_set_find(const struct active_set *a, const char *user, const char *name)
{
	for (struct active_entry *e = a->buckets[hash_key(user, name)]; e; e = e->hash_next)
		if (strcmp(e->user, user) == 0 && strcmp(e->frag->name, name) == 0)
			return e;
	return NULL;
}

const struct active_entry *active_set_claim(const struct active_set *a, uint8_t proto, uint16_t port)
{
	int slot = proto_slot(proto);

	return slot < 0 ? NULL : a->claims[slot][port];
}

size_t active_set_size(const struct active_set *a)
{
	return a->n;
}

struct active_entry *active_set_at(const struct active_set *a, size_t i)
{
	return i < a->n ? a->entries[i] : NULL;
}

static int compare_entries(const void *x, const void *y)
{
	const struct active_entry *a = *(const struct active_entry *const *)x;
	const struct active_entry *b = *(const struct active_entry *const *)y;
	int r = strcmp(a->user, b->user);

	return r ? r : strcmp(a->frag->name, b->frag->name);
}

/* The entries in the order of `cmp`, NULL-terminated; NULL when out of memory. */
static struct active_entry **sorted_by(const struct active_set *a,
				       int (*cmp)(const void *, const void *))
{
	/* NOLINTBEGIN(bugprone-sizeof-expression): an array of pointers */
	struct active_entry **v = calloc(a->n + 1, sizeof(*v));

	if (!v)
		return NULL;
	if (a->n)
		memcpy(v, a->entries, a->n * sizeof(*v));
	qsort(v, a->n, sizeof(*v), cmp);
	/* NOLINTEND(bugprone-sizeof-expression) */
	return v;
}

struct active_entry **active_set_sorted(const struct active_set *a)
{
	return sorted_by(a, compare_entries);
}

/* Oldest acceptance first; ties (one batch) by uid, then name: the order start-up uses too. */
static int compare_acceptance(const void *x, const void *y)
{
	const struct active_entry *a = *(const struct active_entry *const *)x;
	const struct active_entry *b = *(const struct active_entry *const *)y;

	if (a->accepted != b->accepted)
		return a->accepted < b->accepted ? -1 : 1;
	if (a->uid != b->uid)
		return a->uid < b->uid ? -1 : 1;
	return strcmp(a->frag->name, b->frag->name);
}

struct active_entry **active_set_by_acceptance(const struct active_set *a)
{
	return sorted_by(a, compare_acceptance);
}

size_t active_set_user_fragments(const struct active_set *a, const char *user)
{
	const struct user_total *u = user_total(a, user);

	return u ? u->fragments : 0;
}

size_t active_set_user_rules(const struct active_set *a, const char *user)
{
	const struct user_total *u = user_total(a, user);

	return u ? u->rules : 0;
}

size_t active_set_users(const struct active_set *a)
{
	return a->n_users;
}

size_t active_set_rules(const struct active_set *a)
{
	return a->rules;
}
