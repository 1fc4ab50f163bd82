#include "probes/usb_probe.h"

#include <libserialport.h>
#include <libusb.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ANY_PID 0xFFFFFFFFu

struct usb_id_entry {
	uint16_t vid;
	uint32_t pid;         /* ANY_PID: every PID of the vendor */
	enum usb_kind kind;
	const char *model;
	const char *advice;
	bool unusable;
};

static const char advice_v1[] =
	"ST-LINK/V1 (SCSI transport) is not supported: use an ST-LINK/V2, V2-1 or V3 probe";
static const char advice_v3_boot[] =
	"the STLINK-V3 sits in its bootloader: replug it; if it stays there, update its "
	"firmware (STSW-LINK007 or STM32CubeProgrammer) and replug";
static const char advice_dfu[] =
	"an STM32 in its ROM DFU bootloader (BOOT0 held high): release BOOT0 and "
	"power-cycle, or recover over SWD";
static const char advice_stlink_vcp[] =
	"its virtual COM port is the probe's UART bridge, not a VESC";

/* Sources: reference stlink-swd-stm32f4.md §1.1 (every ST-Link PID),
 * vesc-protocol-and-flash.md §5.1 (VESC CDC, ROM DFU, ESP32), and the
 * vendors' Linux drivers' ID tables for the bridges (cp210x, ftdi_sio,
 * ch341, pl2303). */
static const struct usb_id_entry usb_id_table[] = {
	{0x0483, 0x5740, USB_KIND_VESC_CDC, "STM32 CDC (VESC?)", NULL, false},
	{0x0483, 0x3744, USB_KIND_STLINK, "ST-LINK/V1", advice_v1, true},
	{0x0483, 0x3748, USB_KIND_STLINK, "ST-LINK/V2", NULL, false},
	{0x0483, 0x374a, USB_KIND_STLINK, "ST-LINK/V2-1 (audio)", advice_stlink_vcp, false},
	{0x0483, 0x374b, USB_KIND_STLINK, "ST-LINK/V2-1", advice_stlink_vcp, false},
	{0x0483, 0x3752, USB_KIND_STLINK, "ST-LINK/V2-1 (no MSD)", advice_stlink_vcp, false},
	{0x0483, 0x374d, USB_KIND_STLINK_BOOT, "STLINK-V3 bootloader", advice_v3_boot, true},
	{0x0483, 0x374e, USB_KIND_STLINK, "STLINK-V3E/V3SET", advice_stlink_vcp, false},
	{0x0483, 0x374f, USB_KIND_STLINK, "STLINK-V3S/V3SET", advice_stlink_vcp, false},
	{0x0483, 0x3753, USB_KIND_STLINK, "STLINK-V3 (2 VCP)", advice_stlink_vcp, false},
	{0x0483, 0x3754, USB_KIND_STLINK, "STLINK-V3MINIE", advice_stlink_vcp, false},
	{0x0483, 0x3755, USB_KIND_STLINK_BOOT, "STLINK-V3PWR bootloader", advice_v3_boot, true},
	{0x0483, 0x3757, USB_KIND_STLINK, "STLINK-V3PWR", advice_stlink_vcp, false},
	{0x0483, 0xdf11, USB_KIND_STM32_DFU, "STM32 ROM DFU (BOOT0 high)", advice_dfu, false},
	{0x10c4, 0xea60, USB_KIND_UART_BRIDGE, "CP210x (CP2102/CP2104)", NULL, false},
	{0x10c4, 0xea70, USB_KIND_UART_BRIDGE, "CP210x (CP2105)", NULL, false},
	{0x10c4, 0xea71, USB_KIND_UART_BRIDGE, "CP210x (CP2108)", NULL, false},
	{0x0403, 0x6001, USB_KIND_UART_BRIDGE, "FTDI FT232R", NULL, false},
	{0x0403, 0x6010, USB_KIND_UART_BRIDGE, "FTDI FT2232", NULL, false},
	{0x0403, 0x6011, USB_KIND_UART_BRIDGE, "FTDI FT4232H", NULL, false},
	{0x0403, 0x6014, USB_KIND_UART_BRIDGE, "FTDI FT232H", NULL, false},
	{0x0403, 0x6015, USB_KIND_UART_BRIDGE, "FTDI FT-X (FT230X/FT231X)", NULL, false},
	{0x1a86, 0x7522, USB_KIND_UART_BRIDGE, "CH340", NULL, false},
	{0x1a86, 0x7523, USB_KIND_UART_BRIDGE, "CH340", NULL, false},
	{0x1a86, 0x5523, USB_KIND_UART_BRIDGE, "CH341", NULL, false},
	{0x1a86, 0x55d3, USB_KIND_UART_BRIDGE, "CH343", NULL, false},
	{0x1a86, 0x55d4, USB_KIND_UART_BRIDGE, "CH9102", NULL, false},
	{0x067b, 0x2303, USB_KIND_UART_BRIDGE, "PL2303", NULL, false},
	{0x303a, 0x1001, USB_KIND_ESP32, "ESP32 USB Serial/JTAG (VESC Express?)", NULL, false},
	{0x303a, ANY_PID, USB_KIND_ESP32, "Espressif ESP32 USB", NULL, false},
};

#define N_USB_IDS (sizeof usb_id_table / sizeof usb_id_table[0])

static const struct usb_id_entry *find_id(uint16_t vid, uint16_t pid)
{
	/* Exact PIDs come before a vendor's wildcard in the table. */
	for (size_t i = 0; i < N_USB_IDS; i++) {
		const struct usb_id_entry *e = &usb_id_table[i];
		if (e->vid == vid && (e->pid == pid || e->pid == ANY_PID))
			return e;
	}
	return NULL;
}

struct usb_id_class usb_classify(uint16_t vid, uint16_t pid, const char *product)
{
	struct usb_id_class c = {USB_KIND_OTHER, "", NULL, false};
	const struct usb_id_entry *e = find_id(vid, pid);
	if (!e)
		return c;
	c.kind = e->kind;
	c.model = e->model;
	c.advice = e->advice;
	c.unusable = e->unusable;
	/* The product string is what the VESC firmware sends (reference §5.1);
	 * it makes the gadget more likely a VESC, never certainly one. */
	if (e->kind == USB_KIND_VESC_CDC && product && strstr(product, "ChibiOS"))
		c.model = "ChibiOS/RT Virtual COM Port";
	return c;
}

bool usb_is_vesc_candidate(uint16_t vid, uint16_t pid)
{
	enum usb_kind kind = usb_classify(vid, pid, NULL).kind;
	return kind == USB_KIND_VESC_CDC || kind == USB_KIND_UART_BRIDGE;
}

/* ---- libserialport ------------------------------------------------------- */

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static void describe_sp_port(struct sp_port *port, struct usb_tty *out)
{
	memset(out, 0, sizeof *out);
	out->bus = out->address = -1;
	copy_str(out->path, sizeof out->path, sp_get_port_name(port));
	if (sp_get_port_transport(port) != SP_TRANSPORT_USB)
		return;
	out->is_usb = true;
	int vid = 0, pid = 0, bus = -1, address = -1;
	if (sp_get_port_usb_vid_pid(port, &vid, &pid) == SP_OK) {
		out->vid = (uint16_t)vid;
		out->pid = (uint16_t)pid;
	}
	if (sp_get_port_usb_bus_address(port, &bus, &address) == SP_OK) {
		out->bus = bus;
		out->address = address;
	}
	copy_str(out->serial, sizeof out->serial, sp_get_port_usb_serial(port));
	copy_str(out->product, sizeof out->product, sp_get_port_usb_product(port));
}

unsigned usb_list_ttys(struct usb_tty *out, unsigned max)
{
	struct sp_port **list = NULL;
	if (sp_list_ports(&list) != SP_OK || !list)
		return 0;
	unsigned n = 0;
	/* USB ports first: a board's many on-board UARTs must not crowd
	 * them out of a short list. */
	for (int pass = 0; pass < 2; pass++) {
		bool want_usb = pass == 0;
		for (size_t i = 0; list[i] && n < max; i++) {
			bool is_usb = sp_get_port_transport(list[i]) == SP_TRANSPORT_USB;
			if (is_usb == want_usb)
				describe_sp_port(list[i], &out[n++]);
		}
	}
	sp_free_port_list(list);
	return n;
}

bool usb_lookup_tty(const char *path, struct usb_tty *out)
{
	char real[PATH_MAX];
	if (!path || !realpath(path, real))
		return false;
	struct sp_port *port = NULL;
	/* Refuses pseudo-terminals: they have no /sys/class/tty device. */
	if (sp_get_port_by_name(real, &port) != SP_OK || !port)
		return false;
	describe_sp_port(port, out);
	sp_free_port(port);
	return true;
}

/* ---- libusb -------------------------------------------------------------- */

static void bus_path(libusb_device *dev, char *out, size_t size)
{
	uint8_t ports[8];
	int n = libusb_get_port_numbers(dev, ports, (int)sizeof ports);
	int used = snprintf(out, size, "%u", libusb_get_bus_number(dev));
	for (int i = 0; i < n && used > 0 && (size_t)used < size; i++)
		used += snprintf(out + used, size - (size_t)used, "%c%u", i == 0 ? '-' : '.',
				 ports[i]);
}

/* A wedged device must not stall the listing: libusb's own string
 * helpers wait 1 s per request. */
#define DESC_TIMEOUT_MS 200u

static void printable_ascii(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

/* The kernel caches every device's strings in sysfs, readable without
 * any permission: no open, no transfer, no udev rule needed. */
static void read_sysfs_string(const char *bus_path_text, const char *name, char *out,
			      size_t size)
{
	char file[96];
	snprintf(file, sizeof file, "/sys/bus/usb/devices/%s/%s", bus_path_text, name);
	FILE *f = fopen(file, "re");
	if (!f)
		return;
	if (fgets(out, (int)size, f)) {
		out[strcspn(out, "\n")] = '\0';
		printable_ascii(out);
	}
	fclose(f);
}

/* GET_DESCRIPTOR(STRING) with our timeout; returns the descriptor length
 * or a libusb error. */
static int get_string_desc(libusb_device_handle *h, uint8_t index, uint16_t langid,
			   unsigned char *buf, int size)
{
	int n = libusb_control_transfer(h, LIBUSB_ENDPOINT_IN, LIBUSB_REQUEST_GET_DESCRIPTOR,
					(uint16_t)(LIBUSB_DT_STRING << 8 | index), langid, buf,
					(uint16_t)size, DESC_TIMEOUT_MS);
	if (n < 0)
		return n;
	if (n < 2 || buf[1] != LIBUSB_DT_STRING || buf[0] > n)
		return LIBUSB_ERROR_IO;
	return buf[0];
}

static uint16_t first_langid(libusb_device_handle *h)
{
	unsigned char buf[8];
	if (get_string_desc(h, 0, 0, buf, sizeof buf) >= 4)
		return (uint16_t)(buf[2] | buf[3] << 8);
	return 0x0409;
}

/* UTF-16LE to ASCII, '?' for anything else. Returns false on a failed
 * transfer (the device did not answer: do not ask it again). */
static bool read_usb_string(libusb_device_handle *h, uint16_t langid, uint8_t index, char *out,
			    size_t size)
{
	if (index == 0 || size < 2 || out[0])
		return true;
	unsigned char buf[256];
	int n = get_string_desc(h, index, langid, buf, sizeof buf);
	if (n < 0)
		return n != LIBUSB_ERROR_TIMEOUT && n != LIBUSB_ERROR_NO_DEVICE;
	size_t len = 0;
	for (int i = 2; i + 1 < n && len + 1 < size; i += 2) {
		unsigned unit = buf[i] | buf[i + 1] << 8;
		out[len++] = (unit >= 0x20 && unit < 0x7f) ? (char)unit : '?';
	}
	out[len] = '\0';
	return true;
}

/* Old ST-LINK/V2 firmware sends 12 raw bytes as its serial (descriptor
 * length 26); stlink-org and OpenOCD hex-encode them (reference §1.1). */
static void stlink_serial(libusb_device_handle *h, uint16_t langid, uint8_t index, char *out,
			  size_t size)
{
	unsigned char desc[64];
	if (index == 0 || get_string_desc(h, index, langid, desc, sizeof desc) != 26)
		return;
	bool printable = true;
	for (int i = 2; i < 26; i += 2)
		if (desc[i] < 0x20 || desc[i] >= 0x7f || desc[i + 1] != 0)
			printable = false;
	if (printable)
		return;
	size_t used = 0;
	for (int i = 2; i < 26 && used + 3 <= size; i += 2)
		used += (size_t)snprintf(out + used, size - used, "%02X", desc[i]);
}

static void access_problem(struct usb_obs *u, int rc)
{
	if (rc == LIBUSB_ERROR_ACCESS) {
		u->access = VR_ERR_ACCESS;
		snprintf(u->error, sizeof u->error,
			 "no permission to open %04x:%04x (LIBUSB_ERROR_ACCESS): install the udev "
			 "rules (vesc-rescue --udev-rules prints them and how), replug, and join "
			 "plugdev (sudo usermod -aG plugdev $USER, then log in again)",
			 u->vid, u->pid);
	} else if (rc == LIBUSB_ERROR_NO_DEVICE) {
		u->access = VR_ERR_GONE;
		snprintf(u->error, sizeof u->error,
			 "%04x:%04x disappeared while being listed: check the cable, then retry",
			 u->vid, u->pid);
	} else if (rc == LIBUSB_ERROR_TIMEOUT) {
		u->access = VR_ERR_TIMEOUT;
		snprintf(u->error, sizeof u->error,
			 "%04x:%04x does not answer USB requests: unplug it and plug it back in",
			 u->vid, u->pid);
	} else {
		u->access = VR_ERR_IO;
		snprintf(u->error, sizeof u->error, "could not open %04x:%04x: %s", u->vid, u->pid,
			 libusb_strerror(rc));
	}
}

/* Devices we drive through libusb ourselves: their access matters. */
static bool driven_by_libusb(enum usb_kind kind)
{
	return kind == USB_KIND_STLINK || kind == USB_KIND_STLINK_BOOT ||
	       kind == USB_KIND_STM32_DFU;
}

static void read_strings(libusb_device *dev, const struct libusb_device_descriptor *d,
			 struct usb_obs *u)
{
	read_sysfs_string(u->path, "manufacturer", u->manufacturer, sizeof u->manufacturer);
	read_sysfs_string(u->path, "product", u->product, sizeof u->product);
	read_sysfs_string(u->path, "serial", u->serial, sizeof u->serial);
	bool have_all = u->manufacturer[0] && u->product[0] && u->serial[0];
	if (have_all && !driven_by_libusb(u->kind))
		return;
	libusb_device_handle *h = NULL;
	int rc = libusb_open(dev, &h);
	if (rc != 0) {
		/* A serial device is used through its tty, not libusb: not
		 * being able to open it here is no problem of the person's. */
		if (driven_by_libusb(u->kind))
			access_problem(u, rc);
		return;
	}
	uint16_t langid = first_langid(h);
	bool answering = read_usb_string(h, langid, d->iManufacturer, u->manufacturer,
					 sizeof u->manufacturer) &&
			 read_usb_string(h, langid, d->iProduct, u->product, sizeof u->product);
	if (answering && u->kind == USB_KIND_STLINK)
		stlink_serial(h, langid, d->iSerialNumber, u->serial, sizeof u->serial);
	if (answering)
		answering = read_usb_string(h, langid, d->iSerialNumber, u->serial, sizeof u->serial);
	if (!answering && driven_by_libusb(u->kind))
		access_problem(u, LIBUSB_ERROR_TIMEOUT);
	libusb_close(h);
}

static void apply_class(struct usb_obs *u)
{
	struct usb_id_class c = usb_classify(u->vid, u->pid, u->product);
	u->kind = c.kind;
	if (!u->model[0])
		copy_str(u->model, sizeof u->model, c.model[0] ? c.model : u->product);
	if (c.advice && u->access == VR_OK) {
		copy_str(u->error, sizeof u->error, c.advice);
		if (c.unusable)
			u->access = VR_ERR_UNSUPPORTED;
	}
}

static void match_tty(struct usb_obs *u, int bus, int address, const struct usb_tty *ttys,
		      unsigned n_ttys)
{
	for (unsigned i = 0; i < n_ttys; i++) {
		const struct usb_tty *t = &ttys[i];
		if (t->is_usb && t->bus == bus && t->address == address) {
			copy_str(u->tty, sizeof u->tty, t->path);
			return;
		}
	}
}

/* False when the device has no readable descriptor (then skip it). */
static bool describe_device(libusb_device *dev, const struct usb_tty *ttys, unsigned n_ttys,
			    struct usb_obs *u)
{
	memset(u, 0, sizeof *u);
	struct libusb_device_descriptor d;
	if (libusb_get_device_descriptor(dev, &d) != 0)
		return false;
	u->vid = d.idVendor;
	u->pid = d.idProduct;
	bus_path(dev, u->path, sizeof u->path);
	u->kind = usb_classify(u->vid, u->pid, NULL).kind;
	read_strings(dev, &d, u);
	apply_class(u);
	match_tty(u, libusb_get_bus_number(dev), libusb_get_device_address(dev), ttys, n_ttys);
	return true;
}

static bool is_root_hub(libusb_device *dev)
{
	struct libusb_device_descriptor d;
	return libusb_get_device_descriptor(dev, &d) == 0 && d.bDeviceClass == LIBUSB_CLASS_HUB &&
	       libusb_get_port_number(dev) == 0;
}

static void usb_failed(struct observations *obs, const char *what, int rc)
{
	obs->usb_error = true;
	snprintf(obs->usb_error_text, sizeof obs->usb_error_text,
		 "%s failed (%s): USB devices cannot be listed; the serial probe still runs",
		 what, libusb_strerror(rc));
}

void usb_probe_run(struct observations *obs)
{
	libusb_context *ctx = NULL;
	int rc = libusb_init(&ctx);
	if (rc != 0) {
		usb_failed(obs, "libusb_init", rc);
		return;
	}
	libusb_device **list = NULL;
	ssize_t n = libusb_get_device_list(ctx, &list);
	if (n < 0) {
		usb_failed(obs, "listing USB devices", (int)n);
		libusb_exit(ctx);
		return;
	}
	struct usb_tty *ttys = calloc(OBS_MAX_SERIAL * 2, sizeof *ttys);
	unsigned n_ttys = ttys ? usb_list_ttys(ttys, OBS_MAX_SERIAL * 2) : 0;
	for (ssize_t i = 0; i < n && obs->n_usb < OBS_MAX_USB; i++) {
		if (!is_root_hub(list[i]) &&
		    describe_device(list[i], ttys, n_ttys, &obs->usb[obs->n_usb]))
			obs->n_usb++;
	}
	free(ttys);
	libusb_free_device_list(list, 1);
	libusb_exit(ctx);
}

unsigned usb_probe_add(struct observations *obs, const struct usb_obs *devs, unsigned n)
{
	unsigned added = 0;
	for (unsigned i = 0; i < n && obs->n_usb < OBS_MAX_USB; i++) {
		struct usb_obs *u = &obs->usb[obs->n_usb++];
		*u = devs[i];
		if (u->kind == USB_KIND_OTHER)
			apply_class(u);
		added++;
	}
	return added;
}
