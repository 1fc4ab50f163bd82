/* The VESC codec against vectors computed independently in the reference
 * (vesc-protocol-and-flash.md §1.2, §3) and against malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crc.h"
#include "vesc_proto.h"

#define MAX_FRAMES 16

struct collected {
	unsigned n;
	size_t len[MAX_FRAMES];
	uint8_t payload[MAX_FRAMES][1024];
};

static void take_frames(struct vesc_decoder *d, struct collected *c)
{
	const uint8_t *pl;
	size_t len;
	while (vesc_decoder_next(d, &pl, &len)) {
		assert_true(c->n < MAX_FRAMES);
		c->len[c->n] = len;
		memcpy(c->payload[c->n], pl, len < 1024 ? len : 1024);
		c->n++;
	}
}

/* Feeds in chunks of `step` bytes (1 = byte by byte). */
static void feed_all(struct vesc_decoder *d, const uint8_t *data, size_t n, size_t step,
		     struct collected *c)
{
	for (size_t off = 0; off < n;) {
		size_t chunk = n - off < step ? n - off : step;
		size_t used = vesc_decoder_feed(d, data + off, chunk);
		off += used;
		take_frames(d, c);
	}
}

static void decode(const uint8_t *data, size_t n, size_t step, struct vesc_decoder *d,
		   struct collected *c)
{
	vesc_decoder_init(d);
	memset(c, 0, sizeof *c);
	feed_all(d, data, n, step, c);
}

static void crc_check_value(void **state)
{
	(void)state;
	assert_int_equal(crc16_xmodem("123456789", 9), 0x31C3);
}

struct table_row {
	uint8_t payload[8];
	size_t len;
	uint8_t frame[16];
	size_t frame_len;
};

/* reference §1.2 table */
static const struct table_row table[] = {
	{{0x00}, 1, {0x02, 0x01, 0x00, 0x00, 0x00, 0x03}, 6},
	{{0x00, 0x01, 0x02}, 3, {0x02, 0x03, 0x00, 0x01, 0x02, 0x13, 0x73, 0x03}, 8},
	{{0x01}, 1, {0x02, 0x01, 0x01, 0x10, 0x21, 0x03}, 6},
	{{0x1E}, 1, {0x02, 0x01, 0x1E, 0xF3, 0xFF, 0x03}, 6},
	{{0x1D}, 1, {0x02, 0x01, 0x1D, 0xC3, 0x9C, 0x03}, 6},
	{{0x49}, 1, {0x02, 0x01, 0x49, 0xD9, 0xED, 0x03}, 6},
	{{0x02, 0x00, 0x07, 0xFF, 0xF8}, 5, {0x02, 0x05, 0x02, 0x00, 0x07, 0xFF, 0xF8, 0xAC, 0xFB, 0x03}, 10},
	{{0x22, 0x05, 0x00}, 3, {0x02, 0x03, 0x22, 0x05, 0x00, 0x17, 0x53, 0x03}, 8},
};

static void encode_reference_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		uint8_t out[32];
		size_t n = 0;
		assert_int_equal(vesc_encode(table[i].payload, table[i].len, out, sizeof out, &n, NULL), VR_OK);
		assert_int_equal(n, table[i].frame_len);
		assert_memory_equal(out, table[i].frame, n);

		struct vesc_decoder d;
		struct collected c;
		decode(table[i].frame, table[i].frame_len, 1, &d, &c);
		assert_int_equal(c.n, 1);
		assert_int_equal(c.len[0], table[i].len);
		assert_memory_equal(c.payload[0], table[i].payload, table[i].len);
		assert_int_equal(d.stats.noise_bytes, 0);
	}
	uint8_t fw[VESC_FW_VERSION_FRAME_LEN];
	vesc_fw_version_frame(fw);
	assert_memory_equal(fw, table[0].frame, 6);
}

static void encode_256_bytes_long_header(void **state)
{
	(void)state;
	uint8_t pl[256], out[300];
	for (int i = 0; i < 256; i++)
		pl[i] = (uint8_t)i;
	size_t n = 0;
	assert_int_equal(vesc_encode(pl, 256, out, sizeof out, &n, NULL), VR_OK);
	assert_int_equal(n, 262);
	const uint8_t head[] = {0x03, 0x01, 0x00}, tail[] = {0x7E, 0x55, 0x03};
	assert_memory_equal(out, head, 3);
	assert_memory_equal(out + 259, tail, 3);
}

static void encode_sizes(void **state)
{
	(void)state;
	static uint8_t pl[70000], out[70010];
	struct vr_error err;
	size_t n = 0;
	assert_int_equal(vesc_frame_size(1), 6);
	assert_int_equal(vesc_frame_size(255), 260);
	assert_int_equal(vesc_frame_size(256), 262);
	assert_int_equal(vesc_frame_size(512), 518);
	assert_int_equal(vesc_frame_size(0), 0);
	assert_int_equal(vesc_frame_size(65536), 0);
	assert_int_equal(vesc_encode(pl, 255, out, sizeof out, &n, NULL), VR_OK);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 255);
	assert_int_equal(vesc_encode(pl, 512, out, sizeof out, &n, NULL), VR_OK);
	assert_int_equal(n, 518);
	assert_int_equal(out[0], 3);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 0);
	assert_int_equal(vesc_encode(pl, 0, out, sizeof out, &n, &err), VR_ERR_INTERNAL);
	assert_int_equal(vesc_encode(pl, 65536, out, sizeof out, &n, &err), VR_ERR_INTERNAL);
	/* too small an output buffer is refused, not overrun */
	assert_int_equal(vesc_encode(pl, 10, out, 14, &n, &err), VR_ERR_INTERNAL);
}

static void roundtrip_sizes(void **state)
{
	(void)state;
	static const size_t sizes[] = {1, 255, 256, 512, 1000};
	static uint8_t pl[1024], frame[1100];
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		for (size_t i = 0; i < sizes[s]; i++)
			pl[i] = (uint8_t)(i * 7 + s);
		size_t n = 0;
		assert_int_equal(vesc_encode(pl, sizes[s], frame, sizeof frame, &n, NULL), VR_OK);
		static struct vesc_decoder d;
		static struct collected c;
		for (size_t step = 1; step <= 64; step *= 8) {
			decode(frame, n, step, &d, &c);
			assert_int_equal(c.n, 1);
			assert_int_equal(c.len[0], sizes[s]);
			assert_memory_equal(c.payload[0], pl, sizes[s]);
			assert_int_equal(d.stats.noise_bytes, 0);
			assert_int_equal(vesc_decoder_pending(&d), 0);
		}
	}
}

static void over_limit_rejected(void **state)
{
	(void)state;
	/* 03 40 01: 16385 bytes announced, above the host limit: skipped at
	 * once, the frame behind it is found without waiting. */
	uint8_t buf[16] = {0x03, 0x40, 0x01, 0x02, 0x01, 0x00, 0x00, 0x00, 0x03};
	static struct vesc_decoder d;
	static struct collected c;
	decode(buf, 9, 1, &d, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(d.stats.noise_bytes, 3);
	/* a real over-limit frame (16385 bytes) is never delivered */
	static uint8_t big[16385 + 8];
	big[0] = 0x03;
	big[1] = 0x40;
	big[2] = 0x01;
	uint16_t crc = crc16_xmodem(big + 3, 16385);
	big[3 + 16385] = (uint8_t)(crc >> 8);
	big[4 + 16385] = (uint8_t)crc;
	big[5 + 16385] = 0x03;
	decode(big, 16385 + 6, 1000, &d, &c);
	assert_int_equal(c.n, 0);
	/* the largest legal host frame (16384) is delivered */
	static uint8_t max[16384 + 6];
	memset(max, 0x55, sizeof max);
	size_t n = 0;
	static uint8_t pl[16384];
	memset(pl, 0x55, sizeof pl);
	assert_int_equal(vesc_encode(pl, 16384, max, sizeof max, &n, NULL), VR_OK);
	decode(max, n, 4096, &d, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.len[0], 16384);
}

static void start_byte_4_rejected(void **state)
{
	(void)state;
	/* a well-formed 04 frame of 70000 bytes would need the 24-bit header;
	 * any 04 is noise to us (contract §6) */
	uint8_t buf[] = {0x04, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03,
			 0x02, 0x01, 0x00, 0x00, 0x00, 0x03};
	struct vesc_decoder d;
	struct collected c;
	decode(buf, sizeof buf, 1, &d, &c);
	/* its end byte 03 followed by 02 01 reads as a header announcing 513
	 * bytes: held back like the firmware would, released at the end */
	assert_int_equal(c.n, 0);
	vesc_decoder_finish(&d);
	take_frames(&d, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.len[0], 1);
	assert_int_equal(d.stats.noise_bytes, 8);
}

static void malformed_frames(void **state)
{
	(void)state;
	struct vesc_decoder d;
	struct collected c;
	/* zero length */
	const uint8_t zero[] = {0x02, 0x00};
	decode(zero, sizeof zero, 1, &d, &c);
	assert_int_equal(c.n, 0);
	/* non-minimal: 03 00 05 */
	const uint8_t nonmin[] = {0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03};
	decode(nonmin, sizeof nonmin, 1, &d, &c);
	assert_int_equal(c.n, 0);
	/* the final 03 could start a frame: it waits */
	assert_int_equal(vesc_decoder_pending(&d), 1);
	vesc_decoder_finish(&d);
	take_frames(&d, &c);
	assert_int_equal(d.stats.noise_bytes, sizeof nonmin);
	/* bad end byte */
	const uint8_t bad_end[] = {0x02, 0x01, 0x00, 0x00, 0x00, 0x04};
	decode(bad_end, sizeof bad_end, 1, &d, &c);
	assert_int_equal(c.n, 0);
	assert_int_equal(d.stats.crc_errors, 0);
	/* CRC mismatch */
	const uint8_t bad_crc[] = {0x02, 0x01, 0x00, 0x12, 0x34, 0x03};
	decode(bad_crc, sizeof bad_crc, 1, &d, &c);
	vesc_decoder_finish(&d);
	take_frames(&d, &c);
	assert_int_equal(c.n, 0);
	assert_int_equal(d.stats.crc_errors, 1);
	assert_int_equal(d.stats.noise_bytes, sizeof bad_crc);
	/* 03 00 FF: length 255 in the long form is accepted */
	uint8_t pl[255], frame[300];
	memset(pl, 0xA5, sizeof pl);
	uint16_t crc = crc16_xmodem(pl, 255);
	frame[0] = 3;
	frame[1] = 0;
	frame[2] = 255;
	memcpy(frame + 3, pl, 255);
	frame[258] = (uint8_t)(crc >> 8);
	frame[259] = (uint8_t)crc;
	frame[260] = 3;
	decode(frame, 261, 7, &d, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.len[0], 255);
}

static void garbage_before_inside_after(void **state)
{
	(void)state;
	uint8_t stream[64];
	size_t n = 0;
	const uint8_t before[] = {0xFF, 0x00, 0x55, 0x04, 0x03, 0x00};
	const uint8_t f1[] = {0x02, 0x03, 0x00, 0x01, 0x02, 0x13, 0x73, 0x03};
	const uint8_t inside[] = {0xAA, 0x42};
	const uint8_t f2[] = {0x02, 0x01, 0x49, 0xD9, 0xED, 0x03};
	const uint8_t after[] = {0x7E, 0x81, 0x00};
	memcpy(stream + n, before, sizeof before), n += sizeof before;
	memcpy(stream + n, f1, sizeof f1), n += sizeof f1;
	memcpy(stream + n, inside, sizeof inside), n += sizeof inside;
	memcpy(stream + n, f2, sizeof f2), n += sizeof f2;
	memcpy(stream + n, after, sizeof after), n += sizeof after;
	for (size_t step = 1; step <= n; step++) {
		struct vesc_decoder d;
		struct collected c;
		decode(stream, n, step, &d, &c);
		assert_int_equal(c.n, 2);
		assert_int_equal(c.len[0], 3);
		assert_int_equal(c.payload[1][0], 0x49);
		assert_int_equal(d.stats.frames, 2);
		assert_int_equal(d.stats.noise_bytes, sizeof before + sizeof inside + sizeof after);
		assert_false(vesc_decoder_looks_like_text(&d));
	}
	/* a frame cut in the middle by garbage is lost, the next is found */
	const uint8_t cut[] = {0x02, 0x03, 0x00, 0x01, 0xEE, 0x02, 0x01, 0x01, 0x10, 0x21, 0x03};
	struct vesc_decoder d;
	struct collected c;
	decode(cut, sizeof cut, 1, &d, &c);
	/* the first header waits for 8 bytes and then fails (end byte),
	 * scanning resumes one byte later and finds 02 01 01 */
	assert_int_equal(c.n, 1);
	assert_int_equal(c.payload[0][0], 0x01);
}

static void stray_02ff_holds_back_then_resyncs(void **state)
{
	(void)state;
	static uint8_t stream[400];
	size_t n = 0;
	stream[n++] = 0x02;
	stream[n++] = 0xFF;
	const uint8_t fw[] = {0x02, 0x01, 0x00, 0x00, 0x00, 0x03};
	memcpy(stream + n, fw, sizeof fw);
	n += sizeof fw;
	struct vesc_decoder d;
	struct collected c;
	decode(stream, n, 1, &d, &c);
	/* held back: 02 FF announces 260 bytes, only 8 have come */
	assert_int_equal(c.n, 0);
	assert_int_equal(vesc_decoder_pending(&d), 8);
	/* more bytes up to 259 in total: still waiting */
	uint8_t filler[251];
	memset(filler, 0x11, sizeof filler);
	feed_all(&d, filler, sizeof filler, 1, &c);
	assert_int_equal(c.n, 0);
	/* the 260th byte decides: end byte 0x11 is wrong, scanning resumes and
	 * finds the frame that arrived inside the window */
	const uint8_t last = 0x11;
	feed_all(&d, &last, 1, 1, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.len[0], 1);
	assert_int_equal(c.payload[0][0], 0x00);
	assert_int_equal(d.stats.noise_bytes, 2 + 252);
	assert_int_equal(vesc_decoder_pending(&d), 0);
}

static void finish_releases_a_held_back_reply(void **state)
{
	(void)state;
	const uint8_t stream[] = {0x02, 0xFF, 0x02, 0x01, 0x1E, 0xF3, 0xFF, 0x03, 0x02, 0x05};
	struct vesc_decoder d;
	struct collected c;
	decode(stream, sizeof stream, 3, &d, &c);
	assert_int_equal(c.n, 0);
	vesc_decoder_finish(&d);
	take_frames(&d, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.payload[0][0], 0x1E);
	/* the trailing partial header is noise too */
	assert_int_equal(d.stats.noise_bytes, 4);
	assert_int_equal(vesc_decoder_pending(&d), 0);
	/* decoding goes on normally afterwards */
	feed_all(&d, stream + 2, 6, 1, &c);
	assert_int_equal(c.n, 2);
}

static void bug_frame_dropped(void **state)
{
	(void)state;
	/* FW < 3.48 sends a 256-byte reply as 02 00 <256 bytes> crc 03 */
	static uint8_t stream[300];
	size_t n = 0;
	uint8_t pl[256];
	for (int i = 0; i < 256; i++)
		pl[i] = (uint8_t)(i == 10 ? 0x02 : i);   /* a start byte inside */
	stream[n++] = 0x02;
	stream[n++] = 0x00;
	memcpy(stream + n, pl, 256);
	n += 256;
	uint16_t crc = crc16_xmodem(pl, 256);
	stream[n++] = (uint8_t)(crc >> 8);
	stream[n++] = (uint8_t)crc;
	stream[n++] = 0x03;
	const uint8_t fw[] = {0x02, 0x01, 0x00, 0x00, 0x00, 0x03};
	memcpy(stream + n, fw, sizeof fw);
	n += sizeof fw;
	struct vesc_decoder d;
	struct collected c;
	decode(stream, n, 1, &d, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.len[0], 1);
	assert_int_equal(d.stats.bug_frames, 1);
	assert_int_equal(d.stats.noise_bytes, 0);
}

static void nmea_text_is_recognised(void **state)
{
	(void)state;
	const char *nmea = "$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
			   "$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A\r\n";
	struct vesc_decoder d;
	struct collected c;
	decode((const uint8_t *)nmea, strlen(nmea), 5, &d, &c);
	assert_int_equal(c.n, 0);
	assert_int_equal(d.stats.noise_bytes, strlen(nmea));
	assert_true(vesc_decoder_looks_like_text(&d));
}

static void flush_is_518_zeros(void **state)
{
	(void)state;
	size_t n = 0;
	const uint8_t *z = vesc_flush_bytes(&n);
	assert_true(n >= 518);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(z[i], 0);
}

/* ---- FW_VERSION, one reply per generation, built by hand from §3 ---- */

static void fw_2_18_three_bytes(void **state)
{
	(void)state;
	const uint8_t pl[] = {0x00, 2, 18};
	struct fw_version fw;
	assert_int_equal(vesc_fw_version_parse(pl, sizeof pl, &fw, NULL), VR_OK);
	assert_int_equal(fw.major, 2);
	assert_int_equal(fw.minor, 18);
	assert_string_equal(fw.hw_name, "");
	assert_false(fw.has_uuid);
	assert_int_equal(fw.pairing_done, -1);
	assert_int_equal(fw.test_version, -1);
	assert_int_equal(fw.hw_type, -1);
	assert_false(fw.has_hw_conf_crc);
	assert_int_equal(fw.payload_len, 3);
}

static const uint8_t uuid[12] = {0x1f, 0x00, 0x2e, 0x00, 0x12, 0x47, 0x35, 0x31,
				 0x30, 0x38, 0x36, 0x39};

static size_t put_common(uint8_t *p, int major, int minor, const char *hw)
{
	size_t n = 0;
	p[n++] = 0x00;
	p[n++] = (uint8_t)major;
	p[n++] = (uint8_t)minor;
	memcpy(p + n, hw, strlen(hw) + 1);
	n += strlen(hw) + 1;
	memcpy(p + n, uuid, 12);
	return n + 12;
}

static void fw_3_40(void **state)
{
	(void)state;
	uint8_t pl[64];
	size_t n = put_common(pl, 3, 40, "410");
	assert_int_equal(n, 19);
	struct fw_version fw;
	assert_int_equal(vesc_fw_version_parse(pl, n, &fw, NULL), VR_OK);
	assert_int_equal(fw.major, 3);
	assert_int_equal(fw.minor, 40);
	assert_string_equal(fw.hw_name, "410");
	assert_true(fw.has_uuid);
	assert_memory_equal(fw.uuid, uuid, 12);
	assert_int_equal(fw.pairing_done, -1);
	assert_int_equal(fw.test_version, -1);
}

static void fw_5_02(void **state)
{
	(void)state;
	uint8_t pl[64];
	size_t n = put_common(pl, 5, 2, "60");
	pl[n++] = 1;    /* pairing_done */
	pl[n++] = 0;    /* test_version */
	pl[n++] = 0;    /* hw_type VESC */
	pl[n++] = 0;    /* custom_config_count */
	struct fw_version fw;
	assert_int_equal(vesc_fw_version_parse(pl, n, &fw, NULL), VR_OK);
	assert_int_equal(fw.major, 5);
	assert_int_equal(fw.minor, 2);
	assert_string_equal(fw.hw_name, "60");
	assert_int_equal(fw.pairing_done, 1);
	assert_int_equal(fw.test_version, 0);
	assert_int_equal(fw.hw_type, 0);
	assert_int_equal(fw.custom_config_count, 0);
	assert_int_equal(fw.has_phase_filters, -1);
	assert_int_equal(fw.nrf_flags, -1);
	assert_string_equal(fw.fw_name, "");
	assert_int_equal(fw.payload_len, n);
}

static size_t build_6_05(uint8_t *pl)
{
	size_t n = put_common(pl, 6, 5, "60_MK6");
	pl[n++] = 0;    /* pairing_done */
	pl[n++] = 3;    /* test_version: beta 3 */
	pl[n++] = 0;    /* hw_type */
	pl[n++] = 2;    /* custom_config_count */
	pl[n++] = 1;    /* has_phase_filters */
	pl[n++] = 0;    /* qml_hw */
	pl[n++] = 2;    /* qml_app */
	pl[n++] = 3;    /* nrf_flags */
	memcpy(pl + n, "no_hw_limits", 13);
	n += 13;
	pl[n++] = 0xDE;
	pl[n++] = 0xAD;
	pl[n++] = 0xBE;
	pl[n++] = 0xEF;
	return n;
}

static void fw_6_05_hw_conf_crc(void **state)
{
	(void)state;
	uint8_t pl[80];
	size_t n = build_6_05(pl);
	struct fw_version fw;
	assert_int_equal(vesc_fw_version_parse(pl, n, &fw, NULL), VR_OK);
	assert_int_equal(fw.major, 6);
	assert_int_equal(fw.minor, 5);
	assert_string_equal(fw.hw_name, "60_MK6");
	assert_memory_equal(fw.uuid, uuid, 12);
	assert_int_equal(fw.pairing_done, 0);
	assert_int_equal(fw.test_version, 3);
	assert_int_equal(fw.hw_type, 0);
	assert_int_equal(fw.custom_config_count, 2);
	assert_int_equal(fw.has_phase_filters, 1);
	assert_int_equal(fw.qml_hw, 0);
	assert_int_equal(fw.qml_app, 2);
	assert_int_equal(fw.nrf_flags, 3);
	assert_string_equal(fw.fw_name, "no_hw_limits");
	assert_true(fw.has_hw_conf_crc);
	assert_int_equal(fw.hw_conf_crc, 0xDEADBEEFu);
	/* and through a frame */
	uint8_t frame[100];
	size_t fl = 0;
	assert_int_equal(vesc_encode(pl, n, frame, sizeof frame, &fl, NULL), VR_OK);
	struct vesc_decoder d;
	struct collected c;
	decode(frame, fl, 1, &d, &c);
	assert_int_equal(c.n, 1);
	assert_int_equal(vesc_fw_version_parse(c.payload[0], c.len[0], &fw, NULL), VR_OK);
	assert_int_equal(fw.hw_conf_crc, 0xDEADBEEFu);
}

static void fw_truncated_everywhere(void **state)
{
	(void)state;
	uint8_t full[80];
	size_t n = build_6_05(full);
	for (size_t cut = 0; cut <= n; cut++) {
		/* copy into an exactly sized heap block so ASan sees any overread */
		uint8_t *pl = malloc(cut ? cut : 1);
		assert_non_null(pl);
		memcpy(pl, full, cut);
		struct fw_version fw;
		struct vr_error err;
		vr_err r = vesc_fw_version_parse(pl, cut, &fw, &err);
		if (cut < 3) {
			assert_int_equal(r, VR_ERR_INPUT);
		} else {
			assert_int_equal(r, VR_OK);
			assert_int_equal(fw.major, 6);
			assert_true(strlen(fw.hw_name) <= 6);
			assert_int_equal(fw.has_uuid, cut >= 3 + 7 + 12);
			assert_int_equal(fw.has_hw_conf_crc, cut == n);
			if (cut < 3 + 7 + 12 + 8)
				assert_int_equal(fw.nrf_flags, -1);
		}
		free(pl);
	}
}

static void fw_hostile_strings(void **state)
{
	(void)state;
	/* unterminated, overlong, with escape sequences */
	uint8_t pl[200];
	size_t n = 0;
	pl[n++] = 0;
	pl[n++] = 6;
	pl[n++] = 5;
	pl[n++] = 0x1b;
	pl[n++] = '[';
	pl[n++] = '2';
	pl[n++] = 'J';
	memset(pl + n, 'A', 100);
	n += 100;
	struct fw_version fw;
	assert_int_equal(vesc_fw_version_parse(pl, n, &fw, NULL), VR_OK);
	assert_int_equal(strlen(fw.hw_name), sizeof fw.hw_name - 1);
	assert_int_equal(fw.hw_name[0], '?');
	assert_false(fw.has_uuid);
	/* our own request read back: an echo, not a version */
	const uint8_t echo[] = {0x00};
	struct vr_error err;
	assert_int_equal(vesc_fw_version_parse(echo, 1, &fw, &err), VR_ERR_INPUT);
	assert_non_null(strstr(err.msg, "bridged"));
	const uint8_t other[] = {0x04, 1, 2};
	assert_int_equal(vesc_fw_version_parse(other, 3, &fw, &err), VR_ERR_INPUT);
}

/* ---- update path ---- */

static void update_requests(void **state)
{
	(void)state;
	uint8_t pl[600];
	assert_int_equal(vesc_build_erase_new_app(pl, sizeof pl, 524280), 5);
	const uint8_t erase[] = {0x02, 0x00, 0x07, 0xFF, 0xF8};
	assert_memory_equal(pl, erase, 5);
	uint8_t frame[700];
	size_t fl = 0;
	assert_int_equal(vesc_encode(pl, 5, frame, sizeof frame, &fl, NULL), VR_OK);
	assert_memory_equal(frame, table[6].frame, table[6].frame_len);

	assert_int_equal(vesc_build_erase_bootloader(pl, sizeof pl), 1);
	assert_int_equal(pl[0], 73);
	assert_int_equal(vesc_build_jump_to_bootloader(pl, sizeof pl), 1);
	assert_int_equal(pl[0], 1);

	uint8_t data[VESC_WRITE_CHUNK];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)i;
	size_t n = vesc_build_write_new_app_data(pl, sizeof pl, VESC_BOOTLOADER_OFFSET, data, sizeof data);
	assert_int_equal(n, 5 + VESC_WRITE_CHUNK);
	const uint8_t head[] = {0x03, 0x00, 0x06, 0x00, 0x00};
	assert_memory_equal(pl, head, 5);
	assert_memory_equal(pl + 5, data, sizeof data);
	assert_int_equal(vesc_build_write_new_app_data(pl, sizeof pl, 0, data, VESC_WRITE_MAX_DATA + 1), 0);
	assert_int_equal(vesc_build_write_new_app_data(pl, 100, 0, data, 200), 0);
	assert_int_equal(vesc_build_erase_new_app(pl, 4, 1), 0);
}

static void update_replies(void **state)
{
	(void)state;
	bool ok = false;
	struct vr_error err;
	const uint8_t erased[] = {73, 1};
	assert_int_equal(vesc_parse_ok_reply(erased, 2, 73, &ok, &err), VR_OK);
	assert_true(ok);
	const uint8_t failed[] = {2, 0};
	assert_int_equal(vesc_parse_ok_reply(failed, 2, 2, &ok, &err), VR_OK);
	assert_false(ok);
	assert_int_equal(vesc_parse_ok_reply(failed, 2, 73, &ok, &err), VR_ERR_INPUT);
	assert_int_equal(vesc_parse_ok_reply(failed, 1, 2, &ok, &err), VR_ERR_INPUT);

	struct vesc_write_reply w;
	const uint8_t old[] = {3, 1};
	assert_int_equal(vesc_parse_write_reply(old, 2, &w, &err), VR_OK);
	assert_true(w.ok);
	assert_false(w.has_offset);
	const uint8_t new_[] = {3, 1, 0x00, 0x06, 0x01, 0x80};
	assert_int_equal(vesc_parse_write_reply(new_, 6, &w, &err), VR_OK);
	assert_true(w.has_offset);
	assert_int_equal(w.offset, 0x60180);
	assert_int_equal(vesc_parse_write_reply(new_, 4, &w, &err), VR_ERR_INPUT);
	assert_int_equal(vesc_parse_write_reply(erased, 2, &w, &err), VR_ERR_INPUT);
}

static void moving_ids(void **state)
{
	(void)state;
	assert_int_equal(vesc_comm_reboot_id(6, 5), 29);
	assert_int_equal(vesc_comm_reboot_id(3, 7), 29);
	assert_int_equal(vesc_comm_reboot_id(3, 6), 28);
	assert_int_equal(vesc_comm_reboot_id(2, 18), 28);
	assert_int_equal(vesc_comm_reboot_id(2, 3), 26);
	assert_int_equal(vesc_comm_reboot_id(1, 14), 22);
	assert_int_equal(vesc_comm_reboot_id(2, 10), -1);
	assert_int_equal(vesc_comm_alive_id(5, 2), 30);
	assert_int_equal(vesc_comm_alive_id(3, 0), 29);
	assert_int_equal(vesc_comm_forward_can_id(6, 0), 34);
	assert_int_equal(vesc_comm_forward_can_id(2, 18), 33);
	assert_true(vesc_has_erase_bootloader(3, 59));
	assert_false(vesc_has_erase_bootloader(3, 58));
	assert_true(vesc_has_erase_bootloader(5, 2));
	assert_false(vesc_write_reply_has_offset(3, 62));
	assert_true(vesc_write_reply_has_offset(5, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc_check_value),
		cmocka_unit_test(encode_reference_table),
		cmocka_unit_test(encode_256_bytes_long_header),
		cmocka_unit_test(encode_sizes),
		cmocka_unit_test(roundtrip_sizes),
		cmocka_unit_test(over_limit_rejected),
		cmocka_unit_test(start_byte_4_rejected),
		cmocka_unit_test(malformed_frames),
		cmocka_unit_test(garbage_before_inside_after),
		cmocka_unit_test(stray_02ff_holds_back_then_resyncs),
		cmocka_unit_test(finish_releases_a_held_back_reply),
		cmocka_unit_test(bug_frame_dropped),
		cmocka_unit_test(nmea_text_is_recognised),
		cmocka_unit_test(flush_is_518_zeros),
		cmocka_unit_test(fw_2_18_three_bytes),
		cmocka_unit_test(fw_3_40),
		cmocka_unit_test(fw_5_02),
		cmocka_unit_test(fw_6_05_hw_conf_crc),
		cmocka_unit_test(fw_truncated_everywhere),
		cmocka_unit_test(fw_hostile_strings),
		cmocka_unit_test(update_requests),
		cmocka_unit_test(update_replies),
		cmocka_unit_test(moving_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
