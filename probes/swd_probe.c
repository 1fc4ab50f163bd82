/* SWD attach ladder and flash survey: see probes/swd_probe.h. Connect
 * sequences: ../shared/reference/stlink-swd-stm32f4.md §3; what a VESC
 * keeps where: vesc-protocol-and-flash.md §4 (classified by
 * images/vesc_layout.h). */
#include "probes/swd_probe.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "images/vesc_layout.h"
#include "stlink.h"

#define CORTEX_DHCSR 0xE000EDF0u
#define CORTEX_DEMCR 0xE000EDFCu
#define HALT_REQUEST 0xA05F0003u     /* DBGKEY | C_HALT | C_DEBUGEN */
#define CATCH_RESET 0x01000501u      /* TRCENA | VC_HARDERR | VC_BUSERR | VC_CORERESET */
#define S_HALT (1u << 17)
#define S_RESET_ST (1u << 25)
#define LOW_VOLTAGE 2.0              /* below: the target looks unpowered */

void swd_attach_opts_defaults(struct swd_attach_opts *opts)
{
	memset(opts, 0, sizeof *opts);
	opts->normal_khz = 1800;
	opts->slow_khz[0] = 480;
	opts->slow_khz[1] = 100;
	opts->manual_window_ms = 5000;
}

/* One attempt's context: the probe, the target layer and where to write. */
struct ladder {
	struct swd_probe *probe;
	struct stm32f4 *t;
	const struct swd_attach_opts *opts;
	struct swd_obs *obs;
};

static void saw(struct swd_rung *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void saw(struct swd_rung *r, const char *fmt, ...)
{
	size_t used = strlen(r->saw);
	if (used + 1 >= sizeof r->saw)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->saw + used, sizeof r->saw - used, fmt, ap);
	va_end(ap);
}

static struct swd_rung *new_rung(struct ladder *l, enum attach_result kind)
{
	struct swd_obs *obs = l->obs;
	if (obs->n_rungs >= OBS_MAX_RUNGS)
		return NULL;
	struct swd_rung *r = &obs->ladder[obs->n_rungs++];
	memset(r, 0, sizeof *r);
	r->rung = kind;
	return r;
}

static void nap_us(struct ladder *l, uint64_t us)
{
	l->t->clock.sleep_us(l->t->clock.ctx, us);
}

static uint64_t clock_us(struct ladder *l)
{
	return l->t->clock.now_us(l->t->clock.ctx);
}

static vr_err nrst(struct ladder *l, bool low, struct vr_error *err)
{
	if (!l->probe->ops->drive_nrst)
		return vr_fail(err, VR_ERR_UNSUPPORTED, "this probe cannot drive NRST");
	return l->probe->ops->drive_nrst(l->probe->ctx, low, err);
}

/* ENTER SWD and DPIDR: whether anything answers on SWDIO/SWCLK. */
static bool dp_answers(struct ladder *l, struct swd_rung *r, struct vr_error *err)
{
	const struct swd_probe_ops *ops = l->probe->ops;
	if (ops->enter_swd(l->probe->ctx, err) != VR_OK) {
		saw(r, "no DPIDR answer (ENTER SWD failed: %s)", err->msg);
		return false;
	}
	if (!ops->read_dpidr)
		return true;
	uint32_t dpidr = 0;
	if (ops->read_dpidr(l->probe->ctx, &dpidr, err) != VR_OK || dpidr == 0) {
		saw(r, "no DPIDR answer");
		return false;
	}
	r->dpidr = dpidr;
	l->obs->dpidr = dpidr;
	saw(r, "DPIDR 0x%08x", dpidr);
	if (dpidr != STM32F4_DPIDR)
		saw(r, " (an STM32F4 reads 0x%08x)", STM32F4_DPIDR);
	return true;
}

static bool halt_and_freeze(struct ladder *l, struct swd_rung *r, struct vr_error *err)
{
	if (stm32f4_halt(l->t, err) != VR_OK) {
		saw(r, "; the core did not halt (%s)", err->msg);
		return false;
	}
	if (stm32f4_freeze_watchdogs(l->t, err) != VR_OK) {
		saw(r, "; halted, but the watchdogs could not be frozen (%s)", err->msg);
		return false;
	}
	saw(r, "; core halted, watchdogs frozen");
	return true;
}

static bool try_normal(struct ladder *l, struct swd_rung *r, struct vr_error *err)
{
	struct vr_error ignored = {0};
	if (l->probe->ops->drive_nrst)
		(void)nrst(l, false, &ignored);  /* a line left low by an earlier rung */
	return dp_answers(l, r, err) && halt_and_freeze(l, r, err);
}

/* Halt request and reset vector catch, written while the core is held in
 * reset: it stops on its first instruction when released. */
static vr_err arm_reset_catch(struct ladder *l, struct vr_error *err)
{
	const struct swd_probe_ops *ops = l->probe->ops;
	vr_err rc = ops->write_word(l->probe->ctx, CORTEX_DHCSR, HALT_REQUEST, err);
	if (rc == VR_OK)
		rc = ops->write_word(l->probe->ctx, CORTEX_DEMCR, CATCH_RESET, err);
	return rc;
}

/* After NRST is released: poll for the halt, re-requesting it each time
 * (the core is caught as it leaves reset, reference §3.1 step 5). */
static bool wait_caught(struct ladder *l, struct swd_rung *r, uint64_t window_us,
			struct vr_error *err)
{
	const struct swd_probe_ops *ops = l->probe->ops;
	uint64_t start = clock_us(l);
	bool seen_reset = false;
	uint32_t dhcsr = 0;
	while (clock_us(l) - start <= window_us) {
		if (ops->read_word(l->probe->ctx, CORTEX_DHCSR, &dhcsr, err) == VR_OK) {
			seen_reset |= (dhcsr & S_RESET_ST) != 0;
			if (dhcsr & S_HALT) {
				if (!seen_reset)
					saw(r, "; NRST seems not connected (no reset seen)");
				return halt_and_freeze(l, r, err);
			}
			(void)ops->write_word(l->probe->ctx, CORTEX_DHCSR, HALT_REQUEST, err);
		} else if (ops->enter_swd(l->probe->ctx, err) == VR_OK) {
			(void)arm_reset_catch(l, err);
		}
		nap_us(l, 1000);
	}
	saw(r, "; the core did not stop after the reset (DHCSR 0x%08x)", dhcsr);
	return false;
}

static bool try_under_reset(struct ladder *l, struct swd_rung *r, struct vr_error *err)
{
	struct vr_error ignored = {0};
	if (!l->probe->ops->drive_nrst || !l->probe->info.can_drive_nrst) {
		saw(r, "skipped: the probe cannot drive NRST");
		return false;
	}
	if (l->probe->ops->leave_swd)
		(void)l->probe->ops->leave_swd(l->probe->ctx, &ignored);
	/* NRST low before ENTER SWD and again after (OpenOCD, reference §3.2) */
	if (nrst(l, true, err) != VR_OK) {
		saw(r, "DRIVE_NRST failed (%s)", err->msg);
		return false;
	}
	bool answered = dp_answers(l, r, err);
	if (answered) {
		(void)nrst(l, true, &ignored);
		if (arm_reset_catch(l, err) != VR_OK) {
			saw(r, "; could not request the halt in reset (%s)", err->msg);
			answered = false;
		}
	} else {
		saw(r, " with NRST held low");
	}
	nap_us(l, 100);
	(void)nrst(l, false, &ignored);
	return answered && wait_caught(l, r, 500000, err);
}

static bool try_slow_clock(struct ladder *l, struct swd_rung *r, unsigned khz,
			   struct vr_error *err)
{
	const struct swd_probe_ops *ops = l->probe->ops;
	unsigned actual = khz;
	if (!ops->set_clock || !l->probe->info.can_set_clock) {
		saw(r, "skipped: the probe cannot change its SWD clock");
		return false;
	}
	if (ops->set_clock(l->probe->ctx, khz, &actual, err) != VR_OK) {
		saw(r, "setting %u kHz failed (%s)", khz, err->msg);
		return false;
	}
	saw(r, "at %u kHz: ", actual);
	if (try_normal(l, r, err))
		return true;
	saw(r, "; under reset: ");
	return try_under_reset(l, r, err);
}

static bool manual_cue(struct ladder *l, enum swd_manual_cue cue, const char *text)
{
	return l->opts->manual_reset(l->opts->manual_ctx, cue, text);
}

/* While the person holds NRST low the debug port still answers (STM32
 * keeps it alive in reset): connect and arm the catch, retrying. */
static bool connect_while_held(struct ladder *l, struct swd_rung *r, struct vr_error *err)
{
	uint64_t start = clock_us(l);
	uint64_t window = (uint64_t)l->opts->manual_window_ms * 1000u;
	while (clock_us(l) - start <= window) {
		struct swd_rung scratch = {0};
		if (dp_answers(l, &scratch, err) && arm_reset_catch(l, err) == VR_OK) {
			r->dpidr = scratch.dpidr;
			saw(r, "%s while NRST was held", scratch.saw);
			return true;
		}
		nap_us(l, 10000);
	}
	saw(r, "no DPIDR answer while NRST was held low by hand");
	return false;
}

static bool try_manual(struct ladder *l, struct swd_rung *r, struct vr_error *err)
{
	if (!l->opts->manual_reset) {
		saw(r, "skipped: needs a person at the bench to short NRST (pin 7) to GND on cue: "
		       "run vesc-rescue recover on a terminal, or the dashboard");
		return false;
	}
	if (!manual_cue(l, SWD_CUE_HOLD_NRST,
			"Short NRST to GND and keep holding it: pin 7 of the STM32F405 (LQFP64), "
			"or the RST pad of the SWD header.")) {
		saw(r, "declined by the person");
		return false;
	}
	bool connected = connect_while_held(l, r, err);
	bool released = manual_cue(l, SWD_CUE_RELEASE_NRST, "Release NRST now.");
	if (!connected)
		return false;
	if (!released) {
		saw(r, "; abandoned before the release");
		return false;
	}
	return wait_caught(l, r, (uint64_t)l->opts->manual_window_ms * 1000u, err);
}

void swd_failure_advice(const struct swd_obs *obs, char *out, size_t cap)
{
	/* the reading explains, never decides: a clone reads its own supply */
	const char *caveat = " (A genuine ST-LINK only senses VDD; a clone supplies its own 3.3 V "
			     "there and reads ~3.2 V with nothing attached.)";
	if (obs->voltage_known && obs->voltage < LOW_VOLTAGE) {
		snprintf(out, cap,
			 "The probe reads %.2f V: the VESC looks unpowered. Power the VESC from its "
			 "battery leads; do not feed 3.3 V from a clone dongle.%s",
			 obs->voltage, caveat);
		return;
	}
	char volts[32] = "no voltage reading";
	if (obs->voltage_known)
		snprintf(volts, sizeof volts, "probe reads %.2f V", obs->voltage);
	snprintf(out, cap,
		 "No SWD answer (%s). Check SWDIO/SWCLK not swapped, GND connected, VESC header "
		 "order 3.3V CLK GND DIO RST SWO, VESC powered from its battery. If all is right: "
		 "RDP2, dead MCU or wiring - indistinguishable from here.%s", volts, caveat);
}

static void copy_probe_info(const struct swd_probe *probe, struct swd_obs *obs)
{
	obs->probe_found = true;
	snprintf(obs->probe_name, sizeof obs->probe_name, "%s", probe->info.name);
	snprintf(obs->probe_version, sizeof obs->probe_version, "%s", probe->info.version);
	snprintf(obs->probe_serial, sizeof obs->probe_serial, "%s", probe->info.serial);
	obs->probe_pid = probe->info.pid;
}

static void read_voltage(struct swd_probe *probe, struct swd_obs *obs)
{
	struct vr_error ignored = {0};
	double volts = 0;
	obs->voltage_known = probe->ops->target_voltage &&
			     probe->ops->target_voltage(probe->ctx, &volts, &ignored) == VR_OK;
	obs->voltage = obs->voltage_known ? volts : 0;
}

static void set_normal_clock(struct ladder *l)
{
	struct vr_error ignored = {0};
	unsigned actual;
	if (l->probe->ops->set_clock && l->probe->info.can_set_clock && l->opts->normal_khz)
		(void)l->probe->ops->set_clock(l->probe->ctx, l->opts->normal_khz, &actual, &ignored);
}

/* Rungs in order; the first that halts the core wins. */
static enum attach_result climb(struct ladder *l, struct vr_error *err)
{
	struct swd_rung *r = new_rung(l, ATTACH_NORMAL);
	set_normal_clock(l);
	if (r && (r->ok = try_normal(l, r, err)))
		return ATTACH_NORMAL;
	r = new_rung(l, ATTACH_UNDER_RESET);
	if (r && (r->ok = try_under_reset(l, r, err)))
		return ATTACH_UNDER_RESET;
	for (unsigned i = 0; i < 2 && l->opts->slow_khz[i]; i++) {
		r = new_rung(l, ATTACH_SLOW_CLOCK);
		if (r && (r->ok = try_slow_clock(l, r, l->opts->slow_khz[i], err)))
			return ATTACH_SLOW_CLOCK;
	}
	/* a slow clock did not help: the manual rung runs at the normal one */
	set_normal_clock(l);
	r = new_rung(l, ATTACH_MANUAL_RESET);
	if (r && (r->ok = try_manual(l, r, err)))
		return ATTACH_MANUAL_RESET;
	return ATTACH_FAILED;
}

static void record_target(const struct stm32f4 *t, struct swd_obs *obs)
{
	obs->target_found = true;
	obs->cpuid = t->ids.cpuid;
	obs->dev_id = t->ids.dev_id;
	obs->rev_id = t->ids.rev_id;
	if (t->ids.dpidr)
		obs->dpidr = t->ids.dpidr;
	obs->flash_kb = t->ids.flash_kb;
	memcpy(obs->uid, t->ids.uid, sizeof obs->uid);
	if (t->ids.desc)
		snprintf(obs->target_name, sizeof obs->target_name, "%s", t->ids.desc->name);
	else
		stm32f4_describe_dev_id(t->ids.dev_id, obs->target_name, sizeof obs->target_name);
}

vr_err swd_attach(struct swd_probe *probe, const struct swd_attach_opts *opts, struct stm32f4 *t,
		  struct swd_obs *obs, struct vr_error *err)
{
	struct swd_attach_opts defaults;
	if (!opts) {
		swd_attach_opts_defaults(&defaults);
		opts = &defaults;
	}
	stm32f4_init(t, probe, opts->clock);
	obs->tried = true;
	obs->n_rungs = 0;
	obs->rdp = -1;
	copy_probe_info(probe, obs);
	read_voltage(probe, obs);
	struct ladder l = {probe, t, opts, obs};
	struct vr_error rung_err = {0};
	obs->attach = climb(&l, &rung_err);
	if (obs->attach == ATTACH_FAILED) {
		swd_failure_advice(obs, obs->advice, sizeof obs->advice);
		return vr_fail(err, VR_ERR_NO_DEVICE, "%s", obs->advice);
	}
	vr_err rc = stm32f4_identify(t, err);
	if (t->ids.cpuid)
		record_target(t, obs);
	/* a Cortex-M4's AHB-AP auto-increments across 4 KB, not just 1 KB
	 * (OpenOCD raises it the same way): a quarter of the commands */
	if (rc == VR_OK)
		(void)stlink_set_transfer_limits(probe, 0, 4096);
	return rc;
}

vr_err swd_detach(struct stm32f4 *t, struct vr_error *err)
{
	struct swd_probe *probe = t->probe;
	struct vr_error ignored = {0};
	if (probe->ops->drive_nrst)
		(void)probe->ops->drive_nrst(probe->ctx, false, &ignored);
	vr_err rc = stm32f4_reset_run(t, err);
	if (probe->ops->leave_swd)
		(void)probe->ops->leave_swd(probe->ctx, &ignored);
	return rc;
}

/* ---- survey ------------------------------------------------------------ */
static enum sector_state classify_sector(unsigned s, const struct swd_obs *obs)
{
	const struct app_obs *app = &obs->app;
	switch (s) {
	case 0:
	case 3:
	case 4:
	case 5:
	case 6:
		return app->vector_valid ? SECTOR_APP : SECTOR_DATA;
	case 7:
		/* FW <= 5.03 ends its app before sector 7 and keeps QML there */
		return app->vector_valid && app->fw_gen != 5 ? SECTOR_APP : SECTOR_DATA;
	case 1:
	case 2:
		return SECTOR_CONFIG;
	case 8:
	case 9:
	case 10:
		return SECTOR_STAGING;  /* staging image, or Lisp/QML data on FW >= 6.06 */
	default:
		return obs->bootloader.present ? SECTOR_BOOTLOADER : SECTOR_DATA;
	}
}

static bool all_ff(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0xFF)
			return false;
	return true;
}

/* Blank by CRC on the target when our loader runs there (no bytes over
 * USB); otherwise, and for sectors in use, by reading them. */
static vr_err survey_sector(struct stm32f4 *t, unsigned s, uint8_t *bytes, bool *was_read,
			    struct sector_obs *so, struct vr_error *err)
{
	bool blank = false;
	*was_read = false;
	/* a used sector usually shows it in its first bytes: then skip the
	 * CRC and read it at once */
	uint8_t head[64];
	vr_err peek = stm32f4_read(t, so->address, head, sizeof head, err);
	if (peek != VR_OK)
		return vr_wrap(err, "reading sector %u", s);
	bool maybe_blank = all_ff(head, sizeof head);
	if (maybe_blank && t->use_loader && t->crc_engine != 0) {
		vr_err rc = stm32f4_blank_check(t, so->address, so->size, &blank, NULL, err);
		if (rc != VR_OK)
			return vr_wrap(err, "checking sector %u", s);
	}
	if (!blank) {
		vr_err rc = stm32f4_read(t, so->address, bytes, so->size, err);
		if (rc != VR_OK)
			return vr_wrap(err, "reading sector %u", s);
		*was_read = true;
		blank = all_ff(bytes, so->size);
	} else {
		memset(bytes, 0xFF, so->size);
	}
	so->blank = blank;
	so->crc32 = crc32_zlib(bytes, so->size);
	so->crc_known = true;
	return VR_OK;
}

static void mark_protected(struct swd_obs *obs)
{
	for (unsigned s = 0; s < F4_SECTORS; s++) {
		obs->sectors[s].state = SECTOR_PROTECTED;
		obs->sectors[s].blank = false;
		obs->sectors[s].crc_known = false;
	}
	obs->app.crcinfo = CRCINFO_UNKNOWN;
}

static vr_err survey_options(struct stm32f4 *t, struct swd_obs *obs, struct vr_error *err)
{
	struct stm32f4_options o;
	vr_err rc = stm32f4_read_options(t, &o, err);
	if (rc != VR_OK)
		return rc;
	obs->optcr = o.optcr;
	obs->rdp = o.rdp_level;
	obs->nwrp = o.nwrp;
	for (unsigned s = 0; s < F4_SECTORS; s++) {
		struct sector_obs *so = &obs->sectors[s];
		memset(so, 0, sizeof *so);
		so->index = s;
		so->address = stm32f4_sector_address(s);
		so->size = stm32f4_sector_size(s);
	}
	return VR_OK;
}

static void classify_all(const uint8_t *flash, struct swd_obs *obs)
{
	const uint32_t base = STM32F4_FLASH_BASE;
	vesc_check_app(flash, VESC_APP_REGION_SIZE, &obs->app);
	vesc_check_staging(flash + (VESC_STAGING_BASE - base), VESC_STAGING_SIZE, &obs->staging);
	vesc_check_bootloader(flash + (VESC_BOOTLOADER_BASE - base), VESC_BOOTLOADER_MAX,
			      &obs->bootloader);
	for (unsigned s = 0; s < F4_SECTORS; s++) {
		struct sector_obs *so = &obs->sectors[s];
		so->state = so->blank ? SECTOR_BLANK : classify_sector(s, obs);
	}
}

vr_err swd_survey(struct stm32f4 *t, uint8_t *flash_copy, bool sector_read[F4_SECTORS],
		  struct swd_obs *obs, struct vr_error *err)
{
	obs->survey_done = false;
	vr_err rc = survey_options(t, obs, err);
	if (rc != VR_OK)
		return vr_wrap(err, "survey");
	if (sector_read)
		memset(sector_read, 0, F4_SECTORS * sizeof sector_read[0]);
	if (obs->rdp != 0) {
		mark_protected(obs);
		obs->survey_done = true;
		return VR_OK;
	}
	uint8_t *flash = flash_copy ? flash_copy : malloc(VESC_FLASH_SIZE);
	if (!flash)
		return vr_fail(err, VR_ERR_NOMEM, "survey: out of memory");
	for (unsigned s = 0; s < F4_SECTORS && rc == VR_OK; s++) {
		struct sector_obs *so = &obs->sectors[s];
		bool was_read = false;
		rc = survey_sector(t, s, flash + (so->address - STM32F4_FLASH_BASE), &was_read, so,
				   err);
		if (sector_read)
			sector_read[s] = was_read;
	}
	if (rc == VR_OK) {
		classify_all(flash, obs);
		obs->survey_done = true;
	}
	if (flash != flash_copy)
		free(flash);
	return rc;
}
