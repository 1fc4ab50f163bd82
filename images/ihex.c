#include "ihex.h"

#include <string.h>

#define REC_DATA 0x00
#define REC_EOF 0x01
#define REC_EXT_SEGMENT 0x02
#define REC_START_SEGMENT 0x03
#define REC_EXT_LINEAR 0x04
#define REC_START_LINEAR 0x05
#define MAX_RECORD_BYTES (5 + 255)   /* count, address (2), type, data, checksum */

struct hex_state {
	const char *name;
	unsigned line_no;
	uint32_t base;          /* from record 02 (segment << 4) or 04 (upper << 16) */
	bool seen_eof;
	size_t data_records;
};

struct hex_record {
	uint8_t count;
	uint16_t offset;
	uint8_t type;
	uint8_t bytes[MAX_RECORD_BYTES];
};

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Decodes ":LLAAAATT<data>CC" (line without its end) into rec. */
static vr_err decode_record(const char *line, size_t len, const struct hex_state *st,
			    struct hex_record *rec, struct vr_error *err)
{
	if (line[0] != ':')
		return vr_fail(err, VR_ERR_INPUT, "%s line %u does not start with ':' (found 0x%02X): "
			       "not an Intel HEX record", st->name, st->line_no, (unsigned char)line[0]);
	size_t digits = len - 1;
	for (size_t i = 1; i < len; i++)
		if (hex_digit(line[i]) < 0)
			return vr_fail(err, VR_ERR_INPUT, "%s line %u: character %zu (0x%02X) is not a hex digit",
				       st->name, st->line_no, i + 1, (unsigned char)line[i]);
	if (digits < 2)
		return vr_fail(err, VR_ERR_INPUT, "%s line %u is cut short: no byte count (truncated file?)",
			       st->name, st->line_no);
	unsigned count = (unsigned)(hex_digit(line[1]) << 4 | hex_digit(line[2]));
	size_t needed = 2 * (5 + (size_t)count);
	if (digits < needed)
		return vr_fail(err, VR_ERR_INPUT, "%s line %u is cut short: its byte count says %u data "
			       "bytes, the line holds %zu hex digits of the %zu needed (truncated file?)",
			       st->name, st->line_no, count, digits, needed);
	if (digits > needed)
		return vr_fail(err, VR_ERR_INPUT, "%s line %u has %zu hex digits more than its byte count "
			       "(%u) allows", st->name, st->line_no, digits - needed, count);
	uint8_t sum = 0;
	for (size_t i = 0; i < needed / 2; i++) {
		uint8_t b = (uint8_t)(hex_digit(line[1 + 2 * i]) << 4 | hex_digit(line[2 + 2 * i]));
		rec->bytes[i] = b;
		sum = (uint8_t)(sum + b);
	}
	if (sum != 0) {
		uint8_t stored = rec->bytes[4 + count];
		uint8_t expected = (uint8_t)(stored - sum);
		return vr_fail(err, VR_ERR_INPUT, "%s line %u: checksum 0x%02X is wrong (the record's bytes "
			       "need 0x%02X): the file is damaged", st->name, st->line_no, stored, expected);
	}
	rec->count = (uint8_t)count;
	rec->offset = (uint16_t)(rec->bytes[1] << 8 | rec->bytes[2]);
	rec->type = rec->bytes[3];
	return VR_OK;
}

static uint32_t payload_u16(const struct hex_record *rec)
{
	return (uint32_t)rec->bytes[4] << 8 | rec->bytes[5];
}

static uint32_t payload_u32(const struct hex_record *rec)
{
	return (uint32_t)rec->bytes[4] << 24 | (uint32_t)rec->bytes[5] << 16 |
	       (uint32_t)rec->bytes[6] << 8 | rec->bytes[7];
}

static vr_err need_count(const struct hex_record *rec, unsigned count, const struct hex_state *st,
			 const char *what, struct vr_error *err)
{
	if (rec->count == count)
		return VR_OK;
	return vr_fail(err, VR_ERR_INPUT, "%s line %u: %s record with %u data bytes (it has %u)",
		       st->name, st->line_no, what, rec->count, count);
}

static vr_err apply_data(const struct hex_record *rec, struct hex_state *st, struct image *img,
			 struct vr_error *err)
{
	if (rec->count == 0)
		return VR_OK;
	/* Addresses wrap inside the 64 KiB window in the specification; no
	 * tool we know writes such records, so a wrap is refused, not guessed. */
	if ((uint32_t)rec->offset + rec->count > 0x10000u)
		return vr_fail(err, VR_ERR_INPUT, "%s line %u: record at offset 0x%04X with %u bytes "
			       "crosses a 64 KiB boundary", st->name, st->line_no, rec->offset, rec->count);
	uint32_t addr = st->base + rec->offset;
	if ((uint64_t)st->base + rec->offset + rec->count > 0x100000000ull)
		return vr_fail(err, VR_ERR_INPUT, "%s line %u: record runs past the 4 GiB address space",
			       st->name, st->line_no);
	st->data_records++;
	vr_err rc = image_add(img, addr, rec->bytes + 4, rec->count, err);
	if (rc != VR_OK && err != NULL)
		vr_wrap(err, "%s line %u", st->name, st->line_no);
	return rc;
}

static vr_err set_start(bool *has, uint32_t *slot, uint32_t value, const struct hex_state *st,
			struct vr_error *err)
{
	if (*has && *slot != value)
		return vr_fail(err, VR_ERR_INPUT, "%s line %u: a second, different start address "
			       "(0x%08X after 0x%08X)", st->name, st->line_no, value, *slot);
	*has = true;
	*slot = value;
	return VR_OK;
}

static vr_err apply_record(const struct hex_record *rec, struct hex_state *st, struct image *img,
			   struct vr_error *err)
{
	vr_err rc = VR_OK;
	switch (rec->type) {
	case REC_DATA:
		return apply_data(rec, st, img, err);
	case REC_EOF:
		rc = need_count(rec, 0, st, "end-of-file", err);
		st->seen_eof = rc == VR_OK;
		return rc;
	case REC_EXT_SEGMENT:
		rc = need_count(rec, 2, st, "extended segment address", err);
		if (rc == VR_OK)
			st->base = payload_u16(rec) << 4;
		return rc;
	case REC_EXT_LINEAR:
		rc = need_count(rec, 2, st, "extended linear address", err);
		if (rc == VR_OK)
			st->base = payload_u16(rec) << 16;
		return rc;
	case REC_START_SEGMENT:
		rc = need_count(rec, 4, st, "start segment address", err);
		if (rc == VR_OK)
			rc = set_start(&img->has_start_segment, &img->start_segment, payload_u32(rec), st, err);
		return rc;
	case REC_START_LINEAR:
		rc = need_count(rec, 4, st, "start linear address", err);
		if (rc == VR_OK)
			rc = set_start(&img->has_start_linear, &img->start_linear, payload_u32(rec), st, err);
		return rc;
	default:
		return vr_fail(err, VR_ERR_INPUT, "%s line %u: unknown record type 0x%02X (Intel HEX has "
			       "types 00-05)", st->name, st->line_no, rec->type);
	}
}

/* Length of the line at text[pos] and where the next one starts: a line
 * ends at LF, CR LF, or a lone CR. */
static size_t line_length(const char *text, size_t len, size_t pos, size_t *next)
{
	size_t end = pos;
	while (end < len && text[end] != '\n' && text[end] != '\r')
		end++;
	*next = end;
	if (end < len)
		*next = (text[end] == '\r' && end + 1 < len && text[end + 1] == '\n') ? end + 2 : end + 1;
	return end - pos;
}

static vr_err parse_line(const char *line, size_t len, struct hex_state *st, struct image *img,
			 struct vr_error *err)
{
	while (len > 0 && is_blank(line[0])) {
		line++;
		len--;
	}
	while (len > 0 && is_blank(line[len - 1]))
		len--;
	if (len == 0)
		return VR_OK;
	if (st->seen_eof)
		return vr_fail(err, VR_ERR_INPUT, "%s line %u: data after the end-of-file record "
			       "(two files joined, or a damaged file)", st->name, st->line_no);
	struct hex_record rec;
	vr_err rc = decode_record(line, len, st, &rec, err);
	if (rc != VR_OK)
		return rc;
	return apply_record(&rec, st, img, err);
}

vr_err ihex_parse(const char *text, size_t len, const char *name, struct image *img,
		  struct vr_error *err)
{
	struct hex_state st = {.name = name ? name : "Intel HEX"};
	size_t pos = 0;
	while (pos < len) {
		size_t next;
		size_t line_len = line_length(text, len, pos, &next);
		st.line_no++;
		vr_err rc = parse_line(text + pos, line_len, &st, img, err);
		if (rc != VR_OK)
			return rc;
		pos = next;
	}
	if (!st.seen_eof)
		return vr_fail(err, VR_ERR_INPUT, "%s ends without an end-of-file record (:00000001FF): "
			       "the file is truncated", st.name);
	if (st.data_records == 0)
		return vr_fail(err, VR_ERR_INPUT, "%s holds no data records: nothing to write", st.name);
	img->format = IMAGE_FORMAT_HEX;
	return VR_OK;
}
