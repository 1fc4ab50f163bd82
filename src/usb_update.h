/* Installing a bootloader over the VESC's own USB (or UART) link, the way
 * VESC Tool does it (reference vesc-protocol-and-flash.md §4.6): while the
 * application firmware runs, COMM_ERASE_BOOTLOADER clears sector 11, then
 * COMM_WRITE_NEW_APP_DATA chunks at offset 0x60000 (staging base
 * 0x08080000 + 0x60000 = 0x080E0000) write the raw bootloader bytes.
 * No soldering, no ST-Link; it needs a firmware that answers.
 *
 * There is no command to read flash back over this link: success means
 * every chunk was acknowledged (and, on FW >= 5.00, at the offset sent).
 * An SWD survey or the next firmware update is what proves the result. */
#ifndef VR_USB_UPDATE_H
#define VR_USB_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "hooks.h"
#include "observe.h"

/* Sector 11 is 128 KiB; nothing larger fits at 0x080E0000. */
#define USB_BOOTLOADER_MAX_LEN (128u * 1024u)
#define USB_ERASE_TIMEOUT_MS 20000u   /* VESC Tool's wait for [73][1] */
#define USB_CHUNK_TIMEOUT_MS 3000u    /* VESC Tool's wait per chunk */
#define USB_CHUNK_ATTEMPTS 3u

struct usb_install_opts {
	/* FW < 3.59 has no COMM_ERASE_BOOTLOADER: the bytes are programmed
	 * over whatever sector 11 holds (programming only clears bits), which
	 * breaks an existing bootloader. Only with force. */
	bool force;
	unsigned baud;              /* 0: leave the port's rate (USB CDC ignores it) */
	unsigned chunk_size;        /* 0: 384, VESC Tool's; at most VESC_WRITE_MAX_DATA */
	unsigned erase_timeout_ms;  /* 0: USB_ERASE_TIMEOUT_MS */
	unsigned chunk_timeout_ms;  /* 0: USB_CHUNK_TIMEOUT_MS; also the identity check */
	unsigned attempts;          /* 0: USB_CHUNK_ATTEMPTS sends per chunk */
};

/* Writes bootloader[0..len) to 0x080E0000 through the firmware on port.
 * fw is what the probe saw on that port (the person confirmed the install
 * for it): the same port is asked again before anything is erased and a
 * different answer (version or UUID) refuses with VR_ERR_CONFIRM.
 * opts may be NULL (defaults). Failures:
 *   VR_ERR_CONFIRM      FW < 3.59 without opts->force; a different device
 *   VR_ERR_INPUT        len 0 or larger than 128 KiB
 *   VR_ERR_OPERATION    erase refused, a chunk refused, a wrong offset echoed
 *   VR_ERR_TIMEOUT      the firmware stopped answering
 *   VR_ERR_GONE         the port vanished
 *   VR_ERR_INTERRUPTED  hooks->cancel, honoured before the erase and
 *                       between chunks (never inside the erase)
 *   and serial_io_open's failures (NO_DEVICE, ACCESS, BUSY, USAGE).
 * Once the erase was sent every failure message says the sector may be
 * erased or half written and that a rerun redoes it from the erase. */
vr_err usb_install_bootloader(const char *port, const struct fw_version *fw,
			      const uint8_t *bootloader, size_t len,
			      const struct usb_install_opts *opts, const struct run_hooks *hooks,
			      struct vr_error *err);

/* Who answers on port now: flushes the firmware's decoder, sends
 * COMM_FW_VERSION and waits up to timeout_ms. VR_ERR_TIMEOUT when nothing
 * answered, serial_io_open's failures otherwise. */
vr_err usb_read_fw_version(const char *port, unsigned timeout_ms, struct fw_version *fw,
			   struct vr_error *err);

/* ---- the frame exchange underneath, for callers with their own steps ---- */

struct usb_link;

/* Opens port raw through serial_io (baud 0 leaves the rate) and sends the
 * decoder flush, so a stale partial frame in the firmware cannot swallow
 * the first request. */
vr_err usb_link_open(const char *port, unsigned baud, struct usb_link **out,
		     struct vr_error *err);
void usb_link_close(struct usb_link *link);
const char *usb_link_path(const struct usb_link *link);

/* Frames payload and writes it all before deadline_ms (serial_io_now_ms
 * clock). VR_ERR_TIMEOUT when the device stops taking bytes. */
vr_err usb_link_send(struct usb_link *link, const uint8_t *payload, size_t len,
		     long long deadline_ms, struct vr_error *err);

/* Reads until a frame whose first byte is reply_id arrives or deadline_ms
 * passes; other frames (COMM_PRINT text, stray replies) are skipped. The
 * reply is copied to reply[0..*reply_len) (cut at cap). VR_ERR_TIMEOUT
 * when none came, VR_ERR_GONE when the port vanished. */
vr_err usb_link_wait(struct usb_link *link, uint8_t reply_id, long long deadline_ms,
		     uint8_t *reply, size_t cap, size_t *reply_len, struct vr_error *err);

/* usb_link_send, then usb_link_wait for reply_id, both by deadline_ms. */
vr_err usb_link_exchange(struct usb_link *link, const uint8_t *payload, size_t len,
			 uint8_t reply_id, long long deadline_ms, uint8_t *reply, size_t cap,
			 size_t *reply_len, struct vr_error *err);

/* The decoder flush again (VESC_FLUSH_LEN zero bytes), before a resend. */
vr_err usb_link_flush(struct usb_link *link, long long deadline_ms, struct vr_error *err);

#endif
