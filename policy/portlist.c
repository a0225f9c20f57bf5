/* SPDX-License-Identifier: MIT */
/* Lists of ports and port ranges, as policy.ini writes them ("80, 443, 30000-30100"). */
#include <stdio.h>

#include "policy.h"

bool port_list_contains(const struct port_list *l, uint16_t lo, uint16_t hi)
{
	/* Walk the range, hopping over each allowed interval that covers the next port. */
	uint32_t next = lo;

	while (next <= hi) {
		bool covered = false;
		for (size_t i = 0; i < l->n; i++)
			if (l->items[i].lo <= next && next <= l->items[i].hi) {
				next = (uint32_t)l->items[i].hi + 1;
				covered = true;
				break;
			}
		if (!covered)
			return false;
	}
	return true;
}

uint16_t port_list_first_hit(const struct port_list *l, uint16_t lo, uint16_t hi)
{
	uint32_t best = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].lo <= hi && lo <= l->items[i].hi) {
			uint32_t first = MAX(lo, l->items[i].lo);
			if (!best || first < best)
				best = first;
		}
	return (uint16_t)best;
}

void port_list_format(const struct port_list *l, char *buf, size_t size)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < l->n && o < size; i++) {
		int w;
		if (l->items[i].lo == l->items[i].hi)
			w = snprintf(buf + o, size - o, "%s%u", i ? ", " : "", l->items[i].lo);
		else
			w = snprintf(buf + o, size - o, "%s%u-%u", i ? ", " : "", l->items[i].lo,
				     l->items[i].hi);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}
