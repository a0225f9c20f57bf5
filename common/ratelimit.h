/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/*
 * A token bucket: at most `per_minute` events at once, refilled evenly at `per_minute` a
 * minute. Pure: the caller passes the time (a monotonic clock, in ms). A clock that goes
 * backwards refills nothing.
 */
struct ratelimit {
	int64_t units; /* tokens * 60000: one token per minute is one unit per millisecond */
	int64_t last_ms;
	bool started;
};

/*
 * Take one token. Returns true when there was one; otherwise false and, in *ret_wait_ms
 * (may be NULL), how long until the next one.
 */
bool ratelimit_take(struct ratelimit *r, uint32_t per_minute, int64_t now_ms, int64_t *ret_wait_ms);
