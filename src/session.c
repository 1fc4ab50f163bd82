#include "session.h"

#include <libusb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "bench/f4_model.h"
#include "bench/scenario.h"
#include "probes/serial_probe.h"
#include "probes/swd_probe.h"
#include "probes/usb_probe.h"
#include "stlink.h"
#include "stm32f4.h"
#include "usb_libusb.h"

struct session {
	struct cli_options opts;
	struct bench *bench;            /* --sim, else NULL */
	char sim_name[48];
	libusb_context *usb;            /* live: for the ST-Link */
	struct swd_probe probe;
	bool probe_open;
	struct stm32f4 target;
	bool target_attached;
	struct stm32f4_clock clock;     /* modeled time on the bench */
	char vesc_port[128];
	const struct run_hooks *hooks;  /* while a probe runs: for the manual NRST prompt */
};

/* ---- opening ------------------------------------------------------------ */

static uint64_t bench_clock_now(void *ctx)
{
	return bench_now_us(ctx);
}

static void bench_clock_sleep(void *ctx, uint64_t us)
{
	bench_pass_time(ctx, us);
}

static void bench_sleep_ms(void *ctx, unsigned ms)
{
	bench_pass_time(ctx, (uint64_t)ms * 1000u);
}

vr_err session_open(const struct cli_options *opts, struct session **out, struct vr_error *err)
{
	struct session *s = calloc(1, sizeof *s);
	if (!s)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory");
	s->opts = *opts;
	if (opts->sim) {
		struct bench_scenario sc;
		vr_err rc = bench_scenario_parse(opts->sim, &sc, err);
		if (!rc)
			rc = bench_open(&sc, &s->bench, err);
		if (rc) {
			free(s);
			return rc;
		}
		snprintf(s->sim_name, sizeof s->sim_name, "%s", sc.name);
		s->clock = (struct stm32f4_clock){.now_us = bench_clock_now, .sleep_us = bench_clock_sleep,
						  .ctx = s->bench};
	}
	*out = s;
	return VR_OK;
}

static void close_probe(struct session *s)
{
	if (s->probe_open && s->probe.ops && s->probe.ops->close)
		s->probe.ops->close(s->probe.ctx);
	s->probe_open = false;
	s->target_attached = false;
}

void session_release_target(struct session *s)
{
	if (s->target_attached) {
		struct vr_error ignored;
		swd_detach(&s->target, &ignored);
	}
	close_probe(s);
	if (s->bench)
		bench_target_changed(s->bench);
}

void session_close(struct session *s)
{
	if (!s)
		return;
	session_release_target(s);
	if (s->usb)
		libusb_exit(s->usb);
	bench_close(s->bench);
	free(s);
}

bool session_simulated(const struct session *s)
{
	return s->bench != NULL;
}

const char *session_sim_name(const struct session *s)
{
	return s->sim_name;
}

const struct cli_options *session_options(const struct session *s)
{
	return &s->opts;
}

struct stm32f4 *session_target(struct session *s)
{
	return s->target_attached ? &s->target : NULL;
}

void session_power_cycled(struct session *s)
{
	session_release_target(s);
	if (s->bench) {
		f4_power_cycle(bench_target(s->bench));
		bench_target_changed(s->bench);
	}
}

const char *session_vesc_port(const struct session *s)
{
	return s->vesc_port[0] ? s->vesc_port : NULL;
}

/* ---- link ----------------------------------------------------------------- */

static void list_usb(struct session *s, struct observations *obs)
{
	if (s->bench) {
		struct usb_obs devs[OBS_MAX_USB];
		unsigned n = bench_usb_devices(s->bench, devs, OBS_MAX_USB);
		usb_probe_add(obs, devs, n);
	} else {
		usb_probe_run(obs);
	}
}

static unsigned gather_ports(struct session *s, const struct observations *obs, const char **ports)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->opts.n_ports && n < CLI_MAX_PORTS; i++)
		ports[n++] = s->opts.ports[i];
	if (s->bench) {
		/* The simulated VESC's USB port, as enumeration would have found it. */
		for (unsigned i = 0; i < obs->n_usb && n < CLI_MAX_PORTS; i++)
			if (obs->usb[i].kind == USB_KIND_VESC_CDC && obs->usb[i].tty[0])
				ports[n++] = obs->usb[i].tty;
	}
	return n;
}

static void remember_vesc(struct session *s, const struct observations *obs)
{
	s->vesc_port[0] = '\0';
	for (unsigned i = 0; i < obs->n_serial; i++)
		if (obs->serial[i].status == SERIAL_VESC) {
			snprintf(s->vesc_port, sizeof s->vesc_port, "%s", obs->serial[i].port);
			return;
		}
}

vr_err session_probe_link(struct session *s, const struct run_hooks *hooks, struct observations *obs,
			  struct vr_error *err)
{
	obs->n_usb = 0;
	obs->n_serial = 0;
	obs->usb_error = false;
	obs->simulated = s->bench != NULL;
	snprintf(obs->sim_name, sizeof obs->sim_name, "%s", s->sim_name);
	list_usb(s, obs);
	hooks_log(hooks, "USB: %u relevant device(s)", obs->n_usb);

	const char *ports[CLI_MAX_PORTS];
	struct serial_probe_opts sopts = {
		.ports = ports,
		.n_ports = gather_ports(s, obs, ports),
		.enumerate = s->bench == NULL,
		.uart = s->opts.uart ? s->opts.uart : (s->bench ? bench_uart_port(s->bench) : NULL),
		.uart_baud = s->opts.baud_auto ? 0 : s->opts.baud,
		.timeout_ms = s->opts.timeout_ms,
	};
	vr_err rc = serial_probe_run(&sopts, obs, err);
	for (unsigned i = 0; i < obs->n_serial; i++)
		hooks_log(hooks, "serial %s: %s%s%s", obs->serial[i].port,
			  serial_status_name(obs->serial[i].status), obs->serial[i].detail[0] ? ": " : "",
			  obs->serial[i].status == SERIAL_ERROR ? obs->serial[i].error : obs->serial[i].detail);
	remember_vesc(s, obs);
	return rc;
}

/* ---- SWD ------------------------------------------------------------------ */

static vr_err open_transport(struct session *s, struct usb_transport *t, struct vr_error *err)
{
	if (s->bench)
		return bench_open_stlink(s->bench, t, err);
	if (!s->usb && libusb_init(&s->usb) != 0) {
		s->usb = NULL;
		return vr_fail(err, VR_ERR_NO_DEVICE, "libusb could not start: no USB access on this machine");
	}
	return usb_libusb_open(s->usb, s->opts.probe_serial, t, err);
}

static vr_err open_probe(struct session *s, struct vr_error *err)
{
	if (s->probe_open)
		return VR_OK;
	struct usb_transport t;
	vr_err rc = open_transport(s, &t, err);
	if (rc)
		return rc;
	/* On the bench, the driver's WAIT backoff lets modeled time pass
	 * instead of sleeping. */
	struct stlink_options sopts = {.sleep_ms = s->bench ? bench_sleep_ms : NULL, .sleep_ctx = s->bench};
	rc = stlink_open_with(&t, &sopts, &s->probe, err);
	if (rc)
		return rc;
	s->probe_open = true;
	return VR_OK;
}

/* The manual NRST rung: the person shorts NRST to GND and lets go on cue. */
static bool manual_reset_cue(void *ctx, enum swd_manual_cue cue, const char *instruction)
{
	struct session *s = ctx;
	if (!s->hooks || !s->hooks->ask_person)
		return false;
	if (s->bench && cue == SWD_CUE_HOLD_NRST) {
		/* On the bench the "person" is simulated: the rehearsal shows the
		 * instruction, and answering it shorts the simulated pin. */
		bool done = hooks_ask_person(s->hooks, instruction, 60000);
		if (done)
			f4_manual_nrst(bench_target(s->bench), true);
		return done;
	}
	if (s->bench && cue == SWD_CUE_RELEASE_NRST) {
		f4_manual_nrst(bench_target(s->bench), false);
		hooks_log(s->hooks, "%s", instruction);
		return true;
	}
	return hooks_ask_person(s->hooks, instruction, 60000);
}

static void fill_probe_failure(struct swd_obs *swd, const struct vr_error *err)
{
	swd->probe_found = false;
	swd->probe_err = err->code;
	snprintf(swd->probe_error, sizeof swd->probe_error, "%s", err->msg);
}

/* VR_NO_LOADER=1: program by direct AHB writes and check by reading back,
 * without our flash loader running on the target's core. Slower, but
 * nothing executes on the MCU: tests/run-valgrind.sh uses it so the bench's
 * CPU emulator (a JIT, opaque to memcheck) stays out of the loop. */
static void apply_loader_choice(struct stm32f4 *t)
{
	const char *v = getenv("VR_NO_LOADER");
	if (v && strcmp(v, "1") == 0)
		t->use_loader = false;
}

vr_err session_probe_swd(struct session *s, const struct run_hooks *hooks, struct observations *obs,
			 struct vr_error *err)
{
	struct swd_obs *swd = &obs->swd;
	memset(swd, 0, sizeof *swd);
	swd->tried = true;
	swd->rdp = -1;
	session_release_target(s);
	vr_err rc = open_probe(s, err);
	if (rc) {
		fill_probe_failure(swd, err);
		hooks_log(hooks, "SWD: %s", err->msg);
		return rc;
	}
	swd->probe_found = true;
	struct swd_attach_opts aopts;
	swd_attach_opts_defaults(&aopts);
	/* The manual rung needs someone to short NRST: without a way to ask,
	 * it is skipped and says so. */
	aopts.manual_reset = hooks && hooks->ask_person ? manual_reset_cue : NULL;
	aopts.manual_ctx = s;
	aopts.clock = s->bench ? &s->clock : NULL;
	s->hooks = hooks;
	rc = swd_attach(&s->probe, &aopts, &s->target, swd, err);
	s->hooks = NULL;
	for (unsigned i = 0; i < swd->n_rungs; i++)
		hooks_log(hooks, "attach %s: %s: %s", attach_result_name(swd->ladder[i].rung),
			  swd->ladder[i].ok ? "ok" : "failed", swd->ladder[i].saw);
	if (rc) {
		hooks_log(hooks, "SWD: %s", err->msg);
		return rc;
	}
	s->target_attached = true;
	apply_loader_choice(&s->target);
	rc = swd_survey(&s->target, NULL, NULL, swd, err);
	if (rc)
		hooks_log(hooks, "survey: %s", err->msg);
	else
		hooks_log(hooks, "survey: RDP %d, app %s, bootloader %s%s", swd->rdp,
			  swd->app.vector_valid ? (swd->app.crc_ok ? "valid" : "corrupt") : "absent",
			  swd->bootloader.present ? "present, " : "absent",
			  !swd->bootloader.present ? "" :
			  swd->bootloader.kind == BL_KIND_UNKNOWN ? "build unknown" : bl_kind_name(swd->bootloader.kind));
	return rc;
}

vr_err session_probe_all(struct session *s, const struct run_hooks *hooks, struct observations *obs,
			 struct vr_error *err)
{
	vr_err link = session_probe_link(s, hooks, obs, err);
	struct vr_error swd_err;
	vr_error_clear(&swd_err);
	session_probe_swd(s, hooks, obs, &swd_err);
	return link;
}
