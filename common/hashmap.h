/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A small open-addressing hash map from 64-bit keys to 64-bit values (linear probing,
 * backward-shift deletion). Key UINT64_MAX is reserved: it marks a free slot, so it cannot
 * be stored (u64map_put refuses it) and is never found.
 */
struct u64map {
	uint64_t *keys;
	uint64_t *values;
	size_t size; /* slots, a power of two */
	size_t n;
};

void u64map_init(struct u64map *m);
void u64map_finish(struct u64map *m);
/* Insert or overwrite. 0, -EINVAL for the reserved key, or -ENOMEM. */
int u64map_put(struct u64map *m, uint64_t key, uint64_t value);
bool u64map_get(const struct u64map *m, uint64_t key, uint64_t *ret_value);
bool u64map_remove(struct u64map *m, uint64_t key);
void u64map_clear(struct u64map *m);

/* Iterate: for (size_t i = 0; u64map_next(m, &i, &k, &v);) */
bool u64map_next(const struct u64map *m, size_t *iter, uint64_t *ret_key, uint64_t *ret_value);

/*
 * The same map keyed by an object's address and holding a pointer: for side tables that hang
 * daemon-only data (a timer, a cached line) beside an object of pure code. The pointer is
 * stored bit for bit, never converted through an integer.
 */
int u64map_put_ptr(struct u64map *m, const void *key, void *value);
void *u64map_get_ptr(const struct u64map *m, const void *key);
bool u64map_remove_ptr(struct u64map *m, const void *key);
/* Iterate over the values: for (size_t i = 0; (p = u64map_next_ptr(m, &i));) */
void *u64map_next_ptr(const struct u64map *m, size_t *iter);
