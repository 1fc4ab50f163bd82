/* Intel HEX edge cases: every record type, extended segment and linear
 * addresses, start records, checksums, EOF handling, overlaps, line ends,
 * 1- and 255-byte records, each refusal with its message. Records are
 * built here with their checksums computed, so a test states the bytes it
 * means rather than opaque strings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "images/ihex.h"
#include "images/image.h"

struct text {
	char buf[16384];
	size_t len;
};

/* Appends ":LLAAAATT<data>CC" and the line end. */
static void rec(struct text *t, unsigned type, unsigned offset, const uint8_t *data, unsigned count,
		const char *eol)
{
	uint8_t sum = (uint8_t)(count + (offset >> 8) + offset + type);
	t->len += (size_t)snprintf(t->buf + t->len, sizeof t->buf - t->len, ":%02X%04X%02X", count,
				   offset & 0xFFFF, type);
	for (unsigned i = 0; i < count; i++) {
		sum = (uint8_t)(sum + data[i]);
		t->len += (size_t)snprintf(t->buf + t->len, sizeof t->buf - t->len, "%02X", data[i]);
	}
	t->len += (size_t)snprintf(t->buf + t->len, sizeof t->buf - t->len, "%02X%s",
				   (uint8_t)(0x100 - sum) & 0xFF, eol);
}

static void rec_u16(struct text *t, unsigned type, unsigned value)
{
	uint8_t b[2] = {(uint8_t)(value >> 8), (uint8_t)value};
	rec(t, type, 0, b, 2, "\n");
}

static void rec_u32(struct text *t, unsigned type, uint32_t value)
{
	uint8_t b[4] = {(uint8_t)(value >> 24), (uint8_t)(value >> 16), (uint8_t)(value >> 8), (uint8_t)value};
	rec(t, type, 0, b, 4, "\n");
}

static void eof(struct text *t)
{
	rec(t, 1, 0, NULL, 0, "\n");
}

static vr_err parse(const struct text *t, struct image *img, struct vr_error *err)
{
	image_init(img);
	vr_error_clear(err);
	return image_load_buffer((const uint8_t *)t->buf, t->len, "fw.hex", IMAGE_FORMAT_AUTO, 0, img, err);
}

static void expect_fail(const struct text *t, const char *needle)
{
	struct image img;
	struct vr_error err;
	assert_int_equal(parse(t, &img, &err), VR_ERR_INPUT);
	if (strstr(err.msg, needle) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, needle);
	assert_true(image_empty(&img));
	image_free(&img);
}

static void data_with_linear_address(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t d[16];
	for (int i = 0; i < 16; i++)
		d[i] = (uint8_t)(0xA0 + i);
	rec_u16(&t, 4, 0x0800);
	rec(&t, 0, 0x0000, d, 16, "\n");
	rec(&t, 0, 0x0010, d, 16, "\n");
	rec_u32(&t, 5, 0x08000189u);
	eof(&t);
	struct image img;
	struct vr_error err;
	assert_int_equal(parse(&t, &img, &err), VR_OK);
	assert_int_equal(img.format, IMAGE_FORMAT_HEX);
	assert_int_equal(img.n_segs, 1);   /* contiguous records merge */
	assert_int_equal(image_lowest(&img), 0x08000000u);
	assert_int_equal(image_end(&img), 0x08000020u);
	assert_true(img.has_start_linear);
	assert_int_equal(img.start_linear, 0x08000189u);
	uint8_t v;
	assert_true(image_byte_at(&img, 0x08000011u, &v));
	assert_int_equal(v, 0xA1);
	image_free(&img);
}

static void extended_segment_and_start_segment(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t d[4] = {1, 2, 3, 4};
	rec_u16(&t, 2, 0x1000);              /* base 0x10000 */
	rec(&t, 0, 0x0100, d, 4, "\n");
	rec_u32(&t, 3, 0x12345678u);         /* CS:IP */
	rec_u16(&t, 2, 0x0000);
	rec(&t, 0, 0x0000, d, 4, "\n");
	eof(&t);
	struct image img;
	struct vr_error err;
	assert_int_equal(parse(&t, &img, &err), VR_OK);
	assert_int_equal(img.n_segs, 2);     /* a gap stays a gap */
	assert_int_equal(img.segs[0].addr, 0);
	assert_int_equal(img.segs[1].addr, 0x10100u);
	assert_true(img.has_start_segment);
	assert_int_equal(img.start_segment, 0x12345678u);
	assert_false(img.has_start_linear);
	assert_int_equal(image_byte_count(&img), 8);
	uint8_t range[8];
	assert_int_equal(image_read_range(&img, 0x100FE, range, sizeof range, 0xEE), 4);
	const uint8_t expect[8] = {0xEE, 0xEE, 1, 2, 3, 4, 0xEE, 0xEE};
	assert_memory_equal(range, expect, 8);
	image_free(&img);
}

static void gaps_are_kept_and_out_of_order_records_sort(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t a[2] = {0x11, 0x22}, b[2] = {0x33, 0x44}, c[2] = {0x55, 0x66};
	rec_u16(&t, 4, 0x0800);
	rec(&t, 0, 0x0010, b, 2, "\n");
	rec(&t, 0, 0x0000, a, 2, "\n");
	rec(&t, 0, 0x0012, c, 2, "\n");      /* touches b: merges */
	rec(&t, 0, 0x0002, c, 2, "\n");      /* touches a: merges */
	eof(&t);
	struct image img;
	struct vr_error err;
	assert_int_equal(parse(&t, &img, &err), VR_OK);
	assert_int_equal(img.n_segs, 2);
	assert_int_equal(img.segs[0].addr, 0x08000000u);
	assert_int_equal(img.segs[0].len, 4);
	assert_int_equal(img.segs[1].addr, 0x08000010u);
	assert_int_equal(img.segs[1].len, 4);
	uint8_t v;
	assert_false(image_byte_at(&img, 0x08000004u, &v));
	assert_true(image_byte_at(&img, 0x08000013u, &v));
	assert_int_equal(v, 0x66);
	image_free(&img);
}

static void one_and_255_byte_records(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t big[255];
	for (int i = 0; i < 255; i++)
		big[i] = (uint8_t)i;
	uint8_t one = 0x5A;
	rec(&t, 0, 0x1000, &one, 1, "\n");
	rec(&t, 0, 0x2000, big, 255, "\n");
	rec(&t, 0, 0x1234, NULL, 0, "\n");   /* an empty data record is no data */
	eof(&t);
	struct image img;
	struct vr_error err;
	assert_int_equal(parse(&t, &img, &err), VR_OK);
	assert_int_equal(image_byte_count(&img), 256);
	assert_int_equal(img.segs[1].len, 255);
	assert_memory_equal(img.segs[1].data, big, 255);
	image_free(&img);
}

static void line_endings(void **state)
{
	(void)state;
	static const char *const eols[] = {"\r\n", "\n", "\r", "  \r\n", "\t\n"};
	for (size_t k = 0; k < sizeof eols / sizeof eols[0]; k++) {
		struct text t = {0};
		uint8_t d[3] = {7, 8, 9};
		rec(&t, 0, 0x0000, d, 3, eols[k]);
		rec(&t, 0, 0x0003, d, 3, eols[k]);
		rec(&t, 1, 0, NULL, 0, eols[k]);
		struct image img;
		struct vr_error err;
		assert_int_equal(parse(&t, &img, &err), VR_OK);
		assert_int_equal(image_byte_count(&img), 6);
		image_free(&img);
	}
	/* mixed line ends, blank lines, lowercase digits, no final newline */
	const char *mixed = "\n:03000000070809E5\r\n\r\n:03000300070809e2\r:00000001ff";
	struct text t = {0};
	t.len = strlen(mixed);
	memcpy(t.buf, mixed, t.len);
	struct image img;
	struct vr_error err;
	assert_int_equal(parse(&t, &img, &err), VR_OK);
	assert_int_equal(image_byte_count(&img), 6);
	image_free(&img);
}

static void bad_checksum(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t d[4] = {1, 2, 3, 4};
	rec(&t, 0, 0, d, 4, "\n");
	t.buf[t.len - 2] = t.buf[t.len - 2] == '0' ? '1' : '0';   /* last checksum digit */
	eof(&t);
	expect_fail(&t, "line 1: checksum");
}

static void missing_eof_is_truncation(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t d[4] = {1, 2, 3, 4};
	rec(&t, 0, 0, d, 4, "\n");
	expect_fail(&t, "without an end-of-file record");
}

static void line_cut_short(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t d[16] = {0};
	rec(&t, 0, 0, d, 16, "\n");
	t.len -= 9;                           /* the download stopped mid-line */
	expect_fail(&t, "line 1 is cut short");
	struct text one = {.buf = ":", .len = 1};
	expect_fail(&one, "cut short");
}

static void line_too_long(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t d[2] = {1, 2};
	rec(&t, 0, 0, d, 2, "");
	memcpy(t.buf + t.len, "00\n", 3);
	t.len += 3;
	eof(&t);
	expect_fail(&t, "hex digits more than its byte count");
}

static void data_after_eof(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t d[2] = {1, 2};
	rec(&t, 0, 0, d, 2, "\n");
	eof(&t);
	rec(&t, 0, 2, d, 2, "\n");
	expect_fail(&t, "line 3: data after the end-of-file record");
	/* whitespace after EOF is fine */
	struct text ok = {0};
	rec(&ok, 0, 0, d, 2, "\n");
	eof(&ok);
	memcpy(ok.buf + ok.len, "\n\n  \r\n", 6);
	ok.len += 6;
	struct image img;
	struct vr_error err;
	assert_int_equal(parse(&ok, &img, &err), VR_OK);
	image_free(&img);
}

static void overlapping_records(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t d[8] = {0};
	rec_u16(&t, 4, 0x0800);
	rec(&t, 0, 0x0000, d, 8, "\n");
	rec(&t, 0, 0x0004, d, 8, "\n");
	eof(&t);
	expect_fail(&t, "line 3: bytes at 0x08000004 are given twice");
	/* the same address through a different extended address form */
	struct text u = {0};
	rec_u16(&u, 2, 0x1000);                /* segment: 0x10000 */
	rec(&u, 0, 0x0000, d, 4, "\n");
	rec_u16(&u, 4, 0x0001);                /* linear: 0x10000 again */
	rec(&u, 0, 0x0002, d, 4, "\n");
	eof(&u);
	expect_fail(&u, "given twice");
	/* an earlier record landing inside a later one */
	struct text w = {0};
	rec(&w, 0, 0x0010, d, 8, "\n");
	rec(&w, 0, 0x000C, d, 8, "\n");
	eof(&w);
	expect_fail(&w, "given twice");
}

static void malformed_records(void **state)
{
	(void)state;
	uint8_t d[4] = {1, 2, 3, 4};
	struct text t = {0};
	rec(&t, 6, 0, d, 0, "\n");
	eof(&t);
	expect_fail(&t, "unknown record type 0x06");

	struct text u = {0};
	rec(&u, 4, 0, d, 3, "\n");
	eof(&u);
	expect_fail(&u, "extended linear address record with 3 data bytes");

	struct text v = {0};
	rec(&v, 1, 0, d, 1, "\n");
	expect_fail(&v, "end-of-file record with 1 data bytes");

	struct text w = {.buf = "0300000007080912\n:00000001FF\n", .len = 29};
	expect_fail(&w, "does not start with ':'");

	struct text x = {.buf = ":03000000070G0912\n:00000001FF\n", .len = 30};
	expect_fail(&x, "not a hex digit");

	struct text y = {0};
	uint8_t many[255] = {0};
	rec(&y, 0, 0xFFF0, many, 32, "\n");
	eof(&y);
	expect_fail(&y, "crosses a 64 KiB boundary");

	struct text z = {0};
	eof(&z);
	expect_fail(&z, "no data records");

	struct text s = {0};
	rec_u32(&s, 5, 0x08000189u);
	rec_u32(&s, 5, 0x08000191u);
	rec(&s, 0, 0, d, 4, "\n");
	eof(&s);
	expect_fail(&s, "second, different start address");
}

static void top_of_address_space(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t d[16] = {0};
	rec_u16(&t, 4, 0xFFFF);
	rec(&t, 0, 0xFFF0, d, 16, "\n");      /* ends exactly at 4 GiB */
	eof(&t);
	struct image img;
	struct vr_error err;
	assert_int_equal(parse(&t, &img, &err), VR_OK);
	assert_int_equal(image_end(&img), 0x100000000ull);
	image_free(&img);
}

static void binary_named_hex(void **state)
{
	(void)state;
	struct text t = {0};
	uint8_t d[2] = {1, 2};
	rec(&t, 0, 0, d, 2, "\n");
	t.buf[t.len++] = (char)0x80;
	t.buf[t.len++] = '\n';
	eof(&t);
	expect_fail(&t, "holds binary data (byte 0x80");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(data_with_linear_address),
		cmocka_unit_test(extended_segment_and_start_segment),
		cmocka_unit_test(gaps_are_kept_and_out_of_order_records_sort),
		cmocka_unit_test(one_and_255_byte_records),
		cmocka_unit_test(line_endings),
		cmocka_unit_test(bad_checksum),
		cmocka_unit_test(missing_eof_is_truncation),
		cmocka_unit_test(line_cut_short),
		cmocka_unit_test(line_too_long),
		cmocka_unit_test(data_after_eof),
		cmocka_unit_test(overlapping_records),
		cmocka_unit_test(malformed_records),
		cmocka_unit_test(top_of_address_space),
		cmocka_unit_test(binary_named_hex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
