/* SPDX-License-Identifier: MIT */
#include "hashmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EMPTY UINT64_MAX

static size_t slot_of(const struct u64map *m, uint64_t key)
{
	/* splitmix64 finaliser: keys are often small and sequential */
	key ^= key >> 30;
	key *= 0xbf58476d1ce4e5b9ull;
	key ^= key >> 27;
	key *= 0x94d049bb133111ebull;
	key ^= key >> 31;
	return (size_t)key & (m->size - 1);
}

void u64map_init(struct u64map *m)
{
	*m = (struct u64map){ 0 };
}

void u64map_finish(struct u64map *m)
{
	free(m->keys);
	free(m->values);
	u64map_init(m);
}

/* Insert or overwrite, without growing: the caller made sure a slot is free. */
static void place(struct u64map *m, uint64_t key, uint64_t value)
{
	size_t i;

	for (i = slot_of(m, key); m->keys[i] != EMPTY; i = (i + 1) & (m->size - 1))
		if (m->keys[i] == key) {
			m->values[i] = value;
			return;
		}
	m->keys[i] = key;
	m->values[i] = value;
	m->n++;
}

static int grow(struct u64map *m)
{
	struct u64map bigger = { .size = m->size ? m->size * 2 : 64 };

	bigger.keys = malloc(bigger.size * sizeof(uint64_t));
	bigger.values = malloc(bigger.size * sizeof(uint64_t));
	if (!bigger.keys || !bigger.values) {
		free(bigger.keys);
		free(bigger.values);
		return -ENOMEM;
	}
	memset(bigger.keys, 0xff, bigger.size * sizeof(uint64_t));
	for (size_t i = 0; i < m->size; i++)
		if (m->keys[i] != EMPTY)
			place(&bigger, m->keys[i], m->values[i]);
	free(m->keys);
	free(m->values);
	m->keys = bigger.keys;
	m->values = bigger.values;
	m->size = bigger.size;
	m->n = bigger.n;
	return 0;
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t value)
{
	if (key == EMPTY)
		return -EINVAL; /* stored, it would count as a member and read as a free slot */
	if ((m->n + 1) * 4 > m->size * 3 && grow(m) < 0)
		return -ENOMEM;
	place(m, key, value);
	return 0;
}

static bool find(const struct u64map *m, uint64_t key, size_t *ret)
{
	if (!m->size)
		return false;
	for (size_t i = slot_of(m, key); m->keys[i] != EMPTY; i = (i + 1) & (m->size - 1))
		if (m->keys[i] == key) {
			*ret = i;
			return true;
		}
	return false;
}

bool u64map_get(const struct u64map *m, uint64_t key, uint64_t *ret_value)
{
	size_t i;

	if (!find(m, key, &i))
		return false;
	if (ret_value)
		*ret_value = m->values[i];
	return true;
}

bool u64map_remove(struct u64map *m, uint64_t key)
{
	size_t i, j, mask = m->size - 1;

	if (!find(m, key, &i))
		return false;
	/* Shift later members of the probe run back, so lookups never stop early. */
	for (j = (i + 1) & mask; m->keys[j] != EMPTY; j = (j + 1) & mask) {
		size_t home = slot_of(m, m->keys[j]);
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->keys[i] = m->keys[j];
			m->values[i] = m->values[j];
			i = j;
		}
	}
	m->keys[i] = EMPTY;
	m->n--;
	return true;
}

void u64map_clear(struct u64map *m)
{
	if (m->size)
		memset(m->keys, 0xff, m->size * sizeof(uint64_t));
	m->n = 0;
}

bool u64map_next(const struct u64map *m, size_t *iter, uint64_t *ret_key, uint64_t *ret_value)
{
	for (; *iter < m->size; (*iter)++)
		if (m->keys[*iter] != EMPTY) {
			*ret_key = m->keys[*iter];
			if (ret_value)
				*ret_value = m->values[*iter];
			(*iter)++;
			return true;
		}
	return false;
}

_Static_assert(sizeof(void *) <= sizeof(uint64_t), "a pointer fits a value");

static uint64_t bits_of(const void *p)
{
	uint64_t v = 0;

	memcpy(&v, &p, sizeof(p));
	return v;
}

static void *pointer_of(uint64_t v)
{
	void *p;

	memcpy(&p, &v, sizeof(p));
	return p;
}

int u64map_put_ptr(struct u64map *m, const void *key, void *value)
{
	return u64map_put(m, bits_of(key), bits_of(value));
}

void *u64map_get_ptr(const struct u64map *m, const void *key)
{
	uint64_t v;

	return u64map_get(m, bits_of(key), &v) ? pointer_of(v) : NULL;
}

bool u64map_remove_ptr(struct u64map *m, const void *key)
{
	return u64map_remove(m, bits_of(key));
}

void *u64map_next_ptr(const struct u64map *m, size_t *iter)
{
	uint64_t k, v;

	return u64map_next(m, iter, &k, &v) ? pointer_of(v) : NULL;
}
