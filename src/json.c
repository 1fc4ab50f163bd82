#include "json.h"

#include <math.h>
#include <string.h>

void json_init(struct json_writer *w, FILE *out, bool pretty)
{
	memset(w, 0, sizeof *w);
	w->out = out;
	w->pretty = pretty;
}

static void indent(struct json_writer *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->out);
	for (unsigned i = 0; i < w->depth; i++)
		fputs("  ", w->out);
}

static void write_escaped(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				fputc(*p, out);
		}
	}
	fputc('"', out);
}

/* Comma, indentation and key: everything a value needs in front of it. */
static void begin_value(struct json_writer *w, const char *key)
{
	if (w->depth > 0) {
		if (w->need_comma[w->depth])
			fputc(',', w->out);
		w->need_comma[w->depth] = true;
		indent(w);
	}
	if (key) {
		write_escaped(w->out, key);
		fputs(w->pretty ? ": " : ":", w->out);
	}
}

static void open_container(struct json_writer *w, const char *key, char bracket)
{
	begin_value(w, key);
	fputc(bracket, w->out);
	if (w->depth + 1 < JSON_MAX_DEPTH)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void close_container(struct json_writer *w, char bracket)
{
	bool had_items = w->need_comma[w->depth];
	if (w->depth > 0)
		w->depth--;
	if (had_items)
		indent(w);
	fputc(bracket, w->out);
}

void json_object_begin(struct json_writer *w, const char *key) { open_container(w, key, '{'); }
void json_object_end(struct json_writer *w) { close_container(w, '}'); }
void json_array_begin(struct json_writer *w, const char *key) { open_container(w, key, '['); }
void json_array_end(struct json_writer *w) { close_container(w, ']'); }

void json_string(struct json_writer *w, const char *key, const char *value)
{
	begin_value(w, key);
	if (value)
		write_escaped(w->out, value);
	else
		fputs("null", w->out);
}

void json_int(struct json_writer *w, const char *key, long long value)
{
	begin_value(w, key);
	fprintf(w->out, "%lld", value);
}

void json_uint(struct json_writer *w, const char *key, unsigned long long value)
{
	begin_value(w, key);
	fprintf(w->out, "%llu", value);
}

void json_double(struct json_writer *w, const char *key, double value, int decimals)
{
	begin_value(w, key);
	if (isnan(value) || isinf(value))
		fputs("null", w->out);
	else
		fprintf(w->out, "%.*f", decimals, value);
}

void json_bool(struct json_writer *w, const char *key, bool value)
{
	begin_value(w, key);
	fputs(value ? "true" : "false", w->out);
}

void json_null(struct json_writer *w, const char *key)
{
	begin_value(w, key);
	fputs("null", w->out);
}

void json_hex32(struct json_writer *w, const char *key, uint32_t value)
{
	char text[16];
	snprintf(text, sizeof text, "0x%08X", (unsigned)value);
	json_string(w, key, text);
}

void json_hex16(struct json_writer *w, const char *key, uint16_t value)
{
	char text[8];
	snprintf(text, sizeof text, "%04x", (unsigned)value);
	json_string(w, key, text);
}

void json_hex_bytes(struct json_writer *w, const char *key, const uint8_t *bytes, size_t len)
{
	char text[129];
	size_t n = len > 64 ? 64 : len;
	for (size_t i = 0; i < n; i++)
		snprintf(text + 2 * i, 3, "%02x", bytes[i]);
	text[2 * n] = '\0';
	json_string(w, key, text);
}

void json_finish(struct json_writer *w)
{
	fputc('\n', w->out);
	fflush(w->out);
}

size_t json_escape(const char *s, char *out, size_t cap)
{
	size_t n = 0;
	size_t written = 0;
	bool full = false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char buf[8];
		const char *piece = buf;
		switch (*p) {
		case '"': piece = "\\\""; break;
		case '\\': piece = "\\\\"; break;
		case '\n': piece = "\\n"; break;
		case '\r': piece = "\\r"; break;
		case '\t': piece = "\\t"; break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				snprintf(buf, sizeof buf, "\\u%04x", *p);
			else {
				buf[0] = (char)*p;
				buf[1] = '\0';
			}
		}
		size_t len = strlen(piece);
		/* Stop at the first piece that does not fit, so an escape is
		 * never cut in half and nothing is skipped in the middle. */
		if (!full && written + len < cap) {
			memcpy(out + written, piece, len);
			written += len;
		} else {
			full = true;
		}
		n += len;
	}
	if (cap)
		out[written] = '\0';
	return n;
}
