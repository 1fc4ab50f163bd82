/* A small streaming JSON writer for --json output: one object, written as
 * the program goes, with commas and escaping handled here so no caller ever
 * builds JSON by hand. */
#ifndef VR_JSON_H
#define VR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 16

struct json_writer {
	FILE *out;
	unsigned depth;
	bool need_comma[JSON_MAX_DEPTH];
	bool pretty;
};

void json_init(struct json_writer *w, FILE *out, bool pretty);

/* key may be NULL inside arrays. */
void json_object_begin(struct json_writer *w, const char *key);
void json_object_end(struct json_writer *w);
void json_array_begin(struct json_writer *w, const char *key);
void json_array_end(struct json_writer *w);

void json_string(struct json_writer *w, const char *key, const char *value);  /* NULL -> null */
void json_int(struct json_writer *w, const char *key, long long value);
void json_uint(struct json_writer *w, const char *key, unsigned long long value);
void json_double(struct json_writer *w, const char *key, double value, int decimals);  /* NaN -> null */
void json_bool(struct json_writer *w, const char *key, bool value);
void json_null(struct json_writer *w, const char *key);
/* "0x08000000" and "0483" forms (CONTRACTS.md §4). */
void json_hex32(struct json_writer *w, const char *key, uint32_t value);
void json_hex16(struct json_writer *w, const char *key, uint16_t value);
void json_hex_bytes(struct json_writer *w, const char *key, const uint8_t *bytes, size_t len);

/* Writes the closing newline after the outermost object. */
void json_finish(struct json_writer *w);

/* Escapes s into out (always NUL-terminated); returns the needed length. */
size_t json_escape(const char *s, char *out, size_t cap);

#endif
