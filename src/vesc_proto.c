#include "vesc_proto.h"

#include <string.h>

#include "crc.h"

/* ---- framing ------------------------------------------------------------ */

static const uint8_t flush_zeros[VESC_FLUSH_LEN];

void vesc_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

uint32_t vesc_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t vesc_frame_size(size_t payload_len)
{
	if (payload_len == 0 || payload_len > 65535)
		return 0;
	return (payload_len <= 255 ? 2u : 3u) + payload_len + 3u;
}

vr_err vesc_encode(const uint8_t *payload, size_t len, uint8_t *out, size_t out_cap,
		   size_t *out_len, struct vr_error *err)
{
	size_t total = vesc_frame_size(len);
	if (total == 0)
		return vr_fail(err, VR_ERR_INTERNAL,
			       "cannot frame a %zu-byte VESC payload (1..65535 bytes)", len);
	if (payload == NULL || out == NULL || out_cap < total)
		return vr_fail(err, VR_ERR_INTERNAL,
			       "VESC frame of %zu bytes does not fit a %zu-byte buffer", total, out_cap);
	size_t at = 0;
	if (len <= 255) {
		out[at++] = VESC_START_SHORT;
		out[at++] = (uint8_t)len;
	} else {
		out[at++] = VESC_START_LONG;
		out[at++] = (uint8_t)(len >> 8);
		out[at++] = (uint8_t)len;
	}
	memcpy(out + at, payload, len);
	at += len;
	uint16_t crc = crc16_xmodem(payload, len);
	out[at++] = (uint8_t)(crc >> 8);
	out[at++] = (uint8_t)crc;
	out[at++] = VESC_END_BYTE;
	if (out_len)
		*out_len = at;
	return VR_OK;
}

const uint8_t *vesc_flush_bytes(size_t *len)
{
	if (len)
		*len = sizeof flush_zeros;
	return flush_zeros;
}

/* ---- streaming decoder ---------------------------------------------------- */

enum scan_result { SCAN_FRAME, SCAN_BUG_FRAME, SCAN_INVALID, SCAN_NEED_MORE };

struct scan {
	size_t header_len, payload_len, frame_len;
	bool crc_error;
};

/* The decision the firmware's try_decode_packet makes at one position,
 * with the host's limits: start byte 4 and payloads above 16 KiB are
 * invalid; "02 00" announces the 256-byte frame of the FW < 3.48 sender
 * bug, which is recognised so that it can be dropped whole. */
static enum scan_result scan_at(const uint8_t *p, size_t n, struct scan *s)
{
	memset(s, 0, sizeof *s);
	if (n < 1)
		return SCAN_NEED_MORE;
	bool bug = false;
	if (p[0] == VESC_START_SHORT) {
		s->header_len = 2;
		if (n < 2)
			return SCAN_NEED_MORE;
		s->payload_len = p[1];
		if (s->payload_len == 0) {
			bug = true;
			s->payload_len = 256;
		}
	} else if (p[0] == VESC_START_LONG) {
		s->header_len = 3;
		if (n < 3)
			return SCAN_NEED_MORE;
		s->payload_len = (size_t)p[1] << 8 | p[2];
		if (s->payload_len < 255 || s->payload_len > VESC_HOST_MAX_PAYLOAD)
			return SCAN_INVALID;
	} else {
		return SCAN_INVALID;
	}
	s->frame_len = s->header_len + s->payload_len + 3;
	if (n < s->frame_len)
		return SCAN_NEED_MORE;
	if (p[s->frame_len - 1] != VESC_END_BYTE)
		return SCAN_INVALID;
	const uint8_t *pl = p + s->header_len;
	uint16_t rx_crc = (uint16_t)(pl[s->payload_len] << 8 | pl[s->payload_len + 1]);
	if (crc16_xmodem(pl, s->payload_len) != rx_crc) {
		/* a 02 00 that only looked like the bug frame is plain noise */
		s->crc_error = !bug;
		return SCAN_INVALID;
	}
	return bug ? SCAN_BUG_FRAME : SCAN_FRAME;
}

static bool is_printable(uint8_t c)
{
	return (c >= 0x20 && c < 0x7f) || c == '\r' || c == '\n' || c == '\t';
}

void vesc_decoder_init(struct vesc_decoder *d)
{
	memset(d, 0, sizeof *d);
}

static void skip_noise_byte(struct vesc_decoder *d)
{
	d->stats.noise_bytes++;
	if (is_printable(d->buf[d->rd]))
		d->stats.printable_noise++;
	d->rd++;
}

size_t vesc_decoder_feed(struct vesc_decoder *d, const uint8_t *data, size_t len)
{
	const size_t cap = sizeof d->buf;
	if (d->rd == d->wr)
		d->rd = d->wr = 0;
	if (cap - d->wr < len && d->rd > 0) {
		/* linear buffer, as in the firmware: shift instead of wrapping */
		memmove(d->buf, d->buf + d->rd, d->wr - d->rd);
		d->wr -= d->rd;
		d->rd = 0;
	}
	if (d->wr == cap) {
		struct scan s;
		if (scan_at(d->buf + d->rd, d->wr - d->rd, &s) != SCAN_NEED_MORE)
			return 0;   /* decided frames wait for vesc_decoder_next */
		/* Cannot happen (the buffer holds the largest frame); if it
		 * did, drop everything like the firmware's "out of space". */
		d->stats.overflows++;
		d->stats.noise_bytes += (unsigned)(d->wr - d->rd);
		d->rd = d->wr = 0;
	}
	size_t take = cap - d->wr < len ? cap - d->wr : len;
	if (take > 0)
		memcpy(d->buf + d->wr, data, take);
	d->wr += take;
	d->stats.bytes += take;
	if (take > 0)
		d->draining = false;
	return take;
}

static bool next_frame(struct vesc_decoder *d, bool at_end, const uint8_t **payload,
		       size_t *len)
{
	while (d->rd < d->wr) {
		struct scan s;
		enum scan_result r = scan_at(d->buf + d->rd, d->wr - d->rd, &s);
		if (r == SCAN_NEED_MORE && !at_end)
			return false;
		if (r == SCAN_FRAME || r == SCAN_BUG_FRAME) {
			const uint8_t *pl = d->buf + d->rd + s.header_len;
			d->rd += s.frame_len;
			if (r == SCAN_BUG_FRAME) {
				d->stats.bug_frames++;
				continue;
			}
			d->stats.frames++;
			*payload = pl;
			*len = s.payload_len;
			return true;
		}
		if (s.crc_error)
			d->stats.crc_errors++;
		skip_noise_byte(d);
	}
	return false;
}

bool vesc_decoder_next(struct vesc_decoder *d, const uint8_t **payload, size_t *len)
{
	bool found = next_frame(d, d->draining, payload, len);
	if (!found)
		d->draining = false;
	return found;
}

void vesc_decoder_finish(struct vesc_decoder *d)
{
	d->draining = true;
}

size_t vesc_decoder_pending(const struct vesc_decoder *d)
{
	return d->wr - d->rd;
}

bool vesc_decoder_looks_like_text(const struct vesc_decoder *d)
{
	const struct vesc_decoder_stats *s = &d->stats;
	return s->noise_bytes >= 16 && (unsigned long)s->printable_noise * 10 >=
					       (unsigned long)s->noise_bytes * 9;
}

/* ---- command IDs ------------------------------------------------------------ */

/* The four generations of the moving IDs (reference §2): 1.14, 2.03,
 * 2.18–3.6, 3.7 and later. Versions between the documented points are
 * unknown (-1): sending a wrong ID could start another command. */
static int moving_id(int major, int minor, const int ids[4])
{
	if (major > 3 || (major == 3 && minor >= 7))
		return ids[3];
	if ((major == 2 && minor >= 18) || major == 3)
		return ids[2];
	if (major == 2 && minor == 3)
		return ids[1];
	if (major == 1 && minor == 14)
		return ids[0];
	return -1;
}

int vesc_comm_reboot_id(int major, int minor)
{
	static const int ids[4] = {22, 26, 28, 29};
	return moving_id(major, minor, ids);
}

int vesc_comm_alive_id(int major, int minor)
{
	static const int ids[4] = {23, 27, 29, 30};
	return moving_id(major, minor, ids);
}

int vesc_comm_forward_can_id(int major, int minor)
{
	static const int ids[4] = {27, 31, 33, 34};
	return moving_id(major, minor, ids);
}

bool vesc_has_erase_bootloader(int major, int minor)
{
	return major > 3 || (major == 3 && minor >= 59);
}

bool vesc_write_reply_has_offset(int major, int minor)
{
	(void)minor;
	return major >= 5;
}

/* ---- COMM_FW_VERSION ----------------------------------------------------------- */

size_t vesc_build_fw_version(uint8_t *payload, size_t cap)
{
	if (cap < 1)
		return 0;
	payload[0] = VESC_COMM_FW_VERSION;
	return 1;
}

void vesc_fw_version_frame(uint8_t out[VESC_FW_VERSION_FRAME_LEN])
{
	const uint8_t payload[1] = {VESC_COMM_FW_VERSION};
	(void)vesc_encode(payload, 1, out, VESC_FW_VERSION_FRAME_LEN, NULL, NULL);
}

void vesc_fw_version_clear(struct fw_version *fw)
{
	memset(fw, 0, sizeof *fw);
	fw->major = fw->minor = -1;
	fw->pairing_done = fw->test_version = fw->hw_type = fw->custom_config_count = -1;
	fw->has_phase_filters = fw->qml_hw = fw->qml_app = fw->nrf_flags = -1;
}

/* A NUL-terminated string field: copies at most cap-1 characters (made
 * printable), advances *pos past the NUL. False when the payload ends
 * before the NUL: the fields behind it cannot be located. */
static bool take_string(const uint8_t *p, size_t len, size_t *pos, char *out, size_t cap)
{
	size_t kept = 0;
	size_t i = *pos;
	for (; i < len && p[i] != 0; i++) {
		if (kept + 1 < cap)
			out[kept++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	}
	out[kept] = '\0';
	if (i >= len) {
		*pos = len;
		return false;
	}
	*pos = i + 1;
	return true;
}

/* One u8 field into *field if the payload still holds it. */
static bool take_u8(const uint8_t *p, size_t len, size_t *pos, int *field)
{
	if (*pos >= len)
		return false;
	*field = p[(*pos)++];
	return true;
}

static void parse_tail_fields(const uint8_t *p, size_t len, size_t pos, struct fw_version *fw)
{
	int *const bytes[] = {&fw->pairing_done, &fw->test_version, &fw->hw_type,
			      &fw->custom_config_count, &fw->has_phase_filters, &fw->qml_hw,
			      &fw->qml_app, &fw->nrf_flags};
	for (size_t i = 0; i < sizeof bytes / sizeof bytes[0]; i++)
		if (!take_u8(p, len, &pos, bytes[i]))
			return;
	if (pos >= len || !take_string(p, len, &pos, fw->fw_name, sizeof fw->fw_name))
		return;
	if (pos + 4 <= len) {
		fw->has_hw_conf_crc = true;
		fw->hw_conf_crc = vesc_get_u32(p + pos);
	}
}

vr_err vesc_fw_version_parse(const uint8_t *payload, size_t len, struct fw_version *out,
			     struct vr_error *err)
{
	vesc_fw_version_clear(out);
	out->payload_len = (unsigned)len;
	if (payload == NULL || len < 1 || payload[0] != VESC_COMM_FW_VERSION)
		return vr_fail(err, VR_ERR_INPUT, "not a COMM_FW_VERSION reply (command %d)",
			       payload && len ? payload[0] : -1);
	if (len < 3)
		return vr_fail(err, VR_ERR_INPUT,
			       "COMM_FW_VERSION reply of %zu byte(s) carries no version: "
			       "this is our own request read back (RX and TX bridged?)", len);
	out->major = payload[1];
	out->minor = payload[2];
	size_t pos = 3;
	if (pos >= len || !take_string(payload, len, &pos, out->hw_name, sizeof out->hw_name))
		return VR_OK;
	if (pos + 12 > len)
		return VR_OK;
	memcpy(out->uuid, payload + pos, 12);
	out->has_uuid = true;
	parse_tail_fields(payload, len, pos + 12, out);
	return VR_OK;
}

/* ---- USB update path --------------------------------------------------------------- */

size_t vesc_build_jump_to_bootloader(uint8_t *payload, size_t cap)
{
	if (cap < 1)
		return 0;
	payload[0] = VESC_COMM_JUMP_TO_BOOTLOADER;
	return 1;
}

size_t vesc_build_erase_new_app(uint8_t *payload, size_t cap, uint32_t image_size)
{
	if (cap < 5)
		return 0;
	payload[0] = VESC_COMM_ERASE_NEW_APP;
	vesc_put_u32(payload + 1, image_size);
	return 5;
}

size_t vesc_build_erase_bootloader(uint8_t *payload, size_t cap)
{
	if (cap < 1)
		return 0;
	payload[0] = VESC_COMM_ERASE_BOOTLOADER;
	return 1;
}

size_t vesc_build_write_new_app_data(uint8_t *payload, size_t cap, uint32_t offset,
				     const uint8_t *data, size_t data_len)
{
	if (data_len > VESC_WRITE_MAX_DATA || cap < 5 + data_len || (data_len && !data))
		return 0;
	payload[0] = VESC_COMM_WRITE_NEW_APP_DATA;
	vesc_put_u32(payload + 1, offset);
	if (data_len)
		memcpy(payload + 5, data, data_len);
	return 5 + data_len;
}

vr_err vesc_parse_ok_reply(const uint8_t *payload, size_t len, uint8_t expected_id, bool *ok,
			   struct vr_error *err)
{
	if (payload == NULL || len < 2 || payload[0] != expected_id)
		return vr_fail(err, VR_ERR_INPUT,
			       "expected a reply to command %u, got %zu byte(s) starting with %d",
			       expected_id, len, payload && len ? payload[0] : -1);
	*ok = payload[1] != 0;
	return VR_OK;
}

vr_err vesc_parse_write_reply(const uint8_t *payload, size_t len, struct vesc_write_reply *out,
			      struct vr_error *err)
{
	memset(out, 0, sizeof *out);
	if (payload == NULL || len < 2 || payload[0] != VESC_COMM_WRITE_NEW_APP_DATA)
		return vr_fail(err, VR_ERR_INPUT,
			       "expected a COMM_WRITE_NEW_APP_DATA reply, got %zu byte(s) "
			       "starting with %d", len, payload && len ? payload[0] : -1);
	if (len > 2 && len < 6)
		return vr_fail(err, VR_ERR_INPUT,
			       "COMM_WRITE_NEW_APP_DATA reply of %zu bytes: too long for FW < 5.00, "
			       "too short to hold the offset of FW >= 5.00", len);
	out->ok = payload[1] != 0;
	if (len >= 6) {
		out->has_offset = true;
		out->offset = vesc_get_u32(payload + 2);
	}
	return VR_OK;
}
