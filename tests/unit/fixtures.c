/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "fragment.h"

FILE *text_open(struct text *t)
{
	*t = (struct text){ 0 };
	t->out = open_memstream(&t->s, &t->len);
	if (!t->out)
		abort();
	return t->out;
}

void text_close(struct text *t)
{
	if (fclose(t->out) != 0)
		abort();
}

char *fixture_copy(const char *s, size_t len)
{
	char *copy = malloc(len ? len : 1);

	if (!copy)
		abort();
	memcpy(copy, s, len);
	return copy;
}

struct fragment *fixture_fragment(const char *name, const char *text)
{
	struct fragment *f = NULL;
	struct diag_list errs;

	diag_init(&errs);
	if (fragment_parse(name, text, strlen(text), &f, &errs) < 0) {
		diag_print(&errs, "#   fixture", stdout);
		abort();
	}
	return f;
}
