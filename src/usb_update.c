#include "usb_update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/serial_io.h"
#include "vesc_proto.h"

/* 518 zero bytes take about 0.55 s even at 9600 baud. */
#define FLUSH_TIMEOUT_MS 2000
#define READ_BUF 1024u
#define REPLY_MAX 128u

/* ---- the link: one port, one host decoder, unread input kept ------------ */

struct usb_link {
	struct serial_port *port;
	/* Bytes read but not yet fed: a reply may be followed by more in the
	 * same read (a late duplicate), which belongs to the next wait. */
	uint8_t in[READ_BUF];
	size_t in_off, in_len;
	struct vesc_decoder dec;
};

static int ms_left(long long deadline_ms)
{
	long long left = deadline_ms - serial_io_now_ms();
	if (left <= 0)
		return 0;
	return left > 600000 ? 600000 : (int)left;
}

const char *usb_link_path(const struct usb_link *link)
{
	return link ? serial_io_path(link->port) : "";
}

vr_err usb_link_flush(struct usb_link *link, long long deadline_ms, struct vr_error *err)
{
	size_t n;
	const uint8_t *zeros = vesc_flush_bytes(&n);
	return serial_io_write_all(link->port, zeros, n, (unsigned)ms_left(deadline_ms), err);
}

vr_err usb_link_open(const char *port, unsigned baud, struct usb_link **out,
		     struct vr_error *err)
{
	*out = NULL;
	struct usb_link *link = calloc(1, sizeof *link);
	if (!link)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory opening %s", port ? port : "");
	vesc_decoder_init(&link->dec);
	vr_err rc = serial_io_open(port, baud, &link->port, err);
	if (rc == VR_OK)
		rc = usb_link_flush(link, serial_io_now_ms() + FLUSH_TIMEOUT_MS, err);
	if (rc != VR_OK) {
		usb_link_close(link);
		return rc;
	}
	*out = link;
	return VR_OK;
}

void usb_link_close(struct usb_link *link)
{
	if (!link)
		return;
	serial_io_close(link->port);
	free(link);
}

vr_err usb_link_send(struct usb_link *link, const uint8_t *payload, size_t len,
		     long long deadline_ms, struct vr_error *err)
{
	uint8_t frame[VESC_FW_MAX_PAYLOAD + VESC_FRAME_OVERHEAD];
	size_t n = 0;
	/* A longer request would be dropped by the firmware's decoder. */
	if (len > VESC_FW_MAX_PAYLOAD)
		return vr_fail(err, VR_ERR_INTERNAL, "request of %zu bytes is longer than a VESC "
			       "accepts (%u)", len, VESC_FW_MAX_PAYLOAD);
	vr_err rc = vesc_encode(payload, len, frame, sizeof frame, &n, err);
	if (rc != VR_OK)
		return rc;
	return serial_io_write_all(link->port, frame, n, (unsigned)ms_left(deadline_ms), err);
}

static void copy_reply(const uint8_t *pl, size_t n, uint8_t *reply, size_t cap, size_t *reply_len)
{
	size_t keep = n < cap ? n : cap;
	if (keep)
		memcpy(reply, pl, keep);
	*reply_len = keep;
}

/* Decodes what was read so far; true once a reply_id frame was found. */
static bool take_reply(struct usb_link *link, uint8_t reply_id, uint8_t *reply, size_t cap,
		       size_t *reply_len)
{
	for (;;) {
		const uint8_t *pl;
		size_t n;
		while (vesc_decoder_next(&link->dec, &pl, &n)) {
			if (n > 0 && pl[0] == reply_id) {
				copy_reply(pl, n, reply, cap, reply_len);
				return true;
			}
		}
		if (link->in_off == link->in_len)
			return false;
		size_t took = vesc_decoder_feed(&link->dec, link->in + link->in_off,
						link->in_len - link->in_off);
		if (took == 0)
			return false;   /* cannot happen: frames were all taken above */
		link->in_off += took;
	}
}

vr_err usb_link_wait(struct usb_link *link, uint8_t reply_id, long long deadline_ms,
		     uint8_t *reply, size_t cap, size_t *reply_len, struct vr_error *err)
{
	*reply_len = 0;
	for (;;) {
		if (take_reply(link, reply_id, reply, cap, reply_len))
			return VR_OK;
		int left = ms_left(deadline_ms);
		if (left == 0) {
			/* A stray header in front of the reply holds it back until
			 * the bytes it announced arrive: decide it now. */
			vesc_decoder_finish(&link->dec);
			if (take_reply(link, reply_id, reply, cap, reply_len))
				return VR_OK;
			return vr_fail(err, VR_ERR_TIMEOUT, "%s: no reply to command %u in time",
				       usb_link_path(link), reply_id);
		}
		size_t got = 0;
		vr_err rc = serial_io_read(link->port, link->in, sizeof link->in, (unsigned)left, &got, err);
		if (rc != VR_OK)
			return rc;
		link->in_off = 0;
		link->in_len = got;
	}
}

vr_err usb_link_exchange(struct usb_link *link, const uint8_t *payload, size_t len,
			 uint8_t reply_id, long long deadline_ms, uint8_t *reply, size_t cap,
			 size_t *reply_len, struct vr_error *err)
{
	*reply_len = 0;
	vr_err rc = usb_link_send(link, payload, len, deadline_ms, err);
	if (rc != VR_OK)
		return rc;
	return usb_link_wait(link, reply_id, deadline_ms, reply, cap, reply_len, err);
}

/* ---- COMM_FW_VERSION ----------------------------------------------------- */

/* Frames with ID 0 that do not parse (our own request echoed back by a
 * loopback) are not an answer: keep waiting for one that does. */
static vr_err ask_fw_version(struct usb_link *link, unsigned timeout_ms, struct fw_version *fw,
			     struct vr_error *err)
{
	long long deadline = serial_io_now_ms() + timeout_ms;
	uint8_t req[1], reply[REPLY_MAX];
	size_t req_len = vesc_build_fw_version(req, sizeof req), n;
	vr_err rc = usb_link_send(link, req, req_len, deadline, err);
	while (rc == VR_OK) {
		rc = usb_link_wait(link, VESC_COMM_FW_VERSION, deadline, reply, sizeof reply, &n, err);
		if (rc == VR_OK && vesc_fw_version_parse(reply, n, fw, NULL) == VR_OK)
			return VR_OK;
	}
	if (rc == VR_ERR_TIMEOUT)
		return vr_fail(err, VR_ERR_TIMEOUT, "%s: no VESC firmware answered COMM_FW_VERSION "
			       "within %u ms (blank or corrupt app, or not a VESC): check power and "
			       "cable, or use the SWD path", usb_link_path(link), timeout_ms);
	return rc;
}

vr_err usb_read_fw_version(const char *port, unsigned timeout_ms, struct fw_version *fw,
			   struct vr_error *err)
{
	vesc_fw_version_clear(fw);
	struct usb_link *link;
	vr_err rc = usb_link_open(port, 0, &link, err);
	if (rc != VR_OK)
		return rc;
	rc = ask_fw_version(link, timeout_ms, fw, err);
	usb_link_close(link);
	return rc;
}

/* ---- the install ---------------------------------------------------------- */

struct install {
	struct usb_link *link;
	const struct run_hooks *hooks;
	const struct fw_version *fw;
	const uint8_t *image;
	size_t len;
	unsigned chunk, erase_ms, chunk_ms, attempts;
	bool erase;           /* FW >= 3.59: erase first; blank chunks need no write */
	bool touched;         /* an erase or write reached the firmware */
	size_t done;          /* bytes acknowledged or skipped as blank */
	unsigned written, skipped, resent;
	bool has_stale;       /* a resent chunk may still get a second reply */
	uint32_t stale_offset;
	long long t0;
};

enum chunk_result { CHUNK_OK, CHUNK_NO_REPLY, CHUNK_REFUSED, CHUNK_FAILED };

static unsigned or_default(unsigned v, unsigned def)
{
	return v ? v : def;
}

static vr_err check_request(const struct fw_version *fw, size_t len,
			    const struct usb_install_opts *o, struct vr_error *err)
{
	if (len == 0 || len > USB_BOOTLOADER_MAX_LEN)
		return vr_fail(err, VR_ERR_INPUT, "a bootloader image of %zu bytes cannot be right: "
			       "it must be 1 to %u bytes (sector 11 is 128 KiB; VESC bootloaders are "
			       "about 4-6 KiB)", len, USB_BOOTLOADER_MAX_LEN);
	if (o->chunk_size > VESC_WRITE_MAX_DATA)
		return vr_fail(err, VR_ERR_USAGE, "chunk size %u is larger than one firmware frame "
			       "carries (%u)", o->chunk_size, VESC_WRITE_MAX_DATA);
	if (!fw || fw->major < 0)
		return vr_fail(err, VR_ERR_CONFIRM, "the firmware version on the port is unknown: "
			       "probe it first (the erase command and the reply format depend on it)");
	if (!vesc_has_erase_bootloader(fw->major, fw->minor) && !o->force)
		return vr_fail(err, VR_ERR_CONFIRM, "FW %d.%02d cannot erase the bootloader sector "
			       "(COMM_ERASE_BOOTLOADER needs 3.59): writing over an existing "
			       "bootloader can break it; use SWD, or --force if the sector is known "
			       "to be blank", fw->major, fw->minor);
	return VR_OK;
}

static const char *sector_note(const struct install *in)
{
	if (in->erase)
		return "sector 11 (0x080E0000) is erased or half written, the firmware still "
		       "runs; rerun the install: it starts again from the erase";
	return "sector 11 (0x080E0000) is half written over its old contents, which this "
	       "firmware cannot erase: write the bootloader over SWD";
}

/* Adds where the install stopped, and what that left in sector 11, to a
 * failure already recorded in err. */
static vr_err stopped(const struct install *in, vr_err code, struct vr_error *err)
{
	char cause[VR_ERROR_MSG_MAX];
	snprintf(cause, sizeof cause, "%s", err->msg);
	if (!in->touched)
		return vr_fail(err, code, "%s (nothing was changed on the VESC)", cause);
	return vr_fail(err, code, "%s; stopped at %zu of %zu bytes: %s", cause, in->done, in->len,
		       sector_note(in));
}

static double seconds_since(long long t0)
{
	return (double)(serial_io_now_ms() - t0) / 1000.0;
}

static void report_writing(const struct install *in)
{
	struct engine_progress p = {.active = true, .done = in->done, .total = in->len,
				    .eta_s = -1, .cancellable = true};
	snprintf(p.what, sizeof p.what, "writing the bootloader over USB");
	p.elapsed_s = seconds_since(in->t0);
	if (p.elapsed_s > 0 && in->done > 0) {
		p.rate_bps = (double)in->done / p.elapsed_s;
		p.eta_s = (double)(in->len - in->done) / p.rate_bps;
	}
	hooks_progress(in->hooks, &p);
}

static void report_erasing(const struct install *in)
{
	/* F405 128 KiB sector erase at x32: 1 s typical, 2 s maximum, after
	 * the firmware waited up to 3 s for the motor to be released. */
	struct engine_progress p = {.active = true, .typical_s = 1, .max_s = 5,
				    .eta_s = -1, .cancellable = false};
	snprintf(p.what, sizeof p.what, "erasing the bootloader sector over USB");
	hooks_progress(in->hooks, &p);
}

static bool same_device(const struct fw_version *a, const struct fw_version *b)
{
	if (a->major != b->major || a->minor != b->minor)
		return false;
	if (a->has_uuid && b->has_uuid && memcmp(a->uuid, b->uuid, sizeof a->uuid) != 0)
		return false;
	return !a->hw_name[0] || !b->hw_name[0] || strcmp(a->hw_name, b->hw_name) == 0;
}

/* The person confirmed this install for what the probe saw; a replugged
 * or different controller must not get it unasked. */
static vr_err confirm_identity(struct install *in, struct vr_error *err)
{
	struct fw_version now;
	vr_err rc = ask_fw_version(in->link, in->chunk_ms, &now, err);
	if (rc != VR_OK)
		return stopped(in, rc, err);
	if (!same_device(in->fw, &now))
		return vr_fail(err, VR_ERR_CONFIRM, "%s now answers as FW %d.%02d \"%s\", not the "
			       "FW %d.%02d \"%s\" this install was confirmed for: probe again and "
			       "confirm again (nothing was changed)", usb_link_path(in->link),
			       now.major, now.minor, now.hw_name, in->fw->major, in->fw->minor,
			       in->fw->hw_name);
	return VR_OK;
}

static vr_err erase_sector(struct install *in, struct vr_error *err)
{
	uint8_t req[4], reply[REPLY_MAX];
	size_t req_len = vesc_build_erase_bootloader(req, sizeof req), n;
	long long deadline = serial_io_now_ms() + in->erase_ms;
	hooks_log(in->hooks, "erasing the bootloader sector (COMM_ERASE_BOOTLOADER, up to %u s)",
		  in->erase_ms / 1000);
	report_erasing(in);
	vr_err rc = usb_link_send(in->link, req, req_len, deadline, err);
	if (rc != VR_OK)
		return stopped(in, rc, err);
	in->touched = true;
	rc = usb_link_wait(in->link, VESC_COMM_ERASE_BOOTLOADER, deadline, reply, sizeof reply, &n, err);
	if (rc == VR_ERR_TIMEOUT)
		vr_fail(err, rc, "no reply to COMM_ERASE_BOOTLOADER within %u s (motor not released? "
			"Lisp busy? the firmware hung?)", in->erase_ms / 1000);
	if (rc != VR_OK)
		return stopped(in, rc, err);
	bool ok = false;
	if (vesc_parse_ok_reply(reply, n, VESC_COMM_ERASE_BOOTLOADER, &ok, err) != VR_OK)
		return stopped(in, VR_ERR_OPERATION, err);
	if (!ok) {
		vr_fail(err, VR_ERR_OPERATION, "the firmware refused to erase the bootloader sector "
			"(motor not released? Lisp busy? retry with the motor idle)");
		return stopped(in, VR_ERR_OPERATION, err);
	}
	hooks_log(in->hooks, "bootloader sector erased");
	return VR_OK;
}

/* A reply for the offset of a chunk that was resent is the late answer to
 * its first send, not an answer for this one. Replies without the echo
 * (FW < 5.00) cannot be told apart: there a late reply counts for the
 * chunk in flight. */
static bool stale_reply(const struct install *in, uint32_t echoed)
{
	return in->has_stale && echoed == in->stale_offset;
}

static enum chunk_result await_chunk_reply(struct install *in, uint32_t offset,
					   long long deadline, struct vr_error *err)
{
	for (;;) {
		uint8_t reply[REPLY_MAX];
		size_t n;
		vr_err rc = usb_link_wait(in->link, VESC_COMM_WRITE_NEW_APP_DATA, deadline, reply,
					  sizeof reply, &n, err);
		if (rc == VR_ERR_TIMEOUT)
			return CHUNK_NO_REPLY;
		if (rc != VR_OK)
			return CHUNK_FAILED;
		struct vesc_write_reply wr;
		if (vesc_parse_write_reply(reply, n, &wr, err) != VR_OK) {
			vr_wrap(err, "the reply to the chunk at 0x%08X is malformed",
				VESC_STAGING_BASE + offset);
			err->code = VR_ERR_OPERATION;
			return CHUNK_FAILED;
		}
		/* CONTRACTS §6: FW >= 5.00 echoes the offset; check it whenever present. */
		if (wr.has_offset && wr.offset != offset && stale_reply(in, wr.offset)) {
			hooks_log(in->hooks, "late second reply for offset 0x%05X ignored", wr.offset);
			continue;
		}
		if (wr.has_offset && wr.offset != offset) {
			vr_fail(err, VR_ERR_OPERATION, "chunk for offset 0x%05X (0x%08X) acknowledged "
				"as offset 0x%05X (0x%08X): the firmware may have written it there "
				"(sectors 8-11 only, the app is safe)",
				offset, VESC_STAGING_BASE + offset, wr.offset, VESC_STAGING_BASE + wr.offset);
			return CHUNK_FAILED;
		}
		return wr.ok ? CHUNK_OK : CHUNK_REFUSED;
	}
}

static enum chunk_result send_chunk(struct install *in, const uint8_t *req, size_t req_len,
				    uint32_t offset, struct vr_error *err)
{
	long long deadline = serial_io_now_ms() + in->chunk_ms;
	vr_err rc = usb_link_send(in->link, req, req_len, deadline, err);
	if (rc == VR_ERR_TIMEOUT)
		return CHUNK_NO_REPLY;
	if (rc != VR_OK)
		return CHUNK_FAILED;
	in->touched = true;
	return await_chunk_reply(in, offset, deadline, err);
}

static vr_err chunk_gave_up(struct install *in, enum chunk_result last, uint32_t offset,
			    struct vr_error *err)
{
	if (last == CHUNK_REFUSED)
		vr_fail(err, VR_ERR_OPERATION, "the firmware refused the chunk at 0x%08X %u times "
			"(flash write failed: motor not released?)", VESC_STAGING_BASE + offset,
			in->attempts);
	else
		vr_fail(err, VR_ERR_TIMEOUT, "no reply to the chunk at 0x%08X after %u sends of "
			"%u ms each: the firmware stopped answering", VESC_STAGING_BASE + offset,
			in->attempts, in->chunk_ms);
	return stopped(in, err->code, err);
}

static vr_err cancelled(const struct install *in, struct vr_error *err)
{
	if (!in->touched)
		return vr_fail(err, VR_ERR_INTERRUPTED, "cancelled before anything was sent "
			       "(nothing was changed on the VESC)");
	return vr_fail(err, VR_ERR_INTERRUPTED, "cancelled after %zu of %zu bytes (%u chunks "
		       "written): %s", in->done, in->len, in->written, sector_note(in));
}

/* Resending is safe: programming the same bytes again clears no further
 * bits. The flush first, because a half-received frame in a FW >= 5.03
 * decoder never times out and would swallow the resend. */
static vr_err prepare_resend(struct install *in, enum chunk_result last, uint32_t offset,
			     unsigned attempt, struct vr_error *err)
{
	if (hooks_cancelled(in->hooks))
		return cancelled(in, err);
	hooks_log(in->hooks, "chunk at 0x%08X: %s, sending it again (%u of %u)",
		  VESC_STAGING_BASE + offset, last == CHUNK_REFUSED ? "refused" : "no reply",
		  attempt, in->attempts);
	in->resent++;
	vr_err rc = usb_link_flush(in->link, serial_io_now_ms() + FLUSH_TIMEOUT_MS, err);
	if (rc != VR_OK && rc != VR_ERR_TIMEOUT)
		return stopped(in, rc, err);
	return VR_OK;
}

static vr_err write_chunk(struct install *in, size_t off, size_t len, struct vr_error *err)
{
	uint8_t req[VESC_FW_MAX_PAYLOAD];
	uint32_t offset = VESC_BOOTLOADER_OFFSET + (uint32_t)off;
	size_t req_len = vesc_build_write_new_app_data(req, sizeof req, offset, in->image + off, len);
	if (req_len == 0)
		return vr_fail(err, VR_ERR_INTERNAL, "chunk of %zu bytes does not fit a request", len);
	enum chunk_result r = CHUNK_NO_REPLY;
	for (unsigned attempt = 1; attempt <= in->attempts; attempt++) {
		vr_err rc = attempt > 1 ? prepare_resend(in, r, offset, attempt, err) : VR_OK;
		if (rc != VR_OK)
			return rc;
		r = send_chunk(in, req, req_len, offset, err);
		if (r == CHUNK_FAILED)
			return stopped(in, err->code, err);
		if (r != CHUNK_OK)
			continue;
		if (attempt > 1) {
			in->has_stale = true;
			in->stale_offset = offset;
		}
		return VR_OK;
	}
	return chunk_gave_up(in, r, offset, err);
}

static bool all_blank(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0xFF)
			return false;
	return true;
}

static vr_err write_image(struct install *in, struct vr_error *err)
{
	in->t0 = serial_io_now_ms();
	report_writing(in);
	for (size_t off = 0; off < in->len;) {
		size_t n = in->len - off < in->chunk ? in->len - off : in->chunk;
		if (hooks_cancelled(in->hooks))
			return cancelled(in, err);
		/* Only a just-erased sector already holds the 0xFF. */
		if (in->erase && all_blank(in->image + off, n)) {
			in->skipped++;
		} else {
			vr_err rc = write_chunk(in, off, n, err);
			if (rc != VR_OK)
				return rc;
			in->written++;
		}
		off += n;
		in->done = off;
		report_writing(in);
	}
	return VR_OK;
}

static vr_err run_install(struct install *in, struct vr_error *err)
{
	vr_err rc = confirm_identity(in, err);
	if (rc == VR_OK && hooks_cancelled(in->hooks))
		rc = cancelled(in, err);
	if (rc == VR_OK && in->erase)
		rc = erase_sector(in, err);
	if (rc == VR_OK)
		rc = write_image(in, err);
	return rc;
}

vr_err usb_install_bootloader(const char *port, const struct fw_version *fw,
			      const uint8_t *bootloader, size_t len,
			      const struct usb_install_opts *opts, const struct run_hooks *hooks,
			      struct vr_error *err)
{
	const struct usb_install_opts none = {0};
	const struct usb_install_opts *o = opts ? opts : &none;
	struct vr_error scratch;
	/* Failures are built up in steps (cause, then where it stopped). */
	if (!err)
		err = &scratch;
	vr_err rc = check_request(fw, len, o, err);
	if (rc != VR_OK)
		return rc;
	struct install in = {
		.hooks = hooks, .fw = fw, .image = bootloader, .len = len,
		.chunk = or_default(o->chunk_size, VESC_WRITE_CHUNK),
		.erase_ms = or_default(o->erase_timeout_ms, USB_ERASE_TIMEOUT_MS),
		.chunk_ms = or_default(o->chunk_timeout_ms, USB_CHUNK_TIMEOUT_MS),
		.attempts = or_default(o->attempts, USB_CHUNK_ATTEMPTS),
		.erase = vesc_has_erase_bootloader(fw->major, fw->minor),
	};
	if (hooks_cancelled(hooks))
		return cancelled(&in, err);
	rc = usb_link_open(port, o->baud, &in.link, err);
	if (rc != VR_OK)
		return rc;
	hooks_log(hooks, "installing the bootloader over USB on %s (FW %d.%02d): %zu bytes at "
		  "0x080E0000 in chunks of %u", port, fw->major, fw->minor, len, in.chunk);
	if (!in.erase)
		hooks_log(hooks, "FW %d.%02d has no COMM_ERASE_BOOTLOADER: writing over sector 11 "
			  "as it is (--force)", fw->major, fw->minor);
	rc = run_install(&in, err);
	usb_link_close(in.link);
	if (rc == VR_OK)
		hooks_log(hooks, "bootloader written over USB: %zu bytes at 0x080E0000 (%u chunks "
			  "written, %u blank skipped, %u resent); it cannot be read back over USB",
			  len, in.written, in.skipped, in.resent);
	return rc;
}
