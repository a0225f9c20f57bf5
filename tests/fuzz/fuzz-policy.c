/* SPDX-License-Identifier: MIT */
/* libFuzzer target: any bytes as policy.ini. Rejections must say why; nothing may crash. */
#include <stdint.h>
#include <stdlib.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy *p = NULL;
	struct diag_list errs;

	diag_init(&errs);
	if (policy_parse("fuzz.ini", (const char *)data, size, &p, &errs) < 0) {
		if (errs.n == 0)
			abort();
		return 0;
	}
	if (!p->wan.interface[0])
		abort(); /* accepted policies are complete */
	policy_free(p);
	return 0;
}
