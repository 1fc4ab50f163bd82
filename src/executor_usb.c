/* The bootloader over USB, while the firmware runs (no soldering):
 * COMM_ERASE_BOOTLOADER, then the image in COMM_WRITE_NEW_APP_DATA chunks
 * at offset 0x60000 (src/usb_update.c does the protocol). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "executor.h"
#include "session.h"
#include "usb_update.h"
#include "vesc_proto.h"

static const struct serial_obs *answering_vesc(const struct observations *obs)
{
	for (unsigned i = 0; i < obs->n_serial; i++)
		if (obs->serial[i].status == SERIAL_VESC)
			return &obs->serial[i];
	return NULL;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static vr_err usb_erase(const struct serial_obs *vesc, const struct run_hooks *hooks, struct vr_error *err)
{
	struct usb_link *link;
	vr_err rc = usb_link_open(vesc->port, 0, &link, err);
	if (rc)
		return rc;
	uint8_t req[8], reply[16];
	size_t req_len = vesc_build_erase_bootloader(req, sizeof req), reply_len = 0;
	hooks_log(hooks, "USB: erasing sector 11 (0x080E0000) through the firmware on %s", vesc->port);
	rc = usb_link_flush(link, now_ms() + 1000, err);
	if (!rc)
		rc = usb_link_exchange(link, req, req_len, req[0], now_ms() + USB_ERASE_TIMEOUT_MS, reply,
				       sizeof reply, &reply_len, err);
	bool ok = false;
	if (!rc)
		rc = vesc_parse_ok_reply(reply, reply_len, req[0], &ok, err);
	if (!rc && !ok)
		rc = vr_fail(err, VR_ERR_OPERATION, "the firmware refused to erase the bootloader sector "
			     "(motor not released? Lisp busy? retry with the motor idle)");
	usb_link_close(link);
	return rc;
}

static vr_err usb_write(struct executor *x, const struct serial_obs *vesc, const struct run_hooks *hooks,
			struct vr_error *err)
{
	if (!x->have_bootloader)
		return vr_fail(err, VR_ERR_USAGE, "no bootloader image: give --bootloader FILE (or --images DIR)");
	vr_err rc = image_recheck(&x->bootloader, err);
	if (rc)
		return rc;
	size_t len = (size_t)(image_end(&x->bootloader) - F4_BOOTLOADER_ADDR);
	uint8_t *data = malloc(len ? len : 1);
	if (!data)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	image_read_range(&x->bootloader, F4_BOOTLOADER_ADDR, data, len, 0xFF);
	/* The install erases the sector again before writing, as VESC Tool
	 * does; on an erased sector that costs about a second and guarantees
	 * the chunks land on 0xFF. */
	struct usb_install_opts opts = {.force = session_options(x->session)->force};
	rc = usb_install_bootloader(vesc->port, &vesc->fw, data, len, &opts, hooks, err);
	free(data);
	if (!rc)
		hooks_log(hooks, "USB: bootloader written (%zu bytes, every chunk acknowledged; USB cannot read "
			  "flash back: an SWD survey or the next firmware update proves it)", len);
	return rc;
}

vr_err executor_usb_step(struct executor *x, const struct plan_step *step, struct observations *obs,
			 const struct run_hooks *hooks, struct vr_error *err)
{
	const struct serial_obs *vesc = answering_vesc(obs);
	if (!vesc)
		return vr_fail(err, VR_ERR_NO_DEVICE, "no VESC firmware answers over USB any more: probe again");
	if (step->kind == STEP_USB_ERASE_BOOTLOADER)
		return usb_erase(vesc, hooks, err);
	return usb_write(x, vesc, hooks, err);
}
