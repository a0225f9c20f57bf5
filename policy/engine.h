/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "active.h"
#include "diag.h"
#include "fragment.h"
#include "policy.h"
#include "router.h"

enum verdict {
	VERDICT_ACCEPTED,
	VERDICT_WITHDRAWN,
	VERDICT_REJECTED,
};

struct judgement {
	enum verdict verdict;
	bool replaces;	/* an active fragment of that user and name exists */
	bool identical; /* ... and it is the same: only its lease is renewed */
	struct diag_list reasons; /* every reason for a rejection, by line */
};

/*
 * Judge `f`, submitted by `user`, against the policy, the router's own addresses (`router`,
 * as the kernel reports them; NULL when unknown, e.g. in the client's offline check) and the
 * active fragments. Pure: no I/O, no logging. The user's own active fragment of the same
 * name is being replaced, so its claims and quota do not count against the new version.
 */
void engine_judge(const struct policy *p, const struct router_view *router, const char *user,
		  const struct active_set *a, const struct fragment *f, struct judgement *ret);

const char *verdict_name(enum verdict v);
