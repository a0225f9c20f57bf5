/* SPDX-License-Identifier: MIT */
#include "pinset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void pinset_init(struct pinset *s)
{
	*s = (struct pinset){ 0 };
}

void pinset_finish(struct pinset *s)
{
	free(s->items);
	pinset_init(s);
}

void pinset_clear(struct pinset *s)
{
	s->n = 0;
}

static int key_cmp(const struct pin_key *a, const struct pin_key *b)
{
	int c = memcmp(&a->addr, &b->addr, sizeof(a->addr));

	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return a->hi < b->hi ? -1 : a->hi > b->hi;
}

/* The place of `k`: its index when present (*found), else where it would go. */
static size_t find(const struct pinset *s, const struct pin_key *k, bool *found)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_cmp(&s->items[mid], k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < s->n && key_cmp(&s->items[lo], k) == 0;
	return lo;
}

int pinset_add(struct pinset *s, const struct pin_key *k)
{
	bool found;
	size_t at = find(s, k, &found);

	if (found)
		return 0;
	if (s->n == s->allocated) {
		size_t want = s->allocated ? s->allocated * 2 : 16;
		struct pin_key *grown = reallocarray(s->items, want, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		s->items = grown;
		s->allocated = want;
	}
	memmove(&s->items[at + 1], &s->items[at], (s->n - at) * sizeof(*s->items));
	s->items[at] = *k;
	s->n++;
	return 0;
}

void pinset_remove(struct pinset *s, const struct pin_key *k)
{
	bool found;
	size_t at = find(s, k, &found);

	if (!found)
		return;
	memmove(&s->items[at], &s->items[at + 1], (s->n - at - 1) * sizeof(*s->items));
	s->n--;
}

bool pinset_has(const struct pinset *s, const struct pin_key *k)
{
	bool found;

	find(s, k, &found);
	return found;
}

int pinset_copy(struct pinset *dst, const struct pinset *src, const struct pinset *also)
{
	pinset_clear(dst);
	for (size_t i = 0; i < src->n; i++)
		if (pinset_add(dst, &src->items[i]) < 0)
			return -ENOMEM;
	for (size_t i = 0; also && i < also->n; i++)
		if (pinset_add(dst, &also->items[i]) < 0)
			return -ENOMEM;
	return 0;
}
