/* libusb-1.0 ABI over the simulated bench, for LD_PRELOAD (CONTRACTS.md §1):
 * st-info, st-flash, OpenOCD and our own binary see one ST-Link on bus 1
 * that is the simulated probe in front of the simulated STM32F405.
 *
 *   VR_BENCH_SIM=healthy[,k=v...]  the scenario (as --sim); default healthy
 *   VR_BENCH_STATE=FILE            chip state kept between processes
 *   VR_BENCH_PROBE=v2|v2-1|v3[,genuine][,raw-serial]  which probe
 *                                  (default: the scenario's, a V2 clone);
 *                                  raw-serial: the 12-byte serial of old
 *                                  V2 firmware (reference §1.1)
 *   VR_BENCH_TRACE=1               every transfer on stderr
 *   VR_BENCH_STATS=FILE            the model's counters appended at exit
 *
 * libusb keeps process-global state because its ABI has no other place for
 * it (a NULL context is legal everywhere); all of it lives in `facade`
 * below. Asynchronous transfers complete synchronously, in submission
 * order, inside the event-handling calls, which is all a single-threaded
 * host like OpenOCD can observe. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libusb.h>

#include "bench/facade/facade_chip.h"
#include "bench/f4_model.h"
#include "bench/stlink_sim.h"

#define API __attribute__((visibility("default")))

#define BUS_NUMBER 1
#define DEVICE_ADDRESS 7
#define PORT_NUMBER 2
#define MAX_QUEUED 64
/* A timed-out transfer costs real waiting, but never more than this: the
 * tools' own 3-6 s timeouts would only slow the tests down. */
#define MAX_TIMEOUT_SLEEP_MS 300u
/* A host idle for minutes would otherwise cost minutes of emulating a
 * spinning core; any loader finishes its buffer well within this. */
#define MAX_IDLE_CATCH_UP_US 5000000ull
/* State is saved at most this often while flash keeps changing. */
#define SAVE_INTERVAL_NS 250000000ull

struct libusb_context {
	int users;
};

struct libusb_device {
	int refs;
};

struct libusb_device_handle {
	struct libusb_device *dev;
	bool claimed;
};

struct queued_transfer {
	struct libusb_transfer *transfer;
	bool cancelled;
};

static struct facade_state {
	pthread_mutex_t lock;
	bool initialised;
	bool usable;                /* a scenario is loaded and a probe is on the bus */
	struct facade_chip chip;
	struct libusb_context default_ctx;
	struct libusb_device dev;
	uint64_t last_real_ns;      /* when modeled time last caught up with real time */
	uint64_t last_save_ns;
	double time_scale;          /* modeled seconds per real second = 1 / time_scale */
	bool trace;                 /* VR_BENCH_TRACE: every transfer on stderr */
	bool raw_serial;            /* old V2 firmware: 12 raw serial bytes */
	struct queued_transfer queue[MAX_QUEUED];
	size_t queued;
} facade = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	fputs("libbench-usb: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The scenarios all use a V2 clone; conformance runs also need the other
 * kinds of probe. */
static void apply_probe_choice(struct bench_scenario *sc, const char *choice)
{
	if (!choice)
		return;
	if (strstr(choice, "v2-1"))
		sc->probe_pid = STLINK_SIM_PID_V2_1;
	else if (strstr(choice, "v3"))
		sc->probe_pid = STLINK_SIM_PID_V3;
	else if (strstr(choice, "v2"))
		sc->probe_pid = STLINK_SIM_PID_V2;
	if (strstr(choice, "genuine"))
		sc->probe_is_clone = false;
	else if (strstr(choice, "clone"))
		sc->probe_is_clone = true;
}

/* Called with the lock held. */
static void facade_init_locked(void)
{
	struct bench_scenario sc;
	struct vr_error err = { 0 };
	const char *spec = getenv("VR_BENCH_SIM");
	if (facade.initialised)
		return;
	facade.initialised = true;
	if (!spec || !*spec)
		spec = "healthy";
	if (bench_scenario_parse(spec, &sc, &err) != VR_OK) {
		say("VR_BENCH_SIM=%s: %s (no simulated ST-Link on the bus)", spec, err.msg);
		return;
	}
	if (sc.probe == PROBE_ABSENT)
		return;
	apply_probe_choice(&sc, getenv("VR_BENCH_PROBE"));
	if (facade_chip_open(&facade.chip, &sc, getenv("VR_BENCH_STATE"), &err) != VR_OK) {
		say("cannot build the simulated bench: %s", err.msg);
		return;
	}
	facade.time_scale = sc.time_scale > 0 ? sc.time_scale : 1.0;
	facade.trace = getenv("VR_BENCH_TRACE") != NULL;
	facade.raw_serial = getenv("VR_BENCH_PROBE") && strstr(getenv("VR_BENCH_PROBE"), "raw-serial");
	facade.last_real_ns = real_ns();
	facade.last_save_ns = facade.last_real_ns;
	facade.dev.refs = 1;
	facade.usable = true;
}

static void facade_init(void)
{
	pthread_mutex_lock(&facade.lock);
	facade_init_locked();
	pthread_mutex_unlock(&facade.lock);
}

static void facade_save_locked(bool force)
{
	struct vr_error err = { 0 };
	if (!facade.usable)
		return;
	if (facade_chip_save(&facade.chip, force, &err) != VR_OK)
		say("saving the bench state: %s", err.msg);
	facade.last_save_ns = real_ns();
}

__attribute__((destructor)) static void facade_fini(void)
{
	const char *stats = getenv("VR_BENCH_STATS");
	struct vr_error err = { 0 };
	pthread_mutex_lock(&facade.lock);
	if (facade.usable) {
		if (stats && *stats && facade_chip_write_stats(&facade.chip, stats, &err) != VR_OK)
			say("%s", err.msg);
		facade_chip_close(&facade.chip);
		facade.usable = false;
	}
	pthread_mutex_unlock(&facade.lock);
}

static uint16_t probe_pid(void)
{
	return stlink_sim_get_config(facade.chip.probe)->pid;
}

static bool is_our_device(const libusb_device *dev)
{
	return dev == &facade.dev && facade.usable;
}

/* The target kept running while the host was busy or asleep. Only the
 * host's time counts: the time we spend emulating the target is an
 * artefact of the simulation, and counting it would make a busy-waiting
 * target loader demand ever more emulation per transfer. */
static void catch_up_real_time_locked(void)
{
	uint64_t now = real_ns();
	uint64_t real_us = (now - facade.last_real_ns) / 1000u;
	uint64_t modeled_us = (uint64_t)((double)real_us / facade.time_scale);
	if (modeled_us > MAX_IDLE_CATCH_UP_US)
		modeled_us = MAX_IDLE_CATCH_UP_US;
	stlink_sim_pass_time(facade.chip.probe, modeled_us);
}

/* Called when the facade hands control back to the host. */
static void host_time_starts_locked(void)
{
	facade.last_real_ns = real_ns();
}

static void maybe_save_locked(void)
{
	uint64_t now = real_ns();
	if (now - facade.last_save_ns >= SAVE_INTERVAL_NS)
		facade_save_locked(false);
}

/* ---- library, context, errors ------------------------------------------ */

API int libusb_init(libusb_context **ctx)
{
	facade_init();
	if (ctx) {
		*ctx = calloc(1, sizeof(**ctx));
		if (!*ctx)
			return LIBUSB_ERROR_NO_MEM;
	}
	return LIBUSB_SUCCESS;
}

API void libusb_exit(libusb_context *ctx)
{
	if (ctx && ctx != &facade.default_ctx)
		free(ctx);
	pthread_mutex_lock(&facade.lock);
	facade_save_locked(true);
	pthread_mutex_unlock(&facade.lock);
}

API int libusb_set_option(libusb_context *ctx, enum libusb_option option, ...)
{
	(void)ctx;
	(void)option;
	return LIBUSB_SUCCESS;
}

API void libusb_set_debug(libusb_context *ctx, int level)
{
	(void)ctx;
	(void)level;
}

API void libusb_set_log_cb(libusb_context *ctx, libusb_log_cb cb, int mode)
{
	(void)ctx;
	(void)cb;
	(void)mode;
}

API const struct libusb_version *libusb_get_version(void)
{
	static const struct libusb_version version = {
		1, 0, 26, 0, "-bench", "https://libusb.info"
	};
	return &version;
}

API int libusb_has_capability(uint32_t capability)
{
	return capability == LIBUSB_CAP_HAS_CAPABILITY;
}

API int libusb_setlocale(const char *locale)
{
	(void)locale;
	return LIBUSB_SUCCESS;
}

static const struct {
	int code;
	const char *name;
	const char *text;
} error_table[] = {
	{ LIBUSB_SUCCESS, "LIBUSB_SUCCESS", "Success" },
	{ LIBUSB_ERROR_IO, "LIBUSB_ERROR_IO", "Input/Output Error" },
	{ LIBUSB_ERROR_INVALID_PARAM, "LIBUSB_ERROR_INVALID_PARAM", "Invalid parameter" },
	{ LIBUSB_ERROR_ACCESS, "LIBUSB_ERROR_ACCESS", "Access denied (insufficient permissions)" },
	{ LIBUSB_ERROR_NO_DEVICE, "LIBUSB_ERROR_NO_DEVICE", "No such device (it may have been disconnected)" },
	{ LIBUSB_ERROR_NOT_FOUND, "LIBUSB_ERROR_NOT_FOUND", "Entity not found" },
	{ LIBUSB_ERROR_BUSY, "LIBUSB_ERROR_BUSY", "Resource busy" },
	{ LIBUSB_ERROR_TIMEOUT, "LIBUSB_ERROR_TIMEOUT", "Operation timed out" },
	{ LIBUSB_ERROR_OVERFLOW, "LIBUSB_ERROR_OVERFLOW", "Overflow" },
	{ LIBUSB_ERROR_PIPE, "LIBUSB_ERROR_PIPE", "Pipe error" },
	{ LIBUSB_ERROR_INTERRUPTED, "LIBUSB_ERROR_INTERRUPTED", "System call interrupted (perhaps due to signal)" },
	{ LIBUSB_ERROR_NO_MEM, "LIBUSB_ERROR_NO_MEM", "Insufficient memory" },
	{ LIBUSB_ERROR_NOT_SUPPORTED, "LIBUSB_ERROR_NOT_SUPPORTED", "Operation not supported or unimplemented on this platform" },
	{ LIBUSB_ERROR_OTHER, "LIBUSB_ERROR_OTHER", "Other error" },
};

API const char *libusb_error_name(int errcode)
{
	for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
		if (error_table[i].code == errcode)
			return error_table[i].name;
	switch (errcode) {
	case LIBUSB_TRANSFER_COMPLETED: return "LIBUSB_TRANSFER_COMPLETED";
	default: return "**UNKNOWN**";
	}
}

API const char *libusb_strerror(int errcode)
{
	for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
		if (error_table[i].code == errcode)
			return error_table[i].text;
	return "Unknown error";
}

/* ---- enumeration -------------------------------------------------------- */

API ssize_t libusb_get_device_list(libusb_context *ctx, libusb_device ***list)
{
	size_t n;
	(void)ctx;
	facade_init();
	pthread_mutex_lock(&facade.lock);
	/* An unplugged probe is no longer listed. */
	n = facade.usable && !stlink_sim_is_gone(facade.chip.probe) ? 1 : 0;
	pthread_mutex_unlock(&facade.lock);
	*list = calloc(n + 1, sizeof(**list));
	if (!*list)
		return LIBUSB_ERROR_NO_MEM;
	if (n) {
		(*list)[0] = &facade.dev;
		facade.dev.refs++;
	}
	return (ssize_t)n;
}

API void libusb_free_device_list(libusb_device **list, int unref_devices)
{
	if (!list)
		return;
	if (unref_devices)
		for (size_t i = 0; list[i]; i++)
			libusb_unref_device(list[i]);
	free(list);
}

API libusb_device *libusb_ref_device(libusb_device *dev)
{
	if (dev)
		dev->refs++;
	return dev;
}

API void libusb_unref_device(libusb_device *dev)
{
	/* The one device lives as long as the process. */
	if (dev && dev->refs > 0)
		dev->refs--;
}

API int libusb_get_device_descriptor(libusb_device *dev, struct libusb_device_descriptor *desc)
{
	if (!is_our_device(dev) || !desc)
		return LIBUSB_ERROR_INVALID_PARAM;
	memset(desc, 0, sizeof(*desc));
	desc->bLength = LIBUSB_DT_DEVICE_SIZE;
	desc->bDescriptorType = LIBUSB_DT_DEVICE;
	desc->bcdUSB = 0x0200;
	/* V2-1 and V3 are composite devices (debug, mass storage, VCP). */
	if (probe_pid() != STLINK_SIM_PID_V2) {
		desc->bDeviceClass = LIBUSB_CLASS_MISCELLANEOUS;
		desc->bDeviceSubClass = 2;
		desc->bDeviceProtocol = 1;
	}
	desc->bMaxPacketSize0 = 64;
	desc->idVendor = STLINK_SIM_VID;
	desc->idProduct = probe_pid();
	desc->bcdDevice = 0x0100;
	desc->iManufacturer = 1;
	desc->iProduct = 2;
	desc->iSerialNumber = 3;
	desc->bNumConfigurations = 1;
	return LIBUSB_SUCCESS;
}

struct config_block {
	struct libusb_config_descriptor config;
	struct libusb_interface interface;
	struct libusb_interface_descriptor altsetting;
	struct libusb_endpoint_descriptor endpoints[3];
};

static void fill_endpoint(struct libusb_endpoint_descriptor *ep, uint8_t address, uint16_t max_packet)
{
	ep->bLength = LIBUSB_DT_ENDPOINT_SIZE;
	ep->bDescriptorType = LIBUSB_DT_ENDPOINT;
	ep->bEndpointAddress = address;
	ep->bmAttributes = LIBUSB_TRANSFER_TYPE_BULK;
	ep->wMaxPacketSize = max_packet;
}

API int libusb_get_config_descriptor(libusb_device *dev, uint8_t config_index,
				     struct libusb_config_descriptor **config)
{
	struct config_block *b;
	uint16_t pid, max_packet;
	if (!is_our_device(dev) || !config)
		return LIBUSB_ERROR_INVALID_PARAM;
	if (config_index != 0)
		return LIBUSB_ERROR_NOT_FOUND;
	b = calloc(1, sizeof(*b));
	if (!b)
		return LIBUSB_ERROR_NO_MEM;
	pid = probe_pid();
	max_packet = pid == STLINK_SIM_PID_V3 ? 512 : 64;
	fill_endpoint(&b->endpoints[0], stlink_sim_ep_in(pid), max_packet);
	fill_endpoint(&b->endpoints[1], stlink_sim_ep_out(pid), max_packet);
	fill_endpoint(&b->endpoints[2], stlink_sim_ep_trace(pid), max_packet);
	b->altsetting.bLength = LIBUSB_DT_INTERFACE_SIZE;
	b->altsetting.bDescriptorType = LIBUSB_DT_INTERFACE;
	b->altsetting.bInterfaceNumber = 0;
	b->altsetting.bNumEndpoints = 3;
	b->altsetting.bInterfaceClass = LIBUSB_CLASS_VENDOR_SPEC;
	b->altsetting.bInterfaceSubClass = LIBUSB_CLASS_VENDOR_SPEC;
	b->altsetting.bInterfaceProtocol = LIBUSB_CLASS_VENDOR_SPEC;
	b->altsetting.endpoint = b->endpoints;
	b->interface.altsetting = &b->altsetting;
	b->interface.num_altsetting = 1;
	b->config.bLength = LIBUSB_DT_CONFIG_SIZE;
	b->config.bDescriptorType = LIBUSB_DT_CONFIG;
	b->config.wTotalLength = LIBUSB_DT_CONFIG_SIZE + LIBUSB_DT_INTERFACE_SIZE +
				 3 * LIBUSB_DT_ENDPOINT_SIZE;
	b->config.bNumInterfaces = 1;
	b->config.bConfigurationValue = 1;
	b->config.bmAttributes = 0x80;
	b->config.MaxPower = 50;
	b->config.interface = &b->interface;
	*config = &b->config;
	return LIBUSB_SUCCESS;
}

API int libusb_get_active_config_descriptor(libusb_device *dev,
					    struct libusb_config_descriptor **config)
{
	return libusb_get_config_descriptor(dev, 0, config);
}

API int libusb_get_config_descriptor_by_value(libusb_device *dev, uint8_t value,
					      struct libusb_config_descriptor **config)
{
	return value == 1 ? libusb_get_config_descriptor(dev, 0, config) : LIBUSB_ERROR_NOT_FOUND;
}

API void libusb_free_config_descriptor(struct libusb_config_descriptor *config)
{
	/* The config descriptor is the first member of its block. */
	free(config);
}

API uint8_t libusb_get_bus_number(libusb_device *dev)
{
	(void)dev;
	return BUS_NUMBER;
}

API uint8_t libusb_get_device_address(libusb_device *dev)
{
	(void)dev;
	return DEVICE_ADDRESS;
}

API uint8_t libusb_get_port_number(libusb_device *dev)
{
	(void)dev;
	return PORT_NUMBER;
}

API int libusb_get_port_numbers(libusb_device *dev, uint8_t *port_numbers, int port_numbers_len)
{
	(void)dev;
	if (!port_numbers || port_numbers_len < 1)
		return LIBUSB_ERROR_OVERFLOW;
	port_numbers[0] = PORT_NUMBER;
	return 1;
}

API int libusb_get_port_path(libusb_context *ctx, libusb_device *dev, uint8_t *path,
			     uint8_t path_length)
{
	(void)ctx;
	return libusb_get_port_numbers(dev, path, path_length);
}

API libusb_device *libusb_get_parent(libusb_device *dev)
{
	(void)dev;
	return NULL;
}

API int libusb_get_device_speed(libusb_device *dev)
{
	if (!is_our_device(dev))
		return LIBUSB_SPEED_UNKNOWN;
	return probe_pid() == STLINK_SIM_PID_V3 ? LIBUSB_SPEED_HIGH : LIBUSB_SPEED_FULL;
}

API int libusb_get_max_packet_size(libusb_device *dev, unsigned char endpoint)
{
	(void)endpoint;
	if (!is_our_device(dev))
		return LIBUSB_ERROR_NOT_FOUND;
	return probe_pid() == STLINK_SIM_PID_V3 ? 512 : 64;
}

/* ---- handles ------------------------------------------------------------ */

API int libusb_open(libusb_device *dev, libusb_device_handle **dev_handle)
{
	libusb_device_handle *h;
	if (!is_our_device(dev) || !dev_handle)
		return LIBUSB_ERROR_INVALID_PARAM;
	if (stlink_sim_is_gone(facade.chip.probe))
		return LIBUSB_ERROR_NO_DEVICE;
	/* No udev rule: the device node is not ours to open. */
	if (facade.chip.scenario.probe == PROBE_NO_ACCESS)
		return LIBUSB_ERROR_ACCESS;
	h = calloc(1, sizeof(*h));
	if (!h)
		return LIBUSB_ERROR_NO_MEM;
	h->dev = libusb_ref_device(dev);
	*dev_handle = h;
	return LIBUSB_SUCCESS;
}

API libusb_device_handle *libusb_open_device_with_vid_pid(libusb_context *ctx, uint16_t vendor_id,
							  uint16_t product_id)
{
	libusb_device_handle *h = NULL;
	(void)ctx;
	facade_init();
	if (!facade.usable || vendor_id != STLINK_SIM_VID || product_id != probe_pid())
		return NULL;
	if (libusb_open(&facade.dev, &h) != LIBUSB_SUCCESS)
		return NULL;
	return h;
}

API void libusb_close(libusb_device_handle *dev_handle)
{
	if (!dev_handle)
		return;
	libusb_unref_device(dev_handle->dev);
	free(dev_handle);
	pthread_mutex_lock(&facade.lock);
	facade_save_locked(false);
	pthread_mutex_unlock(&facade.lock);
}

API libusb_device *libusb_get_device(libusb_device_handle *dev_handle)
{
	return dev_handle ? dev_handle->dev : NULL;
}

API int libusb_get_configuration(libusb_device_handle *dev_handle, int *config)
{
	if (!dev_handle || !config)
		return LIBUSB_ERROR_INVALID_PARAM;
	*config = 1;
	return LIBUSB_SUCCESS;
}

API int libusb_set_configuration(libusb_device_handle *dev_handle, int configuration)
{
	if (!dev_handle)
		return LIBUSB_ERROR_INVALID_PARAM;
	return configuration == 1 || configuration == -1 ? LIBUSB_SUCCESS : LIBUSB_ERROR_NOT_FOUND;
}

API int libusb_claim_interface(libusb_device_handle *dev_handle, int interface_number)
{
	if (!dev_handle)
		return LIBUSB_ERROR_INVALID_PARAM;
	if (interface_number != 0)
		return LIBUSB_ERROR_NOT_FOUND;
	if (stlink_sim_is_gone(facade.chip.probe))
		return LIBUSB_ERROR_NO_DEVICE;
	/* Another program (OpenOCD, st-util) holds interface 0. */
	if (facade.chip.scenario.probe == PROBE_BUSY)
		return LIBUSB_ERROR_BUSY;
	dev_handle->claimed = true;
	return LIBUSB_SUCCESS;
}

API int libusb_release_interface(libusb_device_handle *dev_handle, int interface_number)
{
	if (!dev_handle)
		return LIBUSB_ERROR_INVALID_PARAM;
	if (interface_number != 0 || !dev_handle->claimed)
		return LIBUSB_ERROR_NOT_FOUND;
	dev_handle->claimed = false;
	return LIBUSB_SUCCESS;
}

API int libusb_set_interface_alt_setting(libusb_device_handle *dev_handle, int interface_number,
					 int alternate_setting)
{
	if (!dev_handle)
		return LIBUSB_ERROR_INVALID_PARAM;
	return interface_number == 0 && alternate_setting == 0 ? LIBUSB_SUCCESS
							       : LIBUSB_ERROR_NOT_FOUND;
}

API int libusb_clear_halt(libusb_device_handle *dev_handle, unsigned char endpoint)
{
	(void)endpoint;
	if (!dev_handle)
		return LIBUSB_ERROR_INVALID_PARAM;
	return stlink_sim_is_gone(facade.chip.probe) ? LIBUSB_ERROR_NO_DEVICE : LIBUSB_SUCCESS;
}

API int libusb_reset_device(libusb_device_handle *dev_handle)
{
	int rc = LIBUSB_SUCCESS;
	if (!dev_handle)
		return LIBUSB_ERROR_INVALID_PARAM;
	pthread_mutex_lock(&facade.lock);
	if (stlink_sim_is_gone(facade.chip.probe))
		rc = LIBUSB_ERROR_NO_DEVICE;
	else
		stlink_sim_usb_reset(facade.chip.probe);
	pthread_mutex_unlock(&facade.lock);
	return rc;
}

API int libusb_kernel_driver_active(libusb_device_handle *dev_handle, int interface_number)
{
	(void)interface_number;
	return dev_handle ? 0 : LIBUSB_ERROR_INVALID_PARAM;
}

API int libusb_detach_kernel_driver(libusb_device_handle *dev_handle, int interface_number)
{
	(void)dev_handle;
	(void)interface_number;
	return LIBUSB_ERROR_NOT_FOUND;
}

API int libusb_attach_kernel_driver(libusb_device_handle *dev_handle, int interface_number)
{
	(void)dev_handle;
	(void)interface_number;
	return LIBUSB_ERROR_NOT_FOUND;
}

API int libusb_set_auto_detach_kernel_driver(libusb_device_handle *dev_handle, int enable)
{
	(void)dev_handle;
	(void)enable;
	return LIBUSB_SUCCESS;
}

/* ---- control transfers: descriptors ------------------------------------- */

static const char *string_for_index(uint8_t index)
{
	switch (index) {
	case 1: return "STMicroelectronics";
	case 2: return "STM32 STLink";
	case 3: return stlink_sim_get_config(facade.chip.probe)->serial;
	default: return NULL;
	}
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
		: c >= 'a' && c <= 'f' ? c - 'a' + 10 : 0;
}

/* Old V2 firmware sends its 12 serial bytes raw, one per UTF-16 unit:
 * descriptor length 26 instead of 50; hosts hex-encode them. */
static size_t raw_serial_descriptor(unsigned char *d)
{
	const char *hex = stlink_sim_get_config(facade.chip.probe)->serial;
	d[0] = 26;
	d[1] = LIBUSB_DT_STRING;
	for (size_t i = 0; i < 12; i++) {
		d[2 + 2 * i] = (unsigned char)(hex_digit(hex[2 * i]) << 4 | hex_digit(hex[2 * i + 1]));
		d[3 + 2 * i] = 0;
	}
	return 26;
}

/* A string descriptor as the device sends it: length, type 3, UTF-16LE. */
static int string_descriptor(uint8_t index, unsigned char *data, uint16_t length)
{
	unsigned char d[256];
	size_t n;
	if (index == 0) {
		d[0] = 4;
		d[1] = LIBUSB_DT_STRING;
		d[2] = 0x09;   /* LANGID 0x0409, English (US) */
		d[3] = 0x04;
		n = 4;
	} else if (index == 3 && facade.raw_serial) {
		n = raw_serial_descriptor(d);
	} else {
		const char *s = string_for_index(index);
		size_t len;
		if (!s)
			return LIBUSB_ERROR_PIPE;
		len = strlen(s);
		n = 2 + 2 * len;
		d[0] = (unsigned char)n;
		d[1] = LIBUSB_DT_STRING;
		for (size_t i = 0; i < len; i++) {
			d[2 + 2 * i] = (unsigned char)s[i];
			d[3 + 2 * i] = 0;
		}
	}
	if (n > length)
		n = length;
	memcpy(data, d, n);
	return (int)n;
}

API int libusb_control_transfer(libusb_device_handle *dev_handle, uint8_t request_type,
				uint8_t bRequest, uint16_t wValue, uint16_t wIndex,
				unsigned char *data, uint16_t wLength, unsigned int timeout)
{
	(void)wIndex;
	(void)timeout;
	if (!dev_handle)
		return LIBUSB_ERROR_INVALID_PARAM;
	if (stlink_sim_is_gone(facade.chip.probe))
		return LIBUSB_ERROR_NO_DEVICE;
	if (request_type == LIBUSB_ENDPOINT_IN && bRequest == LIBUSB_REQUEST_GET_DESCRIPTOR &&
	    (wValue >> 8) == LIBUSB_DT_STRING && data)
		return string_descriptor((uint8_t)wValue, data, wLength);
	/* Anything else the probe stalls. */
	return LIBUSB_ERROR_PIPE;
}

API int libusb_get_string_descriptor_ascii(libusb_device_handle *dev_handle, uint8_t desc_index,
					   unsigned char *data, int length)
{
	unsigned char d[256];
	int n, out = 0;
	if (!dev_handle || !data || length <= 0)
		return LIBUSB_ERROR_INVALID_PARAM;
	if (desc_index == 0)
		return LIBUSB_ERROR_INVALID_PARAM;
	n = libusb_control_transfer(dev_handle, LIBUSB_ENDPOINT_IN, LIBUSB_REQUEST_GET_DESCRIPTOR,
				    (uint16_t)((LIBUSB_DT_STRING << 8) | desc_index), 0x0409, d,
				    sizeof(d), 1000);
	if (n < 0)
		return n;
	if (n < 2 || d[1] != LIBUSB_DT_STRING)
		return LIBUSB_ERROR_IO;
	for (int i = 2; i + 1 < n && out < length - 1; i += 2)
		data[out++] = d[i + 1] == 0 && d[i] < 0x80 ? d[i] : '?';
	data[out] = 0;
	return out;
}

/* ---- bulk transfers ----------------------------------------------------- */

static int xfer_status_to_error(enum stlink_xfer x)
{
	switch (x) {
	case STLINK_XFER_OK: return LIBUSB_SUCCESS;
	case STLINK_XFER_GONE: return LIBUSB_ERROR_NO_DEVICE;
	case STLINK_XFER_TIMEOUT: default: return LIBUSB_ERROR_TIMEOUT;
	}
}

/* For debugging a tool's conversation with the probe: the first bytes of
 * every transfer. */
static void trace_transfer(unsigned char endpoint, const unsigned char *data, size_t len,
			   enum stlink_xfer x)
{
	fprintf(stderr, "libbench-usb: %s %3zu%s:", endpoint & 0x80 ? "IN " : "OUT", len,
		x == STLINK_XFER_OK ? "" : x == STLINK_XFER_GONE ? " GONE" : " TIMEOUT");
	for (size_t i = 0; i < len && i < 16; i++)
		fprintf(stderr, " %02x", data[i]);
	fputc('\n', stderr);
}

/* One bulk transfer against the probe; the lock is held. */
static int bulk_locked(unsigned char endpoint, unsigned char *data, int length, int *transferred,
		       unsigned timeout_ms)
{
	uint16_t pid = probe_pid();
	enum stlink_xfer x;
	size_t got = 0;
	*transferred = 0;
	if (length < 0)
		return LIBUSB_ERROR_INVALID_PARAM;
	catch_up_real_time_locked();
	if (endpoint == stlink_sim_ep_out(pid)) {
		x = stlink_sim_bulk_out(facade.chip.probe, data, (size_t)length);
		if (x == STLINK_XFER_OK)
			got = (size_t)length;
	} else if (endpoint == stlink_sim_ep_in(pid)) {
		x = stlink_sim_bulk_in(facade.chip.probe, data, (size_t)length, &got);
	} else if (endpoint == stlink_sim_ep_trace(pid)) {
		/* No SWO data ever arrives. */
		x = stlink_sim_is_gone(facade.chip.probe) ? STLINK_XFER_GONE : STLINK_XFER_TIMEOUT;
	} else {
		return LIBUSB_ERROR_NOT_FOUND;
	}
	*transferred = (int)got;
	if (facade.trace)
		trace_transfer(endpoint, data, got, x);
	maybe_save_locked();
	host_time_starts_locked();
	if (x == STLINK_XFER_TIMEOUT) {
		unsigned wait = timeout_ms == 0 || timeout_ms > MAX_TIMEOUT_SLEEP_MS
					? MAX_TIMEOUT_SLEEP_MS : timeout_ms;
		sleep_ms(wait);
	}
	return xfer_status_to_error(x);
}

API int libusb_bulk_transfer(libusb_device_handle *dev_handle, unsigned char endpoint,
			     unsigned char *data, int length, int *transferred, unsigned int timeout)
{
	int dummy, rc;
	if (!dev_handle || !is_our_device(dev_handle->dev))
		return LIBUSB_ERROR_INVALID_PARAM;
	if (!dev_handle->claimed)
		return LIBUSB_ERROR_NOT_FOUND;
	pthread_mutex_lock(&facade.lock);
	rc = bulk_locked(endpoint, data, length, transferred ? transferred : &dummy, timeout);
	pthread_mutex_unlock(&facade.lock);
	return rc;
}

API int libusb_interrupt_transfer(libusb_device_handle *dev_handle, unsigned char endpoint,
				  unsigned char *data, int length, int *transferred,
				  unsigned int timeout)
{
	(void)dev_handle;
	(void)endpoint;
	(void)data;
	(void)length;
	(void)timeout;
	if (transferred)
		*transferred = 0;
	return LIBUSB_ERROR_NOT_SUPPORTED;
}

/* ---- asynchronous transfers --------------------------------------------- */

API struct libusb_transfer *libusb_alloc_transfer(int iso_packets)
{
	size_t extra = iso_packets > 0 ? (size_t)iso_packets * sizeof(struct libusb_iso_packet_descriptor) : 0;
	return calloc(1, sizeof(struct libusb_transfer) + extra);
}

API void libusb_free_transfer(struct libusb_transfer *transfer)
{
	if (!transfer)
		return;
	if (transfer->flags & LIBUSB_TRANSFER_FREE_BUFFER)
		free(transfer->buffer);
	free(transfer);
}

API int libusb_submit_transfer(struct libusb_transfer *transfer)
{
	int rc = LIBUSB_SUCCESS;
	if (!transfer || !transfer->dev_handle || transfer->type != LIBUSB_TRANSFER_TYPE_BULK)
		return transfer && transfer->dev_handle ? LIBUSB_ERROR_NOT_SUPPORTED
							: LIBUSB_ERROR_INVALID_PARAM;
	pthread_mutex_lock(&facade.lock);
	if (facade.usable && stlink_sim_is_gone(facade.chip.probe))
		rc = LIBUSB_ERROR_NO_DEVICE;
	else if (facade.queued >= MAX_QUEUED)
		rc = LIBUSB_ERROR_BUSY;
	else
		facade.queue[facade.queued++] = (struct queued_transfer){ transfer, false };
	pthread_mutex_unlock(&facade.lock);
	return rc;
}

static bool dequeue_locked(struct queued_transfer *out)
{
	if (facade.queued == 0)
		return false;
	*out = facade.queue[0];
	memmove(facade.queue, facade.queue + 1, (facade.queued - 1) * sizeof(facade.queue[0]));
	facade.queued--;
	return true;
}

API int libusb_cancel_transfer(struct libusb_transfer *transfer)
{
	int rc = LIBUSB_ERROR_NOT_FOUND;
	pthread_mutex_lock(&facade.lock);
	for (size_t i = 0; i < facade.queued; i++) {
		if (facade.queue[i].transfer == transfer && !facade.queue[i].cancelled) {
			/* Completes as cancelled at the next event handling. */
			facade.queue[i].cancelled = true;
			rc = LIBUSB_SUCCESS;
		}
	}
	pthread_mutex_unlock(&facade.lock);
	return rc;
}

static enum libusb_transfer_status error_to_transfer_status(int rc)
{
	switch (rc) {
	case LIBUSB_SUCCESS: return LIBUSB_TRANSFER_COMPLETED;
	case LIBUSB_ERROR_TIMEOUT: return LIBUSB_TRANSFER_TIMED_OUT;
	case LIBUSB_ERROR_NO_DEVICE: return LIBUSB_TRANSFER_NO_DEVICE;
	case LIBUSB_ERROR_PIPE: return LIBUSB_TRANSFER_STALL;
	default: return LIBUSB_TRANSFER_ERROR;
	}
}

/* Runs one queued transfer and calls its callback without the lock, since
 * callbacks may submit more transfers. Returns false when none was queued. */
static bool complete_one(void)
{
	struct queued_transfer q;
	struct libusb_transfer *t;
	pthread_mutex_lock(&facade.lock);
	if (!dequeue_locked(&q)) {
		pthread_mutex_unlock(&facade.lock);
		return false;
	}
	t = q.transfer;
	if (q.cancelled) {
		t->actual_length = 0;
		t->status = LIBUSB_TRANSFER_CANCELLED;
	} else if (!t->dev_handle->claimed) {
		t->actual_length = 0;
		t->status = LIBUSB_TRANSFER_ERROR;
	} else {
		int done = 0;
		int rc = bulk_locked(t->endpoint, t->buffer, t->length, &done, t->timeout);
		t->actual_length = done;
		t->status = error_to_transfer_status(rc);
	}
	pthread_mutex_unlock(&facade.lock);
	if (t->callback)
		t->callback(t);
	if (t->flags & LIBUSB_TRANSFER_FREE_TRANSFER)
		libusb_free_transfer(t);
	return true;
}

static int handle_events(int *completed)
{
	while ((!completed || !*completed) && complete_one())
		;
	return LIBUSB_SUCCESS;
}

API int libusb_handle_events_timeout_completed(libusb_context *ctx, struct timeval *tv,
					       int *completed)
{
	(void)ctx;
	(void)tv;
	return handle_events(completed);
}

API int libusb_handle_events_timeout(libusb_context *ctx, struct timeval *tv)
{
	return libusb_handle_events_timeout_completed(ctx, tv, NULL);
}

API int libusb_handle_events_completed(libusb_context *ctx, int *completed)
{
	(void)ctx;
	return handle_events(completed);
}

API int libusb_handle_events(libusb_context *ctx)
{
	(void)ctx;
	return handle_events(NULL);
}

API int libusb_get_next_timeout(libusb_context *ctx, struct timeval *tv)
{
	(void)ctx;
	(void)tv;
	return 0;
}

API int libusb_pollfds_handle_timeouts(libusb_context *ctx)
{
	(void)ctx;
	return 1;
}

/* ---- hotplug: not on this bus ------------------------------------------- */

API int libusb_hotplug_register_callback(libusb_context *ctx, int events, int flags,
					 int vendor_id, int product_id, int dev_class,
					 libusb_hotplug_callback_fn cb_fn, void *user_data,
					 libusb_hotplug_callback_handle *callback_handle)
{
	(void)ctx; (void)events; (void)flags; (void)vendor_id; (void)product_id;
	(void)dev_class; (void)cb_fn; (void)user_data; (void)callback_handle;
	return LIBUSB_ERROR_NOT_SUPPORTED;
}

API void libusb_hotplug_deregister_callback(libusb_context *ctx,
					    libusb_hotplug_callback_handle callback_handle)
{
	(void)ctx;
	(void)callback_handle;
}
