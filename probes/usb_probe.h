/* USB enumeration: what is on the bus, what each device is (by a data
 * table of VID:PID), its strings, bus path and the /dev/tty* that belongs
 * to it. Read-only: devices are opened only to read their strings.
 *
 * A 0483:5740 device is only a candidate: many STM32 CDC gadgets share the
 * ID, so only a FW_VERSION reply (the serial probe) makes it a VESC. */
#ifndef VR_PROBES_USB_PROBE_H
#define VR_PROBES_USB_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "observe.h"

struct usb_id_class {
	enum usb_kind kind;
	const char *model;    /* "ST-LINK/V2-1"; never NULL */
	/* What to do when the device cannot serve as what it looks like
	 * (ST-LINK/V1, STLINK-V3 bootloader, ROM DFU), else NULL. */
	const char *advice;
	bool unusable;        /* the advice is a refusal (access = VR_ERR_UNSUPPORTED) */
};

/* Pure: the class of a device from its IDs (strings refine the model of a
 * 0483:5740 gadget; they may be NULL). Unknown devices are USB_KIND_OTHER. */
struct usb_id_class usb_classify(uint16_t vid, uint16_t pid, const char *product);

/* True for IDs the serial probe should talk to without being asked:
 * the VESC CDC ID and USB-UART bridges (CONTRACTS.md §6). */
bool usb_is_vesc_candidate(uint16_t vid, uint16_t pid);

/* Fills obs->usb[] from libusb. A machine without USB gives zero devices;
 * a libusb failure sets obs->usb_error and its text, never aborts. */
void usb_probe_run(struct observations *obs);

/* Appends devices that are not on a real bus (the simulated bench); the
 * kind and model are filled from the table when kind is USB_KIND_OTHER
 * and the model is empty. Drops what does not fit; returns how many fit. */
unsigned usb_probe_add(struct observations *obs, const struct usb_obs *devs, unsigned n);

/* A serial port as libserialport describes it. */
struct usb_tty {
	char path[64];        /* "/dev/ttyACM0" */
	bool is_usb;
	uint16_t vid, pid;
	int bus, address;     /* -1 when unknown */
	char serial[64];
	char product[48];
};

/* Every serial port libserialport lists (pseudo-terminals are never
 * listed: they have no /sys/class/tty device). Returns the count. */
unsigned usb_list_ttys(struct usb_tty *out, unsigned max);

/* The description of one port by name (symlinks resolved). False for a
 * pseudo-terminal or anything libserialport does not know. */
bool usb_lookup_tty(const char *path, struct usb_tty *out);

#endif
