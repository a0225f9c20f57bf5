/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "active.h"
#include "fixtures.h"

struct active_entry *fixture_entry(const char *user, uint32_t uid, const char *name,
				   const char *text, int64_t accepted)
{
	struct active_entry *e = active_entry_new(user, uid, fixture_fragment(name, text));

	if (!e)
		abort();
	e->accepted = accepted;
	return e;
}
