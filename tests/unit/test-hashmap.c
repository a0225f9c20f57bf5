/* SPDX-License-Identifier: MIT */
/* The u64map: open addressing, linear probing, backward-shift deletion. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "tap.h"

/* The slot a key lands in when it is alone in a map of 64 slots (the first size). */
static size_t home_of(uint64_t key)
{
	struct u64map m;
	size_t slot = SIZE_MAX;

	u64map_init(&m);
	if (u64map_put(&m, key, 0) < 0 || m.size != 64)
		abort();
	for (size_t i = 0; i < m.size; i++)
		if (m.keys[i] == key)
			slot = i;
	u64map_finish(&m);
	return slot;
}

/* `n` keys whose home is `slot` in a 64-slot map: they collide. */
static void colliding(size_t slot, uint64_t *keys, size_t n, uint64_t start)
{
	size_t found = 0;

	for (uint64_t k = start; found < n; k++)
		if (home_of(k) == slot)
			keys[found++] = k;
}

/* Is every key of `keys` there with value key + 1, and is the count right? */
static bool all_there(const struct u64map *m, const uint64_t *keys, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v;
		if (!u64map_get(m, keys[i], &v) || v != keys[i] + 1)
			return false;
	}
	return m->n == n;
}

static void test_basics(void)
{
	struct u64map m;
	uint64_t v = 7, k;
	size_t it = 0;

	u64map_init(&m);
	ok(!u64map_get(&m, 1, &v) && v == 7, "an empty map has nothing, and writes no value");
	ok(!u64map_remove(&m, 1), "removes nothing");
	ok(!u64map_next(&m, &it, &k, &v), "iterates over nothing");
	u64map_clear(&m);
	is_int(m.n, 0, "clears without a table");

	is_int(u64map_put(&m, 5, 50), 0, "put");
	ok(u64map_get(&m, 5, &v) && v == 50, "get");
	ok(u64map_get(&m, 5, NULL), "get without the value");
	is_int(u64map_put(&m, 5, 51), 0, "overwrite");
	ok(u64map_get(&m, 5, &v) && v == 51 && m.n == 1, "the new value, still one key");
	is_int(u64map_put(&m, 0, 1), 0, "key 0 is a key like any");
	is_int(u64map_put(&m, UINT64_MAX - 1, 2), 0, "so is UINT64_MAX - 1");
	ok(u64map_get(&m, 0, &v) && v == 1 && u64map_get(&m, UINT64_MAX - 1, &v) && v == 2 &&
		   m.n == 3,
	   "both there");
	ok(u64map_remove(&m, 5) && !u64map_get(&m, 5, NULL) && m.n == 2, "remove");
	ok(!u64map_remove(&m, 5), "a second remove finds nothing");

	/* the reserved key marks a free slot: it is never stored nor found */
	is_int(u64map_put(&m, UINT64_MAX, 9), -EINVAL, "the reserved key is refused");
	ok(m.n == 2 && !u64map_get(&m, UINT64_MAX, NULL) && !u64map_remove(&m, UINT64_MAX),
	   "and nothing changed: not counted, not found, not removable");

	u64map_clear(&m);
	ok(m.n == 0 && !u64map_get(&m, 0, NULL) && m.size == 64, "clear keeps the table, empty");
	ok(u64map_put(&m, 3, 4) == 0 && u64map_get(&m, 3, &v) && v == 4, "and it works after");
	u64map_finish(&m);
	ok(m.size == 0 && m.n == 0 && m.keys == NULL, "finish frees it");
	u64map_finish(&m);
	ok(m.size == 0, "twice is fine");
}

static void test_iteration(void)
{
	struct u64map m;
	uint64_t k, v;
	size_t seen = 0, bad = 0;
	static unsigned char hit[1000];

	u64map_init(&m);
	for (uint64_t i = 0; i < 1000; i++)
		if (u64map_put(&m, i * 7919, i) < 0)
			abort();
	for (uint64_t i = 0; i < 1000; i += 3)
		u64map_remove(&m, i * 7919);
	for (size_t it = 0; u64map_next(&m, &it, &k, &v);) {
		seen++;
		if (k != v * 7919 || v % 3 == 0 || hit[v]++)
			bad++;
	}
	is_int(seen, m.n, "iteration visits as many keys as there are");
	is_int(seen, 666, "the 666 not removed");
	is_int(bad, 0, "each once, with its own value, none removed");
	size_t it = 0;
	ok(u64map_next(&m, &it, &k, NULL), "the value may be left out");
	u64map_finish(&m);
}

/*
 * Backward-shift deletion: removing a key from a probe run moves later members back so that
 * no lookup stops early, also across the table's end, and leaves alone the members that
 * are already at or before their home.
 */
static void test_backward_shift(void)
{
	uint64_t run[5], other[2], keys[7];
	struct u64map m;
	bool good = true;

	/* five keys whose home is slot 61: they fill 61, 62, 63, 0, 1 (across the end) */
	colliding(61, run, 5, 1);
	/* two whose home is slot 0: pushed to 2 and 3 by the run */
	colliding(0, other, 2, 1);
	memcpy(keys, run, sizeof(run));
	memcpy(keys + 5, other, sizeof(other));

	/* remove each key in turn from a fresh map: every other key must still be found */
	for (size_t victim = 0; victim < 7; victim++) {
		u64map_init(&m);
		for (size_t i = 0; i < 7; i++)
			if (u64map_put(&m, keys[i], keys[i] + 1) < 0)
				abort();
		if (m.keys[61] != run[0] || m.keys[0] != run[3] || m.keys[1] != run[4] ||
		    m.keys[2] != other[0] || m.keys[3] != other[1])
			good = false;
		u64map_remove(&m, keys[victim]);
		uint64_t rest[6];
		size_t n = 0;
		for (size_t i = 0; i < 7; i++)
			if (i != victim)
				rest[n++] = keys[i];
		if (!all_there(&m, rest, n) || u64map_get(&m, keys[victim], NULL))
			good = false;
		/* no hole before a key's slot within its run: each is at most 6 from home */
		for (size_t s = 0; s < 64; s++)
			if (m.keys[s] != UINT64_MAX) {
				size_t home =
				    m.keys[s] == other[0] || m.keys[s] == other[1] ? 0 : 61;
				for (size_t j = home; j != s; j = (j + 1) & 63)
					if (m.keys[j] == UINT64_MAX)
						good = false;
			}
		u64map_finish(&m);
	}
	ok(good, "removing any one of a run that wraps around the end keeps the rest findable");

	/* remove them all, in an order that empties the middle first */
	u64map_init(&m);
	for (size_t i = 0; i < 7; i++)
		if (u64map_put(&m, keys[i], keys[i] + 1) < 0)
			abort();
	static const size_t order[] = { 3, 0, 6, 4, 1, 5, 2 };
	good = true;
	for (size_t o = 0; o < 7; o++) {
		uint64_t rest[7];
		size_t n = 0;
		if (!u64map_remove(&m, keys[order[o]]))
			good = false;
		for (size_t p = o + 1; p < 7; p++)
			rest[n++] = keys[order[p]];
		if (!all_there(&m, rest, n))
			good = false;
	}
	ok(good && m.n == 0, "removing them all one by one, each step consistent");
	size_t used = 0;
	for (size_t s = 0; s < m.size; s++)
		used += m.keys[s] != UINT64_MAX;
	is_int(used, 0, "and every slot is free again");
	u64map_finish(&m);
}

/* Random puts and removes on a few hundred keys, against a plain array. */
static void test_against_model(void)
{
	enum { KEYS = 300, OPS = 200000 };
	static uint64_t model[KEYS]; /* 0: absent, else value */
	struct u64map m;
	uint64_t x = 0x2545f4914f6cdd1dull;
	size_t bad = 0, checks = 0;

	u64map_init(&m);
	for (size_t op = 0; op < OPS; op++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t k = (size_t)(x % KEYS);
		if ((x >> 32) % 3) {
			if (u64map_put(&m, k, op + 1) < 0)
				abort();
			model[k] = op + 1;
		} else {
			if (u64map_remove(&m, k) != (model[k] != 0))
				bad++;
			model[k] = 0;
		}
		if (op % 997 == 0) {
			size_t n = 0;
			checks++;
			for (size_t i = 0; i < KEYS; i++) {
				uint64_t v = 0;
				bool there = u64map_get(&m, i, &v);
				n += model[i] != 0;
				if (there != (model[i] != 0) || (there && v != model[i]))
					bad++;
			}
			if (n != m.n)
				bad++;
		}
	}
	is_int(bad, 0, "%d random puts and removes agree with a plain array (%zu full checks)",
	       OPS, checks);
	u64map_finish(&m);
}

static void test_growth(void)
{
	enum { N = 100000 };
	uint64_t *keys = malloc(N * sizeof(*keys));
	struct u64map m;
	bool pow2;
	size_t wrong = 0;

	if (!keys)
		abort();
	u64map_init(&m);
	for (size_t i = 0; i < N; i++) {
		/* half sequential, half spread over the whole range */
		keys[i] = i % 2 ? i : i * 0x9e3779b97f4a7c15ull;
		if (u64map_put(&m, keys[i], keys[i] + 1) < 0)
			abort();
	}
	ok(all_there(&m, keys, N), "100,000 keys, every one found with its value");
	pow2 = m.size && (m.size & (m.size - 1)) == 0;
	ok(pow2 && m.n * 4 <= m.size * 3, "the table is a power of two, at most 3/4 full (%zu)",
	   m.size);
	for (size_t i = 0; i < N; i += 2)
		u64map_remove(&m, keys[i]);
	for (size_t i = 0; i < N; i++)
		if (u64map_get(&m, keys[i], NULL) != (i % 2 == 1))
			wrong++;
	ok(wrong == 0 && m.n == N / 2, "half removed: exactly the other half is left");
	for (size_t i = 0; i < N; i += 2)
		if (u64map_put(&m, keys[i], keys[i] + 1) < 0)
			abort();
	ok(all_there(&m, keys, N), "and put back");
	u64map_finish(&m);
	free(keys);
}

/* The pointer side table: objects' addresses map to pointers, which come back unchanged. */
static void test_pointers(void)
{
	static int objects[64];
	static char values[64];
	struct u64map m;
	size_t seen = 0, wrong = 0;
	char *v;

	u64map_init(&m);
	for (size_t i = 0; i < 64; i++)
		if (u64map_put_ptr(&m, &objects[i], &values[i]) < 0)
			abort();
	for (size_t i = 0; i < 64; i++)
		if (u64map_get_ptr(&m, &objects[i]) != &values[i])
			wrong++;
	ok(wrong == 0 && m.n == 64, "64 addresses, each gives back its own pointer");
	ok(u64map_get_ptr(&m, &values[0]) == NULL, "an address never put gives NULL");
	ok(u64map_remove_ptr(&m, &objects[3]) && !u64map_get_ptr(&m, &objects[3]) &&
		   !u64map_remove_ptr(&m, &objects[3]),
	   "removed once, then gone");
	for (size_t i = 0; (v = u64map_next_ptr(&m, &i));) {
		if (v < values || v >= values + 64 || v == &values[3])
			wrong++;
		seen++;
	}
	ok(seen == 63 && wrong == 0, "iteration visits the 63 values left (%zu)", seen);
	u64map_finish(&m);
}

int main(void)
{
	test_pointers();
	test_basics();
	test_iteration();
	test_backward_shift();
	test_against_model();
	test_growth();
	return tap_done();
}
