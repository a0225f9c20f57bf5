/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: any bytes as the stream of `natwarden apply k8s-`. What parses holds at
 * most 256 fragments with valid, distinct, prefixed names, each body inside the input and
 * followed by its newline; written out again it parses to the same fragments; and no proper
 * prefix of it parses (a stream cut short is never taken for a smaller set). What is refused
 * says why, on a line of the input, and returns no fragment.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"

#define PREFIX "k8s-"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct batch b, again;

static void check_items(const char *in, size_t size)
{
	unsigned last_line = 1;

	if (b.n > BATCH_MAX_FRAGMENTS || size > BATCH_MAX_BYTES || b.err[0] || b.err_line)
		abort();
	for (size_t i = 0; i < b.n; i++) {
		const struct batch_item *it = &b.items[i];
		size_t name_len = strnlen(it->name, sizeof(it->name));
		if (name_len == sizeof(it->name) || !fragment_name_valid(it->name, name_len) ||
		    strncmp(it->name, PREFIX, strlen(PREFIX)) != 0)
			abort();
		if (it->len < 1 || it->len > FRAGMENT_MAX_BYTES || it->text < in ||
		    it->len >= (size_t)(in + size - it->text) || it->text[it->len] != '\n')
			abort(); /* the body, and its newline, inside the input */
		if (it->line <= last_line)
			abort();
		last_line = it->line;
		for (size_t j = 0; j < i; j++)
			if (strcmp(b.items[j].name, it->name) == 0)
				abort();
	}
}

/* The fragments written out as a stream again parse to the same fragments. */
static void check_round_trip(void)
{
	size_t cap = 64, len = 0;
	char *out;

	for (size_t i = 0; i < b.n; i++)
		cap += 100 + b.items[i].len;
	out = malloc(cap);
	if (!out)
		abort();
	len += (size_t)snprintf(out, cap, BATCH_MAGIC "\n");
	for (size_t i = 0; i < b.n; i++) {
		len += (size_t)snprintf(out + len, cap - len, "fragment %s %zu\n", b.items[i].name,
					b.items[i].len);
		memcpy(out + len, b.items[i].text, b.items[i].len);
		len += b.items[i].len;
		out[len++] = '\n';
	}
	len += (size_t)snprintf(out + len, cap - len, "end\n");
	if (batch_parse(PREFIX, out, len, &again) != 0 || again.n != b.n)
		abort();
	for (size_t i = 0; i < b.n; i++)
		if (strcmp(again.items[i].name, b.items[i].name) != 0 ||
		    again.items[i].len != b.items[i].len ||
		    memcmp(again.items[i].text, b.items[i].text, b.items[i].len) != 0)
			abort();
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;

	if (batch_parse(PREFIX, in, size, &b) < 0) {
		/* refused: no fragment, a reason, on a line that exists or for the whole input */
		if (b.n != 0 || !b.err[0] || b.err_line > size + 1)
			abort();
		return 0;
	}
	check_items(in, size);
	check_round_trip();
	/* cut short anywhere, it is refused: here at its last byte, its middle, and one more place
	 */
	size_t cuts[] = { size - 1, size / 2, size > 0 ? (size_t)data[0] * 257 % size : 0 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
		if (cuts[i] < size && batch_parse(PREFIX, in, cuts[i], &again) == 0)
			abort();
	return 0;
}
