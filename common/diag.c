/* SPDX-License-Identifier: MIT */
#include "diag.h"

#include <stdarg.h>
#include <string.h>

void diag_init(struct diag_list *l)
{
	l->n = 0;
	l->dropped = 0;
}

void diag_add(struct diag_list *l, unsigned line, const char *fmt, ...)
{
	va_list ap;

	if (l->n >= DIAG_MAX) {
		l->dropped++;
		return;
	}
	l->items[l->n].line = line;
	va_start(ap, fmt);
	vsnprintf(l->items[l->n].text, DIAG_TEXT, fmt, ap);
	va_end(ap);
	l->n++;
}

void diag_copy(struct diag_list *dst, const struct diag_list *src)
{
	if (dst == src)
		return;
	dst->n = src->n;
	dst->dropped = src->dropped;
	memcpy(dst->items, src->items, src->n * sizeof(src->items[0]));
}

void diag_sort(struct diag_list *l)
{
	/* Insertion sort: at most DIAG_MAX items, and it keeps equal lines in order. */
	for (size_t i = 1; i < l->n; i++) {
		struct diag d = l->items[i];
		size_t j = i;
		while (j > 0 && l->items[j - 1].line > d.line) {
			l->items[j] = l->items[j - 1];
			j--;
		}
		l->items[j] = d;
	}
}

bool diag_has(const struct diag_list *l, unsigned line, const char *needle)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].line == line && strstr(l->items[i].text, needle))
			return true;
	return false;
}

char *diag_format(const struct diag *d, const char *prefix, char *buf, size_t size)
{
	if (d->line)
		snprintf(buf, size, "%s:%u: %s", prefix, d->line, d->text);
	else
		snprintf(buf, size, "%s: %s", prefix, d->text);
	return buf;
}

void diag_print(const struct diag_list *l, const char *prefix, FILE *out)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->items[i].line)
			fprintf(out, "%s:%u: %s\n", prefix, l->items[i].line, l->items[i].text);
		else
			fprintf(out, "%s: %s\n", prefix, l->items[i].text);
	}
	if (l->dropped)
		fprintf(out, "%s: ... and %zu more\n", prefix, l->dropped);
}
