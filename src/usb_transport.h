/* The one interface the ST-Link driver talks to (CONTRACTS.md §1).
 * Two implementations: libusb (src/usb_libusb.c) and the in-process bench
 * (src/bench/stlink_sim.c). A transport owns one claimed USB interface with a
 * bulk OUT and a bulk IN endpoint. */
#ifndef VR_USB_TRANSPORT_H
#define VR_USB_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct usb_transport_ops {
	/* Sends all of buf or fails: VR_ERR_TIMEOUT, VR_ERR_GONE, VR_ERR_IO. */
	vr_err (*bulk_out)(void *ctx, const uint8_t *buf, size_t len,
			   unsigned timeout_ms, struct vr_error *err);
	/* Reads up to len bytes; *got tells how many arrived. */
	vr_err (*bulk_in)(void *ctx, uint8_t *buf, size_t len, size_t *got,
			  unsigned timeout_ms, struct vr_error *err);
	/* USB port reset of the device (the last resort for a wedged probe). */
	vr_err (*reset)(void *ctx, struct vr_error *err);
	void (*close)(void *ctx);
};

struct usb_transport {
	const struct usb_transport_ops *ops;
	void *ctx;
	uint16_t vid, pid;
	char serial[64];     /* as the probe reports it, hex-encoded if raw */
	char where[32];      /* "bus 1 port 1.4", or "simulated" */
};

static inline vr_err usb_transport_out(struct usb_transport *t, const uint8_t *buf,
				       size_t len, unsigned timeout_ms, struct vr_error *err)
{
	return t->ops->bulk_out(t->ctx, buf, len, timeout_ms, err);
}

static inline vr_err usb_transport_in(struct usb_transport *t, uint8_t *buf, size_t len,
				      size_t *got, unsigned timeout_ms, struct vr_error *err)
{
	return t->ops->bulk_in(t->ctx, buf, len, got, timeout_ms, err);
}

static inline void usb_transport_close(struct usb_transport *t)
{
	if (t && t->ops && t->ops->close)
		t->ops->close(t->ctx);
	if (t)
		t->ops = NULL;
}

#endif
