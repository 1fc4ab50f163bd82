/* libusb-1.0 transport for the ST-Link: see usb_libusb.h. */
#include "usb_libusb.h"

#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define DRAIN_TIMEOUT_MS 5u
#define DRAIN_MAX_READS 32
#define DESC_TIMEOUT_MS 500u
#define MAX_ENTRIES 16
#define REENUMERATE_WAIT_MS 1000u

static const char refuse_v1[] =
	"this is an ST-LINK/V1 (STM32VL Discovery): it speaks a mass-storage protocol "
	"vesc-rescue does not support; use an ST-LINK/V2 (a clone is fine), V2-1 or V3";
static const char refuse_v3_boot[] =
	"the probe is in its bootloader: replug it / update it with ST's upgrade tool "
	"(STSW-LINK007)";

/* Reference §1.1: endpoints per PID ([SO] usb.c, [OO], [PY] USB_PID_EP_MAP). */
static const struct stlink_pid_info pid_table[] = {
	{0x3744, "ST-LINK/V1", 0x02, 0x81, false, refuse_v1},
	{0x3748, "ST-LINK/V2", 0x02, 0x81, true, NULL},
	{0x374B, "ST-LINK/V2-1", 0x01, 0x81, true, NULL},
	{0x374A, "ST-LINK/V2-1 (audio)", 0x01, 0x81, true, NULL},
	{0x3752, "ST-LINK/V2-1 (no MSD)", 0x01, 0x81, true, NULL},
	{0x374D, "STLINK-V3 bootloader", 0x01, 0x81, false, refuse_v3_boot},
	{0x374E, "STLINK-V3E/V3SET", 0x01, 0x81, true, NULL},
	{0x374F, "STLINK-V3S/V3SET", 0x01, 0x81, true, NULL},
	{0x3753, "STLINK-V3 (2 VCP)", 0x01, 0x81, true, NULL},
	{0x3754, "STLINK-V3MINIE", 0x01, 0x81, true, NULL},
	{0x3755, "STLINK-V3PWR bootloader", 0x01, 0x81, false, refuse_v3_boot},
	{0x3757, "STLINK-V3PWR", 0x01, 0x81, true, NULL},
};

const struct stlink_pid_info *stlink_pid_lookup(uint16_t pid)
{
	for (size_t i = 0; i < stlink_pid_count(); i++)
		if (pid_table[i].pid == pid)
			return &pid_table[i];
	return NULL;
}

size_t stlink_pid_count(void)
{
	return sizeof pid_table / sizeof pid_table[0];
}

const struct stlink_pid_info *stlink_pid_at(size_t i)
{
	return i < stlink_pid_count() ? &pid_table[i] : NULL;
}

void stlink_serial_from_descriptor(const uint8_t *desc, size_t len, char *out, size_t size)
{
	if (!size)
		return;
	out[0] = '\0';
	if (len < 2 || desc[0] < 2)
		return;
	size_t blen = desc[0] < len ? desc[0] : len;
	size_t used = 0;
	if (desc[0] == 26 && blen == 26) {
		/* Old V2 firmware: 12 raw bytes, one per UTF-16 unit's low byte
		 * (OpenOCD stlink_usb_get_alternate_serial, stlink-org). */
		for (size_t i = 0; i < 12 && used + 3 <= size; i++)
			used += (size_t)snprintf(out + used, size - used, "%02X", desc[2 + 2 * i]);
		return;
	}
	for (size_t i = 2; i + 1 < blen && used + 1 < size; i += 2) {
		unsigned unit = desc[i] | (desc[i + 1] << 8);
		out[used++] = (unit >= 0x20 && unit < 0x7F) ? (char)unit : '?';
	}
	out[used] = '\0';
}

/* ---- error mapping --------------------------------------------------------- */
static vr_err map_libusb(int rc, const char *doing, const char *where, struct vr_error *err)
{
	switch (rc) {
	case LIBUSB_ERROR_ACCESS:
		return vr_fail(err, VR_ERR_ACCESS,
			       "no permission for the ST-Link at %s: install the udev rules "
			       "(vesc-rescue --udev-rules | sudo tee /etc/udev/rules.d/70-vesc-rescue.rules; "
			       "sudo udevadm control --reload-rules && sudo udevadm trigger), then replug it",
			       where);
	case LIBUSB_ERROR_BUSY:
		return vr_fail(err, VR_ERR_BUSY,
			       "another program has the ST-Link at %s (OpenOCD, st-util, stlink-server "
			       "or a second vesc-rescue): close it and run again", where);
	case LIBUSB_ERROR_NO_DEVICE:
	case LIBUSB_ERROR_NOT_FOUND:
		return vr_fail(err, VR_ERR_GONE,
			       "the ST-Link at %s disappeared while %s: plug it back in and run again",
			       where, doing);
	case LIBUSB_ERROR_TIMEOUT:
		return vr_fail(err, VR_ERR_TIMEOUT, "the ST-Link at %s did not answer while %s",
			       where, doing);
	case LIBUSB_ERROR_NO_MEM:
		return vr_fail(err, VR_ERR_NOMEM, "out of memory while %s", doing);
	default:
		return vr_fail(err, VR_ERR_IO, "USB error while %s with the ST-Link at %s: %s",
			       doing, where, libusb_error_name(rc));
	}
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0) {
	}
}

/* ---- describing devices ----------------------------------------------------- */
static void describe_location(libusb_device *dev, struct stlink_usb_entry *e)
{
	uint8_t ports[8];
	int n = libusb_get_port_numbers(dev, ports, (int)sizeof ports);
	char chain[20] = "";
	size_t used = 0;
	for (int i = 0; i < n && used + 5 < sizeof chain; i++)
		used += (size_t)snprintf(chain + used, sizeof chain - used, i ? ".%u" : "%u", ports[i]);
	unsigned bus = libusb_get_bus_number(dev);
	snprintf(e->path, sizeof e->path, "%u-%s", bus, n > 0 ? chain : "0");
	snprintf(e->where, sizeof e->where, "bus %u port %s", bus, n > 0 ? chain : "?");
}

static void read_serial(libusb_device_handle *h, uint8_t index, char *out, size_t size)
{
	uint8_t desc[256];
	out[0] = '\0';
	if (!index)
		return;
	int n = libusb_get_string_descriptor(h, 0, 0, desc, sizeof desc);
	uint16_t langid = n >= 4 ? (uint16_t)(desc[2] | (desc[3] << 8)) : 0x0409;
	n = libusb_get_string_descriptor(h, index, langid, desc, sizeof desc);
	if (n > 0)
		stlink_serial_from_descriptor(desc, (size_t)n, out, size);
}

static bool describe(libusb_device *dev, struct stlink_usb_entry *e)
{
	struct libusb_device_descriptor dd;
	if (libusb_get_device_descriptor(dev, &dd) != 0 || dd.idVendor != STLINK_VID)
		return false;
	const struct stlink_pid_info *info = stlink_pid_lookup(dd.idProduct);
	if (!info)
		return false;
	memset(e, 0, sizeof *e);
	e->vid = dd.idVendor;
	e->pid = dd.idProduct;
	snprintf(e->model, sizeof e->model, "%s", info->model);
	e->usable = info->usable;
	describe_location(dev, e);
	if (!info->usable) {
		e->problem = VR_ERR_UNSUPPORTED;
		snprintf(e->advice, sizeof e->advice, "%s", info->refusal);
	}
	libusb_device_handle *h = NULL;
	int rc = libusb_open(dev, &h);
	if (rc != 0) {
		struct vr_error why;
		vr_err code = map_libusb(rc, "reading its serial number", e->where, &why);
		if (e->problem == VR_OK) {
			e->problem = code;
			snprintf(e->advice, sizeof e->advice, "%s", why.msg);
		}
		return true;
	}
	read_serial(h, dd.iSerialNumber, e->serial, sizeof e->serial);
	libusb_close(h);
	return true;
}

/* Lists into out[] and keeps the libusb_device of each (referenced) in devs[]
 * when devs is not NULL; the caller unrefs them. */
static vr_err list_devices(libusb_context *ctx, struct stlink_usb_entry *out, libusb_device **devs,
			   size_t max, size_t *count, struct vr_error *err)
{
	libusb_device **all = NULL;
	*count = 0;
	ssize_t n = libusb_get_device_list(ctx, &all);
	if (n < 0)
		return vr_fail(err, VR_ERR_IO, "could not list USB devices: %s",
			       libusb_error_name((int)n));
	for (ssize_t i = 0; i < n && *count < max; i++) {
		if (!describe(all[i], &out[*count]))
			continue;
		if (devs)
			devs[*count] = libusb_ref_device(all[i]);
		(*count)++;
	}
	libusb_free_device_list(all, 1);
	return VR_OK;
}

static vr_err start_libusb(libusb_context **ctx, struct vr_error *err)
{
	int rc = libusb_init(ctx);
	if (rc != 0)
		return vr_fail(err, VR_ERR_NO_DEVICE,
			       "USB cannot be used on this machine (libusb: %s): run vesc-rescue on "
			       "the machine the ST-Link is plugged into", libusb_error_name(rc));
	return VR_OK;
}

vr_err usb_libusb_list(struct libusb_context *ctx, struct stlink_usb_entry *out, size_t max,
		       size_t *count, struct vr_error *err)
{
	libusb_context *own = NULL;
	*count = 0;
	if (!ctx) {
		vr_err rc = start_libusb(&own, err);
		if (rc != VR_OK)
			return rc;
		ctx = own;
	}
	vr_err rc = list_devices(ctx, out, NULL, max, count, err);
	if (own)
		libusb_exit(own);
	return rc;
}

/* ---- the transport --------------------------------------------------------------- */
struct libusb_link {
	libusb_context *ctx;
	bool own_ctx;
	libusb_device_handle *h;
	uint8_t ep_out, ep_in;
	size_t max_packet;
	uint8_t bus;
	char serial[64];
	uint16_t pid;
	char where[32];
	uint8_t *bounce;
	size_t bounce_size;
};

static vr_err link_bulk_out(void *ctx, const uint8_t *buf, size_t len, unsigned timeout_ms,
			    struct vr_error *err)
{
	struct libusb_link *l = ctx;
	size_t sent = 0;
	if (!l->h)
		return vr_fail(err, VR_ERR_GONE, "the ST-Link at %s is no longer open", l->where);
	while (sent < len) {
		int done = 0;
		size_t part = len - sent > 0x7FFFFFFF ? 0x7FFFFFFF : len - sent;
		int rc = libusb_bulk_transfer(l->h, l->ep_out, (uint8_t *)(uintptr_t)(buf + sent),
					      (int)part, &done, timeout_ms);
		if (done > 0)
			sent += (size_t)done;
		if (rc == LIBUSB_ERROR_PIPE)
			libusb_clear_halt(l->h, l->ep_out);
		if (rc != 0)
			return map_libusb(rc, "sending a command", l->where, err);
		if (done == 0)
			return vr_fail(err, VR_ERR_IO, "the ST-Link at %s accepted no data", l->where);
	}
	return VR_OK;
}

static uint8_t *bounce_for(struct libusb_link *l, size_t size)
{
	if (l->bounce_size < size) {
		uint8_t *bigger = realloc(l->bounce, size);
		if (!bigger)
			return NULL;
		l->bounce = bigger;
		l->bounce_size = size;
	}
	return l->bounce;
}

/* Asks for whole packets (a request shorter than wMaxPacketSize overflows
 * when the probe sends a full one), then keeps what was asked for. */
static vr_err link_bulk_in(void *ctx, uint8_t *buf, size_t len, size_t *got, unsigned timeout_ms,
			   struct vr_error *err)
{
	struct libusb_link *l = ctx;
	*got = 0;
	if (!l->h)
		return vr_fail(err, VR_ERR_GONE, "the ST-Link at %s is no longer open", l->where);
	size_t mp = l->max_packet ? l->max_packet : 64;
	size_t ask = (len + mp - 1) / mp * mp;
	if (ask == 0)
		ask = mp;
	if (ask > 0x7FFFFFFF)
		return vr_fail(err, VR_ERR_INTERNAL, "USB read of %zu bytes is too large", len);
	uint8_t *dst = ask == len ? buf : bounce_for(l, ask);
	if (!dst)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory reading from the ST-Link");
	int done = 0;
	int rc = libusb_bulk_transfer(l->h, l->ep_in, dst, (int)ask, &done, timeout_ms);
	if (rc == LIBUSB_ERROR_PIPE)
		libusb_clear_halt(l->h, l->ep_in);
	if (rc != 0 && !(rc == LIBUSB_ERROR_TIMEOUT && done > 0))
		return map_libusb(rc, "reading a reply", l->where, err);
	size_t keep = (size_t)done < len ? (size_t)done : len;
	if (dst != buf)
		memcpy(buf, dst, keep);
	*got = keep;
	return VR_OK;
}

static void drain_in(struct libusb_link *l)
{
	uint8_t junk[512];
	for (int i = 0; i < DRAIN_MAX_READS; i++) {
		int done = 0;
		int rc = libusb_bulk_transfer(l->h, l->ep_in, junk, (int)sizeof junk, &done,
					      DRAIN_TIMEOUT_MS);
		if (rc != 0 || done == 0)
			return;
	}
}

static void release_handle(struct libusb_link *l)
{
	if (!l->h)
		return;
	libusb_release_interface(l->h, 0);
	libusb_close(l->h);
	l->h = NULL;
}

static vr_err claim(struct libusb_link *l, libusb_device *dev, struct vr_error *err)
{
	int rc = libusb_open(dev, &l->h);
	if (rc != 0) {
		l->h = NULL;
		return map_libusb(rc, "opening it", l->where, err);
	}
	int config = 0;
	rc = libusb_get_configuration(l->h, &config);
	if (rc == 0 && config != 1)
		rc = libusb_set_configuration(l->h, 1);
	if (rc == 0 && libusb_kernel_driver_active(l->h, 0) == 1)
		rc = libusb_detach_kernel_driver(l->h, 0);
	if (rc == LIBUSB_ERROR_NOT_SUPPORTED || rc == LIBUSB_ERROR_NOT_FOUND)
		rc = 0; /* no kernel driver to detach */
	if (rc == 0)
		rc = libusb_claim_interface(l->h, 0);
	if (rc != 0) {
		vr_err code = map_libusb(rc, "claiming its debug interface", l->where, err);
		libusb_close(l->h);
		l->h = NULL;
		return code;
	}
	int mp = libusb_get_max_packet_size(dev, l->ep_in);
	l->max_packet = mp > 0 ? (size_t)mp : 64;
	drain_in(l);
	return VR_OK;
}

/* After a reset the device may come back under a new address: find it
 * again by PID and serial on the same bus. */
static vr_err reopen(struct libusb_link *l, struct vr_error *err)
{
	release_handle(l);
	sleep_ms(REENUMERATE_WAIT_MS);
	struct stlink_usb_entry entries[MAX_ENTRIES];
	libusb_device *devs[MAX_ENTRIES];
	size_t n = 0;
	vr_err rc = list_devices(l->ctx, entries, devs, MAX_ENTRIES, &n, err);
	if (rc != VR_OK)
		return rc;
	rc = vr_fail(err, VR_ERR_GONE,
		     "the ST-Link at %s did not come back after a USB reset: unplug it, plug it "
		     "back in, and run again", l->where);
	bool done = false;
	for (size_t i = 0; i < n; i++) {
		if (!done && entries[i].pid == l->pid && strcasecmp(entries[i].serial, l->serial) == 0) {
			rc = claim(l, devs[i], err);
			done = true;
		}
		libusb_unref_device(devs[i]);
	}
	return rc;
}

static vr_err link_reset(void *ctx, struct vr_error *err)
{
	struct libusb_link *l = ctx;
	if (!l->h)
		return reopen(l, err);
	int rc = libusb_reset_device(l->h);
	if (rc == 0) {
		drain_in(l);
		return VR_OK;
	}
	if (rc == LIBUSB_ERROR_NOT_FOUND || rc == LIBUSB_ERROR_NO_DEVICE)
		return reopen(l, err);
	return map_libusb(rc, "resetting it", l->where, err);
}

static void link_close(void *ctx)
{
	struct libusb_link *l = ctx;
	if (!l)
		return;
	release_handle(l);
	if (l->own_ctx && l->ctx)
		libusb_exit(l->ctx);
	free(l->bounce);
	free(l);
}

static const struct usb_transport_ops libusb_link_ops = {
	.bulk_out = link_bulk_out,
	.bulk_in = link_bulk_in,
	.reset = link_reset,
	.close = link_close,
};

/* ---- choosing and opening -------------------------------------------------------------- */
static void list_text(const struct stlink_usb_entry *e, size_t n, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s %s at %s", i ? "; " : "",
					 e[i].model, e[i].serial[0] ? e[i].serial : "(serial unreadable)",
					 e[i].where);
}

static vr_err no_probe(struct vr_error *err)
{
	return vr_fail(err, VR_ERR_NO_DEVICE,
		       "no ST-Link found on USB: check the USB cable (some are charge-only), try "
		       "another port, and see whether lsusb lists 0483:3748 (V2), 374b (V2-1) or "
		       "374e/374f/3753/3754 (V3)");
}

vr_err stlink_usb_choose(const struct stlink_usb_entry *e, size_t n, const char *serial, size_t *pick,
		     struct vr_error *err)
{
	char names[220];
	list_text(e, n, names, sizeof names);
	if (serial) {
		for (size_t i = 0; i < n; i++) {
			if (strcasecmp(e[i].serial, serial) == 0) {
				*pick = i;
				return VR_OK;
			}
		}
		if (n == 0)
			return no_probe(err);
		return vr_fail(err, VR_ERR_NO_DEVICE, "no ST-Link with serial %s is attached; found: %s",
			       serial, names);
	}
	size_t usable = 0;
	for (size_t i = 0; i < n; i++) {
		if (e[i].usable) {
			*pick = i;
			usable++;
		}
	}
	if (usable == 1)
		return VR_OK;
	if (usable > 1)
		return vr_fail(err, VR_ERR_USAGE,
			       "several ST-Links are attached; choose one with --probe SERIAL: %s", names);
	if (n > 0) {
		*pick = 0;
		return vr_fail(err, VR_ERR_UNSUPPORTED, "%s", e[0].advice);
	}
	return no_probe(err);
}

static vr_err open_entry(libusb_context *ctx, bool own_ctx, const struct stlink_usb_entry *e,
			 libusb_device *dev, struct usb_transport *out, struct vr_error *err)
{
	if (!e->usable)
		return vr_fail(err, VR_ERR_UNSUPPORTED, "%s", e->advice);
	const struct stlink_pid_info *info = stlink_pid_lookup(e->pid);
	struct libusb_link *l = calloc(1, sizeof *l);
	if (!l || !info) {
		free(l);
		return vr_fail(err, VR_ERR_NOMEM, "out of memory opening the ST-Link");
	}
	l->ctx = ctx;
	l->own_ctx = own_ctx;
	l->ep_out = info->ep_out;
	l->ep_in = info->ep_in;
	l->pid = e->pid;
	snprintf(l->serial, sizeof l->serial, "%s", e->serial);
	snprintf(l->where, sizeof l->where, "%s", e->where);
	vr_err rc = claim(l, dev, err);
	if (rc != VR_OK) {
		l->own_ctx = false; /* the caller exits the context */
		link_close(l);
		return rc;
	}
	memset(out, 0, sizeof *out);
	out->ops = &libusb_link_ops;
	out->ctx = l;
	out->vid = e->vid;
	out->pid = e->pid;
	snprintf(out->serial, sizeof out->serial, "%s", e->serial);
	snprintf(out->where, sizeof out->where, "%s", e->where);
	return VR_OK;
}

vr_err usb_libusb_open(struct libusb_context *ctx, const char *serial, struct usb_transport *out,
		       struct vr_error *err)
{
	libusb_context *own = NULL;
	memset(out, 0, sizeof *out);
	if (!ctx) {
		vr_err rc = start_libusb(&own, err);
		if (rc != VR_OK)
			return rc;
		ctx = own;
	}
	struct stlink_usb_entry entries[MAX_ENTRIES];
	libusb_device *devs[MAX_ENTRIES];
	size_t n = 0, pick = 0;
	vr_err rc = list_devices(ctx, entries, devs, MAX_ENTRIES, &n, err);
	if (rc == VR_OK)
		rc = stlink_usb_choose(entries, n, serial, &pick, err);
	if (rc == VR_OK)
		rc = open_entry(ctx, own != NULL, &entries[pick], devs[pick], out, err);
	for (size_t i = 0; i < n; i++)
		libusb_unref_device(devs[i]);
	if (rc != VR_OK && own)
		libusb_exit(own);
	return rc;
}
