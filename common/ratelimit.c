/* SPDX-License-Identifier: MIT */
#include "ratelimit.h"

#define UNITS_PER_TOKEN 60000 /* ms in a minute */

bool ratelimit_take(struct ratelimit *r, uint32_t per_minute, int64_t now_ms, int64_t *ret_wait_ms)
{
	int64_t capacity = (int64_t)per_minute * UNITS_PER_TOKEN;

	if (!r->started) {
		r->units = capacity;
		r->last_ms = now_ms;
		r->started = true;
	}
	if (now_ms > r->last_ms) {
		int64_t elapsed = now_ms - r->last_ms;
		/* a day refills any bucket: no overflow whatever the gap */
		if (elapsed > 86400000)
			elapsed = 86400000;
		r->units += elapsed * per_minute;
		if (r->units > capacity)
			r->units = capacity;
	}
	r->last_ms = now_ms > r->last_ms ? now_ms : r->last_ms;
	if (r->units >= UNITS_PER_TOKEN) {
		r->units -= UNITS_PER_TOKEN;
		return true;
	}
	if (ret_wait_ms)
		*ret_wait_ms = per_minute ? (UNITS_PER_TOKEN - r->units + per_minute - 1) / per_minute : -1;
	return false;
}
