/* json.h - the little JSON the uplink needs without a JSON library: escaping
 * strings for the status file and the enrolment request, and reading one
 * top-level member of a flat reply object. Thread-safe, no state. */
#ifndef CSU_JSON_H
#define CSU_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* Write `s` as a quoted JSON string into out (capped). False when it does
 * not fit (out then holds "" quoted). */
bool csu_json_quote(const char *s, char *out, size_t cap);

/* Find the top-level member `key` of the JSON object in `json` and copy its
 * value into out: a string is unescaped (\uXXXX only below 0x80), a number
 * is copied as written. False when absent, of another type, malformed or
 * longer than cap - 1. */
bool csu_json_get(const char *json, const char *key, char *out, size_t cap);

#endif
