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
