/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * `s` as a JSON string on stdout: quote and backslash escaped, control bytes as \u00XX,
 * well-formed UTF-8 as it is, and any other byte as U+FFFD, so the output is valid JSON
 * whatever the input.
 */
void json_string(const char *s);
