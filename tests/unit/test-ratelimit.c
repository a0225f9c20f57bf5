/* SPDX-License-Identifier: MIT */
/* The token bucket behind max_submissions_per_minute. */
#include "ratelimit.h"
#include "tap.h"

static int take_n(struct ratelimit *r, uint32_t per_minute, int64_t now, int n)
{
	int taken = 0;

	for (int i = 0; i < n; i++)
		taken += ratelimit_take(r, per_minute, now, NULL);
	return taken;
}

int main(void)
{
	struct ratelimit r = { 0 };
	int64_t wait = 0;

	is_int(take_n(&r, 600, 1000, 1000), 600, "a full bucket gives exactly per_minute at once");
	ok(!ratelimit_take(&r, 600, 1000, &wait), "then none");
	is_int(wait, 100, "the next one in 100 ms (600 a minute)");
	is_int(take_n(&r, 600, 1099, 5), 0, "99 ms later: still none");
	is_int(take_n(&r, 600, 1100, 5), 1, "100 ms later: one");
	is_int(take_n(&r, 600, 2100, 100), 10, "a second later: ten");
	is_int(take_n(&r, 600, 61100 + 2100, 1000), 600, "after a minute the bucket is full, not fuller");

	struct ratelimit back = { 0 };
	is_int(take_n(&back, 60, 50000, 60), 60, "60 a minute: 60 at once");
	is_int(take_n(&back, 60, 1000, 5), 0, "a clock that goes backwards refills nothing");
	is_int(take_n(&back, 60, 50999, 5), 0, "nor does getting back to where it was");
	is_int(take_n(&back, 60, 51000, 5), 1, "one second after the last real time: one");

	struct ratelimit one = { 0 };
	is_int(take_n(&one, 1, 0, 3), 1, "1 a minute: one");
	ok(!ratelimit_take(&one, 1, 0, &wait) && wait == 60000, "the next in a minute");

	struct ratelimit big = { 0 };
	is_int(take_n(&big, 1000000, 0, 1000000), 1000000, "a million a minute: the bucket holds them");
	is_int(take_n(&big, 1000000, (int64_t)1 << 40, 1), 1, "a huge gap does not overflow");
	return tap_done();
}
