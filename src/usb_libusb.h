/* The real usb_transport: an ST-Link's debug interface over libusb-1.0.
 * Lists attached ST-Links, picks one (by serial, or the only one), claims
 * interface 0 and moves 16-byte commands and data over its bulk endpoints.
 * Facts: ../shared/reference/stlink-swd-stm32f4.md §1.1-§1.2, §8.1. */
#ifndef VR_USB_LIBUSB_H
#define VR_USB_LIBUSB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "usb_transport.h"

struct libusb_context;

#define STLINK_VID 0x0483u

/* What vesc-rescue knows about one ST-Link PID (reference §1.1). */
struct stlink_pid_info {
	uint16_t pid;
	const char *model;      /* "ST-LINK/V2-1" */
	uint8_t ep_out, ep_in;
	bool usable;            /* false: identified and refused */
	const char *refusal;    /* what to do instead, when !usable */
};

/* NULL when pid is not an ST-Link PID. */
const struct stlink_pid_info *stlink_pid_lookup(uint16_t pid);
size_t stlink_pid_count(void);
const struct stlink_pid_info *stlink_pid_at(size_t i);

/* One ST-Link found on the bus. */
struct stlink_usb_entry {
	uint16_t vid, pid;
	char model[32];
	char serial[64];        /* hex-encoded when the probe reports raw bytes */
	char path[24];          /* "1-1.4" */
	char where[32];         /* "bus 1 port 1.4" */
	bool usable;            /* a PID we drive */
	vr_err problem;         /* VR_OK; VR_ERR_UNSUPPORTED (refused PID);
				   VR_ERR_ACCESS (could not open to read the serial) */
	char advice[200];       /* what to do about the problem */
};

/* Hex-encodes the 12 raw bytes old V2 firmware puts in its serial string
 * descriptor (bLength 26), else converts the UTF-16 string; desc is the
 * whole descriptor as read, len its length. Pure (tested). */
void stlink_serial_from_descriptor(const uint8_t *desc, size_t len, char *out, size_t size);

/* Pure: which of the listed entries to open (*pick), or why none can be:
 * serial given and not found, or none listed: VR_ERR_NO_DEVICE; several
 * usable and no serial: VR_ERR_USAGE listing them; only refused ones:
 * VR_ERR_UNSUPPORTED with what to do. A refused or unreadable entry chosen
 * by serial is returned: opening it reports its problem. */
vr_err stlink_usb_choose(const struct stlink_usb_entry *entries, size_t n, const char *serial,
			 size_t *pick, struct vr_error *err);

/* Every ST-Link on the bus (refused ones included, marked). ctx may be
 * NULL: a private libusb context is used for the call. A machine without
 * USB lists zero devices and succeeds. */
vr_err usb_libusb_list(struct libusb_context *ctx, struct stlink_usb_entry *out, size_t max,
		       size_t *count, struct vr_error *err);

/* Opens the ST-Link whose serial is `serial` (case-insensitive), or the
 * only usable one when serial is NULL. Several and no choice:
 * VR_ERR_USAGE listing them; none: VR_ERR_NO_DEVICE; V1 or a V3 in its
 * bootloader: VR_ERR_UNSUPPORTED with what to do. ctx may be NULL (the
 * transport then owns a private context). */
vr_err usb_libusb_open(struct libusb_context *ctx, const char *serial, struct usb_transport *out,
		       struct vr_error *err);

#endif
