/* The VESC packet protocol as a host speaks it (reference
 * vesc-protocol-and-flash.md §1–§4.6, CONTRACTS.md §6): frame encoder,
 * streaming frame decoder, the decoder flush, COMM_FW_VERSION for every
 * firmware generation, and the commands of the USB update path.
 *
 * Allocation-free: every function works on caller-owned buffers. */
#ifndef VR_VESC_PROTO_H
#define VR_VESC_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "observe.h"

/* ---- framing ------------------------------------------------------------ */

#define VESC_START_SHORT 0x02   /* 1-byte length, payload 1..255 */
#define VESC_START_LONG 0x03    /* 2-byte length, payload 256..65535 */
#define VESC_END_BYTE 0x03
/* What the host decoder accepts; larger frames (start byte 4) are refused. */
#define VESC_HOST_MAX_PAYLOAD 16384u
/* What an STM32 firmware >= 3.48 can receive (older: 1024). Requests must
 * not be longer. */
#define VESC_FW_MAX_PAYLOAD 512u
/* Largest header + CRC + end byte of a frame the encoder writes. */
#define VESC_FRAME_OVERHEAD 6u
/* Zero bytes that make any firmware decoder drop a stale partial frame
 * (reference §1.4: the largest frame is 518 bytes). */
#define VESC_FLUSH_LEN 518u

/* Size of the frame carrying payload_len bytes, 0 when it cannot be framed
 * (0 or more than 65535 bytes). */
size_t vesc_frame_size(size_t payload_len);

/* Frames payload into out. Payloads of 1..65535 bytes; out must hold
 * vesc_frame_size(len) bytes. */
vr_err vesc_encode(const uint8_t *payload, size_t len, uint8_t *out, size_t out_cap,
		   size_t *out_len, struct vr_error *err);

/* VESC_FLUSH_LEN zero bytes to write before the first request on a port:
 * 0x00 is never a start byte and fails the end-byte check of any stale
 * header, so it can neither complete nor start a command. Needed because
 * FW >= 5.03 never times a partial frame out. [inferred in the reference,
 * checked against bldc comm/packet.c: the longest frame is 518 bytes.] */
const uint8_t *vesc_flush_bytes(size_t *len);

/* ---- streaming decoder ---------------------------------------------------- */

struct vesc_decoder_stats {
	unsigned long bytes;        /* every byte fed */
	unsigned frames;            /* CRC-valid frames delivered */
	unsigned crc_errors;        /* well-formed frames (header, length, end byte) with a bad CRC */
	unsigned noise_bytes;       /* bytes that were not part of a valid frame */
	unsigned printable_noise;   /* noise bytes that are printable ASCII, CR, LF or TAB */
	unsigned bug_frames;        /* FW < 3.48 256-byte frames with a "02 00" header, dropped */
	unsigned overflows;         /* buffer full without a decision (cannot happen; counted anyway) */
};

struct vesc_decoder {
	/* linear buffer as in the firmware: bytes [rd, wr) are undecided */
	uint8_t buf[VESC_HOST_MAX_PAYLOAD + VESC_FRAME_OVERHEAD];
	size_t rd, wr;
	bool draining;              /* vesc_decoder_finish: no more bytes will come */
	struct vesc_decoder_stats stats;
};

void vesc_decoder_init(struct vesc_decoder *d);

/* Appends bytes and returns how many it took (fewer than len only while
 * decided frames are waiting to be taken with vesc_decoder_next). Feed
 * in a loop:
 *     for (size_t off = 0; off < n; ) {
 *         off += vesc_decoder_feed(&d, buf + off, n - off);
 *         while (vesc_decoder_next(&d, &pl, &pl_len)) use(pl, pl_len);
 *     }                                                                   */
size_t vesc_decoder_feed(struct vesc_decoder *d, const uint8_t *data, size_t len);

/* The next complete, CRC-valid frame: *payload points into the decoder and
 * stays valid until the next vesc_decoder_feed/finish. Like the firmware,
 * garbage is skipped one byte at a time, and a plausible header holds
 * decoding back until as many bytes as it announces have arrived. */
bool vesc_decoder_next(struct vesc_decoder *d, const uint8_t **payload, size_t *len);

/* End of input (the reply window closed): the bytes a plausible header
 * was still waiting for will not come, so decide them now: skip the
 * header byte as noise and look for frames behind it. Call
 * vesc_decoder_next until it returns false afterwards (feeding more
 * bytes ends the finishing). This is how a reply behind a stray "02 FF"
 * (or "03 xx yy", up to 16 KiB) of line noise is still found: call it
 * whenever a reply window closes, before concluding nothing came. */
void vesc_decoder_finish(struct vesc_decoder *d);

/* Bytes fed but not decided yet (a partial frame). */
size_t vesc_decoder_pending(const struct vesc_decoder *d);

/* Noise that reads as text: a talking non-VESC device (NMEA, AT, a shell). */
bool vesc_decoder_looks_like_text(const struct vesc_decoder *d);

/* ---- command IDs (reference §2) ------------------------------------------- */

/* Only IDs 0..4 have been stable since FW 1.x. */
enum vesc_comm_id {
	VESC_COMM_FW_VERSION = 0,
	VESC_COMM_JUMP_TO_BOOTLOADER = 1,
	VESC_COMM_ERASE_NEW_APP = 2,
	VESC_COMM_WRITE_NEW_APP_DATA = 3,
	VESC_COMM_GET_VALUES = 4,
	/* The rest are valid for FW >= 3.48 (the ALL_CAN block) and later. */
	VESC_COMM_JUMP_TO_BOOTLOADER_ALL_CAN = 59,
	VESC_COMM_ERASE_NEW_APP_ALL_CAN = 60,
	VESC_COMM_WRITE_NEW_APP_DATA_ALL_CAN = 61,
	VESC_COMM_PING_CAN = 62,
	VESC_COMM_BM_CONNECT = 66,
	VESC_COMM_BM_ERASE_FLASH_ALL = 67,
	VESC_COMM_BM_WRITE_FLASH = 68,
	VESC_COMM_BM_REBOOT = 69,
	VESC_COMM_BM_DISCONNECT = 70,
	VESC_COMM_BM_MAP_PINS_DEFAULT = 71,
	VESC_COMM_BM_MAP_PINS_NRF5X = 72,
	VESC_COMM_ERASE_BOOTLOADER = 73,          /* FW >= 3.59 */
	VESC_COMM_ERASE_BOOTLOADER_ALL_CAN = 74,
	VESC_COMM_BM_MEM_READ = 80,               /* len capped at 509 */
	VESC_COMM_WRITE_NEW_APP_DATA_LZO = 81,    /* FW >= 3.63, replies with ID 3 */
	VESC_COMM_WRITE_NEW_APP_DATA_ALL_CAN_LZO = 82,
	VESC_COMM_BM_WRITE_FLASH_LZO = 83,
	VESC_COMM_BM_HALT_REQ = 116,              /* FW >= 5.03 */
	VESC_COMM_BM_MEM_WRITE = 125,             /* FW >= 5.03 */
};

/* Offset (relative to the staging base 0x08080000) at which VESC Tool
 * writes a bootloader with WRITE_NEW_APP_DATA: lands at 0x080E0000. */
#define VESC_STAGING_BASE 0x08080000u
#define VESC_BOOTLOADER_OFFSET 0x60000u
/* VESC Tool's chunk size for WRITE_NEW_APP_DATA. */
#define VESC_WRITE_CHUNK 384u

/* IDs that moved between firmware generations; -1 when the version is not
 * one the reference documents (then do not send it). */
int vesc_comm_reboot_id(int major, int minor);
int vesc_comm_alive_id(int major, int minor);
int vesc_comm_forward_can_id(int major, int minor);
/* COMM_ERASE_BOOTLOADER exists (FW >= 3.59). */
bool vesc_has_erase_bootloader(int major, int minor);
/* WRITE_NEW_APP_DATA replies echo the offset (FW >= 5.00). */
bool vesc_write_reply_has_offset(int major, int minor);

/* ---- COMM_FW_VERSION (reference §3) ----------------------------------------- */

/* The request payload (one byte, 0x00) and its 6-byte frame. */
size_t vesc_build_fw_version(uint8_t *payload, size_t cap);
#define VESC_FW_VERSION_FRAME_LEN 6u
void vesc_fw_version_frame(uint8_t out[VESC_FW_VERSION_FRAME_LEN]);

/* Parses a reply of any generation. Fields the reply does not carry stay
 * -1 / false / "". Strings are cut at 31 characters and anything not
 * printable ASCII becomes '?', so they are safe to print and put in JSON.
 * VR_ERR_INPUT when it is not a FW_VERSION reply (wrong ID, or fewer than
 * 3 bytes: our own 1-byte request read back is an echo, not a VESC). */
vr_err vesc_fw_version_parse(const uint8_t *payload, size_t len, struct fw_version *out,
			     struct vr_error *err);
void vesc_fw_version_clear(struct fw_version *fw);

/* ---- USB update path (reference §4.6) ------------------------------------------- */

/* Request payloads; each returns the payload length, or 0 when cap is too
 * small (or data_len too large for one firmware frame). */
size_t vesc_build_jump_to_bootloader(uint8_t *payload, size_t cap);
size_t vesc_build_erase_new_app(uint8_t *payload, size_t cap, uint32_t image_size);
size_t vesc_build_erase_bootloader(uint8_t *payload, size_t cap);
size_t vesc_build_write_new_app_data(uint8_t *payload, size_t cap, uint32_t offset,
				     const uint8_t *data, size_t data_len);
/* Largest data_len one WRITE_NEW_APP_DATA frame can carry to the firmware. */
#define VESC_WRITE_MAX_DATA (VESC_FW_MAX_PAYLOAD - 5u)

/* [id][ok]: ERASE_NEW_APP (2) and ERASE_BOOTLOADER (73). VR_ERR_INPUT when
 * the payload is not that reply. */
vr_err vesc_parse_ok_reply(const uint8_t *payload, size_t len, uint8_t expected_id, bool *ok,
			   struct vr_error *err);

struct vesc_write_reply {
	bool ok;
	bool has_offset;            /* FW >= 5.00 echoes the offset */
	uint32_t offset;
};

/* [3][ok] (FW < 5.00) or [3][ok][u32 offset] (FW >= 5.00). */
vr_err vesc_parse_write_reply(const uint8_t *payload, size_t len, struct vesc_write_reply *out,
			      struct vr_error *err);

/* Big-endian helpers shared with the simulator. */
void vesc_put_u32(uint8_t *p, uint32_t v);
uint32_t vesc_get_u32(const uint8_t *p);

#endif
