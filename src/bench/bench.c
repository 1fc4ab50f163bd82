/* The in-process bench: the chip the scenario describes (built by the same
 * code as the libusb facade's), the simulated ST-Link in front of it, and
 * the pty VESC that follows the simulated flash: it enumerates only while
 * the core runs an application that passes the firmware's own boot check. */
#include "bench/bench.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/f4_model.h"
#include "bench/facade/facade_chip.h"
#include "bench/stlink_sim.h"
#include "bench/vesc_sim.h"
#include "images/vesc_layout.h"

#define APP_REGION_BYTES 0x80000u

struct bench {
	struct facade_chip chip;
	pthread_mutex_t lock;          /* the model: ST-Link side and VESC side */
	struct vesc_sim *vesc;         /* USB CDC, while the application runs */
	struct vesc_sim *uart;         /* the COMM header through a USB-UART adapter */
	struct vesc_sim_flash flash_hooks;
	struct usb_transport inner;    /* the simulator's own transport */
	bool stlink_claimed;
	bool app_running_seen;         /* f4_app_running at the last sync */
	bool synced_once;
};

/* ---- the VESC follows the flash --------------------------------------- */

static uint8_t *hook_flash(void *ctx)
{
	struct bench *b = ctx;
	return f4_model_flash(b->chip.model);
}

static void hook_lock(void *ctx)
{
	pthread_mutex_lock(&((struct bench *)ctx)->lock);
}

static void hook_unlock(void *ctx)
{
	pthread_mutex_unlock(&((struct bench *)ctx)->lock);
}

/* What the firmware does before USB comes up (vesc reference §4.2): the
 * first boot after programming stores flag and CRC and resets itself; later
 * boots check the CRC and blink red forever on a mismatch. Called with the
 * lock held. */
static bool firmware_boots_locked(struct bench *b)
{
	if (b->chip.scenario.vdd <= 0 || !f4_app_running(b->chip.model))
		return false;
	uint8_t *flash = f4_model_flash(b->chip.model);
	struct app_obs app;
	vesc_check_app(flash, APP_REGION_BYTES, &app);
	if (!app.vector_valid)
		return false;
	if (app.crcinfo == CRCINFO_NEVER_BOOTED) {
		uint32_t crc;
		if (!vesc_app_crc(flash, APP_REGION_BYTES, app.fw_gen, &crc))
			return false;
		uint32_t info = app.fw_gen >= 6 ? 0x7FFF0u : 0x5FFF0u;
		/* Programming only clears bits, as the firmware's own write does. */
		const uint8_t words[8] = {0, 0, 0, 0, (uint8_t)crc, (uint8_t)(crc >> 8),
					  (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
		for (unsigned i = 0; i < 8; i++)
			flash[info + i] &= words[i];
		vesc_check_app(flash, APP_REGION_BYTES, &app);
	}
	return app.crcinfo == CRCINFO_BOOTED && app.crc_checked && app.crc_ok;
}

static enum vesc_sim_behaviour link_behaviour(const struct bench_scenario *sc)
{
	if (sc->link == VESC_LINK_DISCONNECT)
		return VESC_SIM_DISCONNECT;
	return sc->link == VESC_LINK_USB_NOISE ? VESC_SIM_NOISY_LINK : VESC_SIM_HEALTHY;
}

static void vesc_config(struct bench *b, struct vesc_sim_config *cfg, enum vesc_sim_behaviour behaviour)
{
	const struct bench_scenario *sc = &b->chip.scenario;
	vesc_sim_config_defaults(cfg);
	cfg->behaviour = behaviour;
	cfg->fw_major = sc->fw_major;
	cfg->fw_minor = sc->fw_minor;
	snprintf(cfg->hw_name, sizeof cfg->hw_name, "%s", sc->hw_name);
	cfg->baud = sc->uart_baud;
	cfg->flash = &b->flash_hooks;
	/* The UUID the firmware reports is the chip's UID (0x1FFF7A10). */
	uint32_t fault;
	f4_mem_read(b->chip.model, 0x1FFF7A10u, cfg->uuid, sizeof cfg->uuid, 4, &fault);
}

/* Starts or stops the CDC VESC to match the flash. Never called with the
 * lock held: stopping joins a thread that may be waiting for it. */
static void sync_vesc(struct bench *b)
{
	const struct bench_scenario *sc = &b->chip.scenario;
	/* The boot check reads half a megabyte: run it only when the core
	 * starts or stops running the application, not on every transfer. */
	pthread_mutex_lock(&b->lock);
	bool running = f4_app_running(b->chip.model);
	bool changed = !b->synced_once || running != b->app_running_seen;
	b->synced_once = true;
	b->app_running_seen = running;
	bool boots = changed && sc->link != VESC_LINK_UART_WRONG_BAUD && firmware_boots_locked(b);
	pthread_mutex_unlock(&b->lock);
	if (b->vesc) {
		struct vesc_sim_stats st;
		vesc_sim_get_stats(b->vesc, &st);
		if ((changed && !boots) || st.gone) {
			vesc_sim_stop(b->vesc);
			b->vesc = NULL;
		}
	}
	if (changed && boots && !b->vesc) {
		struct vesc_sim_config cfg;
		struct vr_error err;
		vesc_config(b, &cfg, link_behaviour(sc));
		if (vesc_sim_start(&cfg, &b->vesc, &err) != VR_OK)
			b->vesc = NULL;
	}
}

static void start_uart(struct bench *b)
{
	const struct bench_scenario *sc = &b->chip.scenario;
	if (sc->link != VESC_LINK_UART_WRONG_BAUD || sc->vdd <= 0)
		return;
	struct vesc_sim_config cfg;
	struct vr_error err;
	vesc_config(b, &cfg, VESC_SIM_WRONG_BAUD);
	if (vesc_sim_start(&cfg, &b->uart, &err) != VR_OK)
		b->uart = NULL;
}

/* ---- the ST-Link, serialised with the VESC side ------------------------ */

static vr_err locked_out(void *ctx, const uint8_t *buf, size_t len, unsigned timeout_ms,
			 struct vr_error *err)
{
	struct bench *b = ctx;
	pthread_mutex_lock(&b->lock);
	vr_err rc = b->inner.ops->bulk_out(b->inner.ctx, buf, len, timeout_ms, err);
	pthread_mutex_unlock(&b->lock);
	return rc;
}

static vr_err locked_in(void *ctx, uint8_t *buf, size_t len, size_t *got, unsigned timeout_ms,
			struct vr_error *err)
{
	struct bench *b = ctx;
	pthread_mutex_lock(&b->lock);
	vr_err rc = b->inner.ops->bulk_in(b->inner.ctx, buf, len, got, timeout_ms, err);
	pthread_mutex_unlock(&b->lock);
	/* A reply completes a command: the core may have been halted, reset
	 * or started, and the VESC's USB follows. */
	sync_vesc(b);
	return rc;
}

static vr_err locked_reset(void *ctx, struct vr_error *err)
{
	struct bench *b = ctx;
	pthread_mutex_lock(&b->lock);
	vr_err rc = b->inner.ops->reset(b->inner.ctx, err);
	pthread_mutex_unlock(&b->lock);
	return rc;
}

static void locked_close(void *ctx)
{
	struct bench *b = ctx;
	pthread_mutex_lock(&b->lock);
	if (b->inner.ops && b->inner.ops->close)
		b->inner.ops->close(b->inner.ctx);
	b->stlink_claimed = false;
	pthread_mutex_unlock(&b->lock);
}

static const struct usb_transport_ops locked_ops = {
	.bulk_out = locked_out,
	.bulk_in = locked_in,
	.reset = locked_reset,
	.close = locked_close,
};

vr_err bench_open_stlink(struct bench *b, struct usb_transport *out, struct vr_error *err)
{
	const struct bench_scenario *sc = &b->chip.scenario;
	switch (sc->probe) {
	case PROBE_ABSENT:
		return vr_fail(err, VR_ERR_NO_DEVICE, "no ST-Link on USB (simulated: scenario %s)", sc->name);
	case PROBE_BUSY:
		return vr_fail(err, VR_ERR_BUSY,
			       "another program has the ST-Link (OpenOCD, st-util, stlink-server or a "
			       "second vesc-rescue): stop it and try again");
	case PROBE_NO_ACCESS:
		return vr_fail(err, VR_ERR_ACCESS,
			       "no permission for the ST-Link at bus 1 port 1 (simulated): install the udev "
			       "rules (vesc-rescue --udev-rules | sudo tee /etc/udev/rules.d/70-vesc-rescue.rules)");
	default:
		break;
	}
	if (b->stlink_claimed)
		return vr_fail(err, VR_ERR_BUSY, "the simulated ST-Link is already open");
	stlink_sim_transport(b->chip.probe, &b->inner);
	memset(out, 0, sizeof *out);
	out->ops = &locked_ops;
	out->ctx = b;
	out->vid = b->inner.vid;
	out->pid = b->inner.pid;
	snprintf(out->serial, sizeof out->serial, "%s", b->inner.serial);
	snprintf(out->where, sizeof out->where, "simulated");
	b->stlink_claimed = true;
	return VR_OK;
}

/* ---- lifetime and queries ---------------------------------------------- */

vr_err bench_open(const struct bench_scenario *sc, struct bench **out, struct vr_error *err)
{
	struct bench *b = calloc(1, sizeof *b);
	if (!b)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	pthread_mutex_init(&b->lock, NULL);
	vr_err rc = facade_chip_open(&b->chip, sc, NULL, err);
	if (rc) {
		pthread_mutex_destroy(&b->lock);
		free(b);
		return rc;
	}
	b->chip.clock.time_scale = sc->time_scale;
	b->chip.timing.time_scale = sc->time_scale;
	b->flash_hooks = (struct vesc_sim_flash){.ctx = b, .flash = hook_flash,
						 .lock = hook_lock, .unlock = hook_unlock};
	sync_vesc(b);
	start_uart(b);
	*out = b;
	return VR_OK;
}

void bench_close(struct bench *b)
{
	if (!b)
		return;
	if (b->vesc)
		vesc_sim_stop(b->vesc);
	if (b->uart)
		vesc_sim_stop(b->uart);
	/* VR_BENCH_STATS=FILE, as for the libusb facade: the model's counters,
	 * so a test can tell whether code ran on the emulated core. */
	const char *stats = getenv("VR_BENCH_STATS");
	struct vr_error err;
	if (stats && *stats && facade_chip_write_stats(&b->chip, stats, &err) != VR_OK)
		fprintf(stderr, "bench: %s\n", err.msg);
	facade_chip_close(&b->chip);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

const struct bench_scenario *bench_scenario(const struct bench *b)
{
	return &b->chip.scenario;
}

struct f4_model *bench_target(struct bench *b)
{
	return b->chip.model;
}

struct bench_clock *bench_clock(struct bench *b)
{
	return &b->chip.clock;
}

const char *bench_vesc_port(struct bench *b)
{
	sync_vesc(b);
	return b->vesc ? vesc_sim_port(b->vesc) : NULL;
}

const char *bench_uart_port(struct bench *b)
{
	return b->uart ? vesc_sim_port(b->uart) : NULL;
}

void bench_target_changed(struct bench *b)
{
	sync_vesc(b);
}

static void add_device(struct usb_obs *out, unsigned max, unsigned *n, uint16_t vid, uint16_t pid,
		       enum usb_kind kind, const char *model, const char *tty)
{
	if (*n >= max)
		return;
	struct usb_obs *u = &out[(*n)++];
	memset(u, 0, sizeof *u);
	u->vid = vid;
	u->pid = pid;
	u->kind = kind;
	snprintf(u->model, sizeof u->model, "%s", model);
	snprintf(u->path, sizeof u->path, "sim-%u", *n);
	snprintf(u->tty, sizeof u->tty, "%s", tty ? tty : "");
}

unsigned bench_usb_devices(struct bench *b, struct usb_obs *out, unsigned max)
{
	const struct bench_scenario *sc = &b->chip.scenario;
	unsigned n = 0;
	const char *vesc = bench_vesc_port(b);
	if (vesc) {
		add_device(out, max, &n, 0x0483, 0x5740, USB_KIND_VESC_CDC, "ChibiOS/RT Virtual COM Port", vesc);
		snprintf(out[n - 1].manufacturer, sizeof out[n - 1].manufacturer, "STMicroelectronics");
		snprintf(out[n - 1].serial, sizeof out[n - 1].serial, "304");
	}
	if (sc->probe != PROBE_ABSENT) {
		uint16_t pid = sc->probe_pid ? sc->probe_pid : STLINK_SIM_PID_V2;
		add_device(out, max, &n, 0x0483, pid, USB_KIND_STLINK, stlink_sim_model_name(pid), NULL);
		snprintf(out[n - 1].serial, sizeof out[n - 1].serial, "%s",
			 stlink_sim_get_config(b->chip.probe)->serial);
		if (sc->probe == PROBE_NO_ACCESS) {
			out[n - 1].access = VR_ERR_ACCESS;
			snprintf(out[n - 1].error, sizeof out[n - 1].error,
				 "no permission: install the udev rules (vesc-rescue --udev-rules)");
		}
	}
	if (b->uart)
		add_device(out, max, &n, 0x10c4, 0xea60, USB_KIND_UART_BRIDGE, "CP210x USB-UART bridge",
			   vesc_sim_port(b->uart));
	return n;
}

uint64_t bench_now_us(struct bench *b)
{
	pthread_mutex_lock(&b->lock);
	uint64_t now = b->chip.clock.now_us;
	pthread_mutex_unlock(&b->lock);
	return now;
}

void bench_pass_time(struct bench *b, uint64_t us)
{
	pthread_mutex_lock(&b->lock);
	stlink_sim_pass_time(b->chip.probe, us);
	pthread_mutex_unlock(&b->lock);
	sync_vesc(b);
}
