/* SPDX-License-Identifier: MIT */
#include "fixtures.h"
#include "state.h"

const char *fixture_state_counts(int dir, bool ends)
{
	struct state_record *recs = NULL;
	struct diag_list errs;
	size_t n = 0;
	static char buf[256];
	int o;

	diag_init(&errs);
	if (state_load(dir, &recs, &n, &errs) < 0)
		return "error";
	o = snprintf(buf, sizeof(buf), "%zu records, %zu notes", n, errs.n);
	if (ends)
		snprintf(buf + o, sizeof(buf) - (size_t)o, ", first %s, last %s",
			 n ? recs[0].frag->name : "-", n ? recs[n - 1].frag->name : "-");
	state_records_free(recs, n);
	return buf;
}
