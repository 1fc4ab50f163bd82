/* The planner's branches (issue 5), as tables and as whole runs: a small
 * executor below plays every step as succeeding (or as scripted) and the
 * tests check the sequence of steps, the confirmations and the outcome. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "planner.h"

#define FW6_SIZE 524280u
#define GENERIC_BL_SIZE 5280u

/* ---- observations ----------------------------------------------------------- */

static void obs_init(struct observations *o)
{
	memset(o, 0, sizeof *o);
	for (unsigned i = 0; i < F4_SECTORS; i++)
		o->swd.sectors[i].index = i;
}

static void add_usb(struct observations *o, enum usb_kind kind, uint16_t pid)
{
	struct usb_obs *u = &o->usb[o->n_usb++];
	u->vid = 0x0483;
	u->pid = pid;
	u->kind = kind;
	snprintf(u->tty, sizeof u->tty, "%s", kind == USB_KIND_VESC_CDC ? "/dev/ttyACM0" : "");
}

static void add_vesc(struct observations *o, int major, int minor)
{
	add_usb(o, USB_KIND_VESC_CDC, 0x5740);
	struct serial_obs *s = &o->serial[o->n_serial++];
	snprintf(s->port, sizeof s->port, "/dev/ttyACM0");
	s->status = SERIAL_VESC;
	s->fw.major = major;
	s->fw.minor = minor;
	snprintf(s->fw.hw_name, sizeof s->fw.hw_name, "60");
}

static void add_silent_cdc(struct observations *o)
{
	add_usb(o, USB_KIND_VESC_CDC, 0x5740);
	struct serial_obs *s = &o->serial[o->n_serial++];
	snprintf(s->port, sizeof s->port, "/dev/ttyACM0");
	s->status = SERIAL_SILENT;
}

static void probe_ok(struct observations *o)
{
	o->swd.tried = true;
	o->swd.probe_found = true;
	o->swd.probe_pid = 0x3748;
	o->swd.voltage_known = true;
	o->swd.voltage = 3.28;
}

static void attached(struct observations *o)
{
	probe_ok(o);
	o->swd.target_found = true;
	o->swd.attach = ATTACH_NORMAL;
	o->swd.dpidr = 0x2ba01477;
	o->swd.rdp = 0;
	o->swd.optcr = 0x0FFFAAEC;
	o->swd.nwrp = 0x0FFF;
}

static void set_sector(struct observations *o, unsigned i, enum sector_state st)
{
	o->swd.sectors[i].state = st;
	o->swd.sectors[i].blank = st == SECTOR_BLANK;
}

/* A chip as the healthy firmware leaves it: app, configuration, bootloader. */
static void chip_healthy(struct observations *o)
{
	attached(o);
	o->swd.survey_done = true;
	for (unsigned i = 0; i < F4_SECTORS; i++)
		set_sector(o, i, SECTOR_BLANK);
	set_sector(o, 0, SECTOR_APP);
	set_sector(o, 1, SECTOR_CONFIG);
	set_sector(o, 2, SECTOR_CONFIG);
	for (unsigned i = 3; i <= 7; i++)
		set_sector(o, i, SECTOR_APP);
	set_sector(o, 11, SECTOR_BOOTLOADER);
	o->swd.app.vector_valid = true;
	o->swd.app.fw_gen = 6;
	o->swd.app.crcinfo = CRCINFO_BOOTED;
	o->swd.app.crc_checked = true;
	o->swd.app.crc_ok = true;
	o->swd.app.image_end = FW6_SIZE;
	o->swd.bootloader.present = true;
	o->swd.bootloader.kind = BL_KIND_GENERIC;
}

static void chip_corrupt_app(struct observations *o)
{
	chip_healthy(o);
	o->swd.app.crc_ok = false;
}

static void chip_no_bootloader(struct observations *o)
{
	chip_healthy(o);
	set_sector(o, 11, SECTOR_BLANK);
	o->swd.bootloader.present = false;
	o->swd.bootloader.blank = true;
}

static void chip_blank(struct observations *o)
{
	chip_healthy(o);
	for (unsigned i = 0; i < F4_SECTORS; i++)
		set_sector(o, i, SECTOR_BLANK);
	memset(&o->swd.app, 0, sizeof o->swd.app);
	memset(&o->swd.bootloader, 0, sizeof o->swd.bootloader);
	o->swd.bootloader.blank = true;
}

static void chip_app_blank(struct observations *o)
{
	chip_healthy(o);
	set_sector(o, 0, SECTOR_BLANK);
	for (unsigned i = 3; i <= 7; i++)
		set_sector(o, i, SECTOR_BLANK);
	memset(&o->swd.app, 0, sizeof o->swd.app);
}

static void add_rung(struct observations *o, enum attach_result rung, bool ok, uint32_t dpidr)
{
	struct swd_rung *r = &o->swd.ladder[o->swd.n_rungs++];
	r->rung = rung;
	r->ok = ok;
	r->dpidr = dpidr;
	snprintf(r->saw, sizeof r->saw, "%s", dpidr ? "DPIDR read, AP fault" : "no answer");
}

/* ---- options and history ------------------------------------------------------- */

static void opts_images(struct plan_options *p)
{
	memset(p, 0, sizeof *p);
	p->bootloader.present = true;
	p->bootloader.size = GENERIC_BL_SIZE;
	p->bootloader.major = p->bootloader.minor = -1;
	snprintf(p->bootloader.name, sizeof p->bootloader.name, "generic.bin");
	p->firmware.present = true;
	p->firmware.size = FW6_SIZE;
	p->firmware.major = 6;
	p->firmware.minor = 5;
	snprintf(p->firmware.name, sizeof p->firmware.name, "VESC_default.bin");
	snprintf(p->backup_path, sizeof p->backup_path, "/home/u/.local/state/vesc-rescue/backup.bin");
}

static void record(struct plan_history *h, enum plan_path path, enum plan_step_kind kind,
		   enum image_role role, enum step_result result, uint16_t sectors, uint32_t done)
{
	struct plan_record r = {.kind = kind, .path = path, .result = result, .role = role,
				.sectors = sectors, .bytes_done = done};
	plan_history_add(h, &r);
}

/* ---- the little executor ------------------------------------------------------------ */

#define MAX_SEQ 40

struct run {
	enum plan_step_kind seq[MAX_SEQ];
	struct plan_step steps[MAX_SEQ];
	unsigned n;
	struct plan_decision final;
	/* script: the first step of this kind gets this result */
	enum plan_step_kind fail_kind;
	enum step_result fail_result;
};

/* What a step changes in the world, as far as the planner looks at it. */
static void effect(struct observations *o, const struct plan_step *s)
{
	if (s->kind == STEP_SURVEY && s->path == PATH_UNPROTECT) {
		/* After RDP 1 -> 0 and a power cycle the chip is blank. */
		chip_blank(o);
	} else if (s->kind == STEP_SURVEY) {
		o->swd.survey_done = true;
	}
}

static void run_plan(struct observations *o, const struct plan_options *opts,
		     struct plan_history *h, struct run *r)
{
	r->n = 0;
	for (unsigned guard = 0; guard < MAX_SEQ; guard++) {
		struct plan_decision d;
		plan_next(o, opts, h, &d);
		if (d.outcome != PLAN_CONTINUE) {
			r->final = d;
			return;
		}
		r->seq[r->n] = d.step.kind;
		r->steps[r->n++] = d.step;
		enum step_result res = STEP_OK;
		if (d.step.kind == r->fail_kind && r->fail_result != STEP_RESULT_NONE) {
			res = r->fail_result;
			r->fail_kind = STEP_NONE;
		}
		struct plan_record rec;
		plan_record_from_step(&d.step, res, res == STEP_OK ? d.step.bytes : 0, &rec);
		plan_history_add(h, &rec);
		if (res == STEP_OK)
			effect(o, &d.step);
	}
	fail_msg("the plan did not end within %d steps", MAX_SEQ);
}

static void assert_seq(const struct run *r, const enum plan_step_kind *want, unsigned n)
{
	if (r->n != n) {
		for (unsigned i = 0; i < r->n; i++)
			print_message("  step %u: %s\n", i, plan_step_kind_name(r->seq[i]));
		print_message("  final: %s (%d) %s\n", plan_outcome_name(r->final.outcome),
			      r->final.exit_status, r->final.message);
	}
	assert_int_equal(r->n, n);
	for (unsigned i = 0; i < n; i++)
		assert_string_equal(plan_step_kind_name(r->seq[i]), plan_step_kind_name(want[i]));
}

/* Safety properties every run must keep. */
static void assert_safe(const struct run *r, bool keep_config)
{
	bool backup_done = false;
	for (unsigned i = 0; i < r->n; i++) {
		const struct plan_step *s = &r->steps[i];
		if (s->kind == STEP_BACKUP)
			backup_done = true;
		if (s->kind == STEP_MASS_ERASE || s->kind == STEP_SECTOR_ERASE)
			assert_true(backup_done);
		if (s->kind == STEP_WRITE_FIRMWARE) {
			assert_true(s->address + s->bytes <= F4_BOOTLOADER_ADDR);
			assert_false(s->sectors & (1u << 11));
		}
		if (keep_config) {
			assert_false(s->kind == STEP_MASS_ERASE);
			if (s->kind == STEP_SECTOR_ERASE)
				assert_int_equal(s->sectors & 0x6, 0);
			if (s->kind == STEP_WRITE_FIRMWARE) {
				assert_true(s->skip_config_window);
				assert_int_equal(s->sectors & 0x6, 0);
			}
		}
	}
	assert_int_not_equal(r->final.exit_status, 70);
}

/* ---- firmware answers ------------------------------------------------------------------ */

static void healthy_with_survey_is_done(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct run r = {0};
	obs_init(&o);
	chip_healthy(&o);
	add_vesc(&o, 6, 5);
	opts_images(&p);
	run_plan(&o, &p, &h, &r);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.final.outcome, PLAN_HEALTHY);
	assert_int_equal(r.final.exit_status, 0);
	assert_non_null(strstr(r.final.message, "nothing to do"));
}

static void answering_without_swd_asks_then_says_unknown(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	add_vesc(&o, 6, 5);
	opts_images(&p);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_CONTINUE);
	assert_int_equal(d.step.kind, STEP_ASK_BOOTLOADER);
	assert_true(d.step.person_action);
	assert_non_null(strstr(d.step.reason, "old firmware"));

	static const enum bl_answer answers[] = {BL_ANSWER_UNKNOWN, BL_ANSWER_WORKS};
	for (unsigned i = 0; i < 2; i++) {
		h.bootloader_answer = answers[i];
		plan_next(&o, &p, &h, &d);
		assert_int_equal(d.outcome, PLAN_HEALTHY);
		assert_int_equal(d.exit_status, 0);
		assert_non_null(strstr(d.message, "cannot be seen over USB"));
		assert_non_null(strstr(d.message, "SWD survey"));
	}
}

static void answering_with_probe_attached_surveys_first(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	add_vesc(&o, 6, 5);
	attached(&o);
	opts_images(&p);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.step.kind, STEP_SURVEY);
	assert_false(d.step.needs_confirm);
}

static void usb_bootloader_after_confirmed_missing(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct run r = {0};
	obs_init(&o);
	add_vesc(&o, 6, 5);
	opts_images(&p);
	h.bootloader_answer = BL_ANSWER_MISSING;
	run_plan(&o, &p, &h, &r);
	static const enum plan_step_kind want[] = {STEP_USB_ERASE_BOOTLOADER, STEP_USB_WRITE_BOOTLOADER};
	assert_seq(&r, want, 2);
	assert_true(r.steps[0].needs_confirm);
	assert_non_null(strstr(r.steps[0].confirm, "sector 11"));
	assert_false(r.steps[0].preconfirmed);
	assert_int_equal(r.steps[1].address, 0x080E0000);
	assert_int_equal(r.steps[1].bytes, GENERIC_BL_SIZE);
	assert_non_null(strstr(r.steps[1].reason, "0x60000"));
	assert_false(r.steps[1].needs_confirm);   /* the erase's confirmation covers it */
	assert_int_equal(r.final.outcome, PLAN_RECOVERED);
	assert_int_equal(r.final.exit_status, 0);
}

static void usb_bootloader_on_old_firmware_warns(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	add_vesc(&o, 3, 40);
	opts_images(&p);
	h.bootloader_answer = BL_ANSWER_MISSING;
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.step.kind, STEP_USB_WRITE_BOOTLOADER);   /* no erase before 3.59 */
	assert_true(d.step.needs_confirm);
	assert_non_null(strstr(d.step.confirm, "can break it"));
	assert_non_null(strstr(d.step.confirm, "3.59"));
}

static void usb_bootloader_needs_image(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	add_vesc(&o, 6, 5);
	opts_images(&p);
	p.bootloader.present = false;
	h.bootloader_answer = BL_ANSWER_MISSING;
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
	assert_int_equal(d.exit_status, 2);
	assert_non_null(strstr(d.message, "--bootloader"));
}

static void answering_with_survey_missing_bootloader_goes_swd(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct run r = {0};
	obs_init(&o);
	chip_no_bootloader(&o);
	add_vesc(&o, 6, 5);
	opts_images(&p);
	run_plan(&o, &p, &h, &r);
	static const enum plan_step_kind want[] = {STEP_WRITE_BOOTLOADER, STEP_VERIFY, STEP_RESET,
						   STEP_WAIT_VESC};
	assert_seq(&r, want, 4);
	assert_true(r.steps[0].needs_confirm);
	assert_non_null(strstr(r.steps[0].confirm, "Nothing is erased"));
	assert_int_equal(r.final.outcome, PLAN_RECOVERED);
	assert_safe(&r, false);
}

/* ---- the link is silent: SWD ------------------------------------------------------------- */

static void silent_or_absent_goes_to_swd(void **state)
{
	(void)state;
	for (int variant = 0; variant < 2; variant++) {
		struct observations o;
		struct plan_options p;
		struct plan_history h = {0};
		struct plan_decision d;
		obs_init(&o);
		if (variant == 0)
			add_silent_cdc(&o);
		opts_images(&p);
		plan_next(&o, &p, &h, &d);
		assert_int_equal(d.outcome, PLAN_CONTINUE);
		assert_int_equal(d.step.kind, STEP_SWD_ATTACH);
		assert_int_equal(d.step.rung, ATTACH_NORMAL);
		assert_false(d.step.needs_confirm);
	}
}

static void attach_without_a_trace_does_not_loop(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	opts_images(&p);
	struct plan_record rec = {.kind = STEP_SWD_ATTACH, .path = PATH_DIAGNOSE,
				  .rung = ATTACH_NORMAL, .result = STEP_FAILED};
	plan_history_add(&h, &rec);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
	assert_int_equal(d.exit_status, 4);
	assert_non_null(strstr(d.message, "ST-Link"));
}

struct probe_case {
	vr_err err;
	int exit_status;
	const char *needle;
};

static void no_probe_diagnosis(void **state)
{
	(void)state;
	static const struct probe_case cases[] = {
		{VR_ERR_NO_DEVICE, 4, "ST-Link"},
		{VR_ERR_ACCESS, 5, "udev"},
		{VR_ERR_BUSY, 6, "openocd"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct observations o;
		struct plan_options p;
		struct plan_history h = {0};
		struct plan_decision d;
		obs_init(&o);
		add_silent_cdc(&o);
		o.swd.tried = true;
		o.swd.probe_err = cases[i].err;
		opts_images(&p);
		plan_next(&o, &p, &h, &d);
		assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
		assert_int_equal(d.exit_status, cases[i].exit_status);
		if (!strstr(d.message, cases[i].needle))
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].needle, d.message);
	}
}

static void unpowered_target(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	probe_ok(&o);
	o.swd.voltage = 0.02;
	add_rung(&o, ATTACH_NORMAL, false, 0);
	opts_images(&p);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
	assert_int_equal(d.exit_status, 4);
	assert_non_null(strstr(d.message, "unpowered"));
	assert_non_null(strstr(d.message, "clone"));
}

static void attach_ladder_in_order(void **state)
{
	(void)state;
	static const enum attach_result order[] = {ATTACH_UNDER_RESET, ATTACH_SLOW_CLOCK,
						   ATTACH_MANUAL_RESET};
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	probe_ok(&o);
	opts_images(&p);
	add_rung(&o, ATTACH_NORMAL, false, 0);
	for (size_t i = 0; i < 3; i++) {
		plan_next(&o, &p, &h, &d);
		assert_int_equal(d.outcome, PLAN_CONTINUE);
		assert_int_equal(d.step.kind, STEP_SWD_ATTACH);
		assert_int_equal(d.step.rung, order[i]);
		assert_int_equal(d.step.person_action, order[i] == ATTACH_MANUAL_RESET);
		add_rung(&o, order[i], false, 0);
	}
	/* Nothing ever answered: wiring as likely as a dead MCU. */
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
	assert_int_equal(d.exit_status, 4);
	assert_non_null(strstr(d.message, "indistinguishable"));
	assert_non_null(strstr(d.message, "manual reset: no answer"));
	assert_non_null(strstr(d.message, "unpowered"));
	assert_non_null(strstr(d.evidence, "manual-reset"));
}

static void ladder_with_dpidr_means_damaged_mcu(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	probe_ok(&o);
	opts_images(&p);
	add_rung(&o, ATTACH_NORMAL, false, 0x2ba01477);
	add_rung(&o, ATTACH_UNDER_RESET, false, 0x2ba01477);
	add_rung(&o, ATTACH_SLOW_CLOCK, false, 0x2ba01477);
	add_rung(&o, ATTACH_MANUAL_RESET, false, 0x2ba01477);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_UNRECOVERABLE);
	assert_int_equal(d.exit_status, 8);
	assert_non_null(strstr(d.message, "likely damaged"));
	assert_non_null(strstr(d.message, "replacing"));
	assert_non_null(strstr(d.evidence, "under-reset: failed"));
}

static void manual_reset_refused_needs_person(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	probe_ok(&o);
	opts_images(&p);
	add_rung(&o, ATTACH_NORMAL, false, 0);
	add_rung(&o, ATTACH_UNDER_RESET, false, 0);
	add_rung(&o, ATTACH_SLOW_CLOCK, false, 0);
	struct plan_record rec = {.kind = STEP_SWD_ATTACH, .path = PATH_DIAGNOSE,
				  .rung = ATTACH_MANUAL_RESET, .result = STEP_REFUSED};
	plan_history_add(&h, &rec);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
	assert_int_equal(d.exit_status, 4);
	assert_non_null(strstr(d.message, "NRST"));
}

static void rdp2_is_unrecoverable(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	attached(&o);
	o.swd.rdp = 2;
	opts_images(&p);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_UNRECOVERABLE);
	assert_int_equal(d.exit_status, 8);
	assert_non_null(strstr(d.message, "RDP level 2"));
}

static void rdp1_regression_then_full_recovery(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	attached(&o);
	o.swd.rdp = 1;
	opts_images(&p);
	p.yes = true;
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.step.kind, STEP_RDP_REGRESS);
	assert_true(d.step.needs_confirm);
	assert_true(d.step.needs_unprotect);
	assert_false(d.step.preconfirmed);   /* --yes alone is not enough */
	assert_non_null(strstr(d.step.confirm, "Nothing can be backed up"));
	assert_non_null(strstr(d.step.confirm, "configuration"));
	p.allow_unprotect = true;
	plan_next(&o, &p, &h, &d);
	assert_true(d.step.preconfirmed);

	struct run r = {0};
	run_plan(&o, &p, &h, &r);
	static const enum plan_step_kind want[] = {
		STEP_RDP_REGRESS, STEP_POWER_CYCLE, STEP_SURVEY,
		/* blank chip now: nothing to back up or erase */
		STEP_WRITE_BOOTLOADER, STEP_WRITE_FIRMWARE, STEP_VERIFY, STEP_RESET, STEP_WAIT_VESC,
	};
	assert_seq(&r, want, sizeof want / sizeof want[0]);
	assert_true(r.steps[1].person_action);
	assert_true(r.steps[3].needs_confirm);   /* the first write is the gate */
	assert_int_equal(r.final.outcome, PLAN_RECOVERED);
	assert_safe(&r, false);
}

static void rdp1_refused_in_batch(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	attached(&o);
	o.swd.rdp = 1;
	opts_images(&p);
	record(&h, PATH_UNPROTECT, STEP_RDP_REGRESS, ROLE_NONE, STEP_REFUSED, 0, 0);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
	assert_int_equal(d.exit_status, 7);
	assert_non_null(strstr(d.message, "--allow-unprotect"));
	/* the refusal came from an earlier run: this one asks again */
	h.n_from_journal = h.n;
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_CONTINUE);
	assert_int_equal(d.step.kind, STEP_RDP_REGRESS);
}

static void wrp_cleared_before_erase(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct run r = {0};
	obs_init(&o);
	chip_corrupt_app(&o);
	o.swd.nwrp = 0x0FFE;          /* sector 0 protected */
	o.swd.optcr = 0x0FFEAAEC;
	opts_images(&p);
	run_plan(&o, &p, &h, &r);
	static const enum plan_step_kind want[] = {STEP_BACKUP, STEP_WRP_CLEAR, STEP_MASS_ERASE,
		STEP_WRITE_BOOTLOADER, STEP_WRITE_FIRMWARE, STEP_VERIFY, STEP_RESET, STEP_WAIT_VESC};
	assert_seq(&r, want, sizeof want / sizeof want[0]);
	assert_true(r.steps[1].needs_confirm);
	assert_true(r.steps[1].needs_unprotect);
	assert_int_equal(r.steps[1].sectors, 0x1);
	assert_true(r.steps[2].needs_confirm);   /* clearing WRP does not confirm the erase */
	assert_safe(&r, false);
}

/* ---- rewrite paths ---------------------------------------------------------------------------- */

static void canonical_path_on_corrupt_app(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct run r = {0};
	obs_init(&o);
	add_silent_cdc(&o);
	chip_corrupt_app(&o);
	opts_images(&p);
	run_plan(&o, &p, &h, &r);
	static const enum plan_step_kind want[] = {STEP_BACKUP, STEP_MASS_ERASE,
		STEP_WRITE_BOOTLOADER, STEP_WRITE_FIRMWARE, STEP_VERIFY, STEP_RESET, STEP_WAIT_VESC};
	assert_seq(&r, want, sizeof want / sizeof want[0]);
	const struct plan_step *erase = &r.steps[1];
	assert_true(erase->destructive);
	assert_true(erase->needs_confirm);
	assert_non_null(strstr(erase->confirm, "configuration (sectors 1-2) is lost"));
	assert_non_null(strstr(erase->confirm, p.backup_path));
	assert_non_null(strstr(erase->confirm, "HW of this image unknown"));
	assert_false(r.steps[2].needs_confirm);
	assert_int_equal(r.steps[2].address, 0x080E0000);
	assert_int_equal(r.steps[2].sectors, 1u << 11);
	assert_int_equal(r.steps[3].address, 0x08000000);
	assert_false(r.steps[3].skip_config_window);
	assert_int_equal(r.steps[3].bytes, FW6_SIZE);
	assert_int_equal(r.steps[3].sectors, 0xFF);
	assert_int_equal(r.steps[6].expect_major, 6);
	assert_int_equal(r.steps[6].expect_minor, 5);
	assert_true(r.steps[6].wait_ms > 0);
	/* the backup covers every non-blank sector: 0-7 and 11 */
	assert_int_equal(r.steps[0].sectors, 0x8FF);
	assert_int_equal(r.final.outcome, PLAN_RECOVERED);
	assert_int_equal(r.final.exit_status, 0);
	assert_safe(&r, false);
}

static void canonical_with_yes_is_preconfirmed(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	chip_corrupt_app(&o);
	opts_images(&p);
	p.yes = true;
	record(&h, PATH_CANONICAL, STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0x8FF, 0);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.step.kind, STEP_MASS_ERASE);
	assert_true(d.step.needs_confirm);
	assert_true(d.step.preconfirmed);
}

static void missing_images_stop_before_anything(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	chip_corrupt_app(&o);
	opts_images(&p);
	p.firmware.present = false;
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
	assert_int_equal(d.exit_status, 2);
	assert_non_null(strstr(d.message, "--firmware"));
	assert_non_null(strstr(d.message, "Nothing was changed"));
}

static void oversized_firmware_is_refused(void **state)
{
	(void)state;
	static const uint32_t sizes[] = {0, 0x80001, 0xE0001, 0x100000};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		struct observations o;
		struct plan_options p;
		struct plan_history h = {0};
		struct plan_decision d;
		obs_init(&o);
		chip_corrupt_app(&o);
		opts_images(&p);
		p.firmware.size = sizes[i];
		plan_next(&o, &p, &h, &d);
		assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
		assert_int_equal(d.exit_status, 3);
	}
}

static void wrong_hw_image_is_refused_unless_forced(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	chip_corrupt_app(&o);
	opts_images(&p);
	snprintf(p.hw_name, sizeof p.hw_name, "60");
	snprintf(p.firmware.hw_name, sizeof p.firmware.hw_name, "410_o_411_o_412");
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
	assert_int_equal(d.exit_status, 3);
	assert_non_null(strstr(d.message, "410_o_411_o_412"));
	snprintf(p.firmware.hw_name, sizeof p.firmware.hw_name, "75_300_o_60");
	struct plan plan;
	plan_build(&o, &p, &h, &plan);
	assert_int_equal(plan.decision.outcome, PLAN_CONTINUE);
	assert_int_equal(plan.steps[1].step.kind, STEP_MASS_ERASE);
	assert_null(strstr(plan.steps[1].step.confirm, "HW of this image unknown"));
	p.hw_name[0] = '\0';   /* HW unknown: the confirmation says so */
	plan_build(&o, &p, &h, &plan);
	assert_non_null(strstr(plan.steps[1].step.confirm, "HW of this image unknown"));
	snprintf(p.hw_name, sizeof p.hw_name, "60");
	snprintf(p.firmware.hw_name, sizeof p.firmware.hw_name, "410");
	p.force = true;
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_CONTINUE);
}

static void wrong_hw_found_after_boot_is_reported(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	chip_corrupt_app(&o);
	opts_images(&p);
	p.yes = true;
	snprintf(p.hw_name, sizeof p.hw_name, "60");
	snprintf(p.firmware.hw_name, sizeof p.firmware.hw_name, "60");
	static const enum plan_step_kind done[] = {STEP_BACKUP, STEP_MASS_ERASE,
		STEP_WRITE_BOOTLOADER, STEP_WRITE_FIRMWARE, STEP_VERIFY, STEP_RESET};
	static const enum image_role roles[] = {ROLE_BACKUP, ROLE_NONE, ROLE_BOOTLOADER,
		ROLE_FIRMWARE, ROLE_NONE, ROLE_NONE};
	for (size_t i = 0; i < sizeof done / sizeof done[0]; i++)
		record(&h, PATH_CANONICAL, done[i], roles[i], STEP_OK, 0, 0);
	/* waiting: the board now answers, reporting another HW than --hw said */
	add_vesc(&o, 6, 5);
	snprintf(o.serial[0].fw.hw_name, sizeof o.serial[0].fw.hw_name, "75_300");
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_CONTINUE);   /* no image re-check half way */
	assert_int_equal(d.step.kind, STEP_WAIT_VESC);
	record(&h, PATH_CANONICAL, STEP_WAIT_VESC, ROLE_NONE, STEP_OK, 0, 0);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
	assert_int_equal(d.exit_status, 3);
	assert_non_null(strstr(d.message, "reports HW 75_300"));
	assert_non_null(strstr(d.message, "(--hw 60)"));
	assert_null(strstr(d.message, "Nothing was changed"));
	/* a resumed run without the image says the flash was changed */
	p.firmware.present = false;
	h.n_from_journal = h.n;
	obs_init(&o);
	chip_corrupt_app(&o);
	struct plan_history h2 = {0};
	record(&h2, PATH_CANONICAL, STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0x8FF, 0);
	record(&h2, PATH_CANONICAL, STEP_MASS_ERASE, ROLE_NONE, STEP_OK, 0xFFF, 0);
	h2.n_from_journal = h2.n;
	set_sector(&o, 0, SECTOR_BLANK);
	set_sector(&o, 11, SECTOR_BLANK);
	plan_next(&o, &p, &h2, &d);
	assert_int_equal(d.exit_status, 2);
	assert_non_null(strstr(d.message, "already changed"));
}

static void keep_config_path(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct run r = {0};
	obs_init(&o);
	chip_corrupt_app(&o);
	opts_images(&p);
	p.keep_config = true;
	run_plan(&o, &p, &h, &r);
	static const enum plan_step_kind want[] = {STEP_BACKUP, STEP_SECTOR_ERASE,
		STEP_WRITE_FIRMWARE, STEP_VERIFY, STEP_RESET, STEP_WAIT_VESC};
	assert_seq(&r, want, sizeof want / sizeof want[0]);
	assert_int_equal(r.steps[1].sectors, 0xF9);   /* 0, 3-7 */
	assert_non_null(strstr(r.steps[1].confirm, "0, 3-7"));
	assert_non_null(strstr(r.steps[1].confirm, "kept"));
	assert_true(r.steps[2].skip_config_window);
	assert_int_equal(r.steps[2].bytes, FW6_SIZE - 0x8000);
	assert_true(r.steps[3].skip_config_window);
	assert_safe(&r, true);
}

static void keep_config_with_garbage_in_sector_11(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct run r = {0};
	obs_init(&o);
	chip_corrupt_app(&o);
	o.swd.bootloader.present = false;
	set_sector(&o, 11, SECTOR_DATA);
	opts_images(&p);
	p.keep_config = true;
	run_plan(&o, &p, &h, &r);
	static const enum plan_step_kind want[] = {STEP_BACKUP, STEP_SECTOR_ERASE,
		STEP_WRITE_BOOTLOADER, STEP_WRITE_FIRMWARE, STEP_VERIFY, STEP_RESET, STEP_WAIT_VESC};
	assert_seq(&r, want, sizeof want / sizeof want[0]);
	assert_int_equal(r.steps[1].sectors, 0x8F9);   /* 0, 3-7, 11 */
	assert_safe(&r, true);
}

static void keep_config_on_blank_app_still_asks(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct run r = {0};
	obs_init(&o);
	chip_blank(&o);
	set_sector(&o, 1, SECTOR_CONFIG);   /* only the configuration survived */
	opts_images(&p);
	p.keep_config = true;
	run_plan(&o, &p, &h, &r);
	static const enum plan_step_kind want[] = {STEP_BACKUP, STEP_WRITE_BOOTLOADER,
		STEP_WRITE_FIRMWARE, STEP_VERIFY, STEP_RESET, STEP_WAIT_VESC};
	assert_seq(&r, want, sizeof want / sizeof want[0]);
	assert_true(r.steps[1].needs_confirm);   /* the skipped erase cannot carry it */
	assert_non_null(strstr(r.steps[1].confirm, "Nothing is erased"));
	assert_false(r.steps[2].needs_confirm);
	assert_safe(&r, true);
}

static void restore_config_path(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct run r = {0};
	obs_init(&o);
	chip_corrupt_app(&o);
	opts_images(&p);
	p.restore_config = true;
	run_plan(&o, &p, &h, &r);
	static const enum plan_step_kind want[] = {STEP_BACKUP, STEP_MASS_ERASE,
		STEP_WRITE_BOOTLOADER, STEP_WRITE_FIRMWARE, STEP_VERIFY, STEP_RESTORE_CONFIG,
		STEP_RESET, STEP_WAIT_VESC};
	assert_seq(&r, want, sizeof want / sizeof want[0]);
	assert_true(r.steps[3].skip_config_window);
	assert_true(r.steps[4].skip_config_window);   /* verify leaves the window out too */
	assert_non_null(strstr(r.steps[1].confirm, "written back from the backup"));
	assert_int_equal(r.steps[5].address, 0x08004000);
	assert_int_equal(r.steps[5].bytes, 0x8000);
	assert_safe(&r, false);
}

static void keep_and_restore_exclude_each_other(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	chip_corrupt_app(&o);
	opts_images(&p);
	p.keep_config = p.restore_config = true;
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
	assert_int_equal(d.exit_status, 2);
}

/* ---- partial states ------------------------------------------------------------------------------- */

static void app_blank_bootloader_present_writes_firmware_only(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct run r = {0};
	obs_init(&o);
	chip_app_blank(&o);
	o.swd.staging.pending = true;
	o.swd.staging.size = 350191;
	opts_images(&p);
	struct plan_decision d;
	plan_next(&o, &p, &h, &d);
	assert_non_null(strstr(d.note, "staged"));
	run_plan(&o, &p, &h, &r);
	static const enum plan_step_kind want[] = {STEP_WRITE_FIRMWARE, STEP_VERIFY, STEP_RESET,
						   STEP_WAIT_VESC};
	assert_seq(&r, want, 4);
	assert_true(r.steps[0].needs_confirm);
	/* configuration sectors hold data: the image does not go there */
	assert_true(r.steps[0].skip_config_window);
	assert_safe(&r, false);
	assert_int_equal(r.final.outcome, PLAN_RECOVERED);
}

static void bootloader_blank_app_valid_writes_bootloader_only(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct run r = {0};
	obs_init(&o);
	add_silent_cdc(&o);
	chip_no_bootloader(&o);
	opts_images(&p);
	p.firmware.present = false;   /* not needed */
	run_plan(&o, &p, &h, &r);
	static const enum plan_step_kind want[] = {STEP_WRITE_BOOTLOADER, STEP_VERIFY, STEP_RESET,
						   STEP_WAIT_VESC};
	assert_seq(&r, want, 4);
	assert_int_equal(r.steps[0].sectors, 1u << 11);
	assert_int_equal(r.steps[0].address, 0x080E0000);
	/* the firmware was not written: whatever version answers will do */
	assert_int_equal(r.steps[3].expect_major, -1);
	assert_safe(&r, false);
}

static void blank_chip_needs_no_erase(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan plan;
	obs_init(&o);
	chip_blank(&o);
	opts_images(&p);
	plan_build(&o, &p, &h, &plan);
	assert_int_equal(plan.path, PATH_CANONICAL);
	assert_int_equal(plan.steps[0].step.kind, STEP_BACKUP);
	assert_int_equal(plan.steps[0].state, PSTATE_SKIPPED);
	assert_int_equal(plan.steps[1].step.kind, STEP_MASS_ERASE);
	assert_int_equal(plan.steps[1].state, PSTATE_SKIPPED);
	assert_int_equal(plan.steps[2].state, PSTATE_CURRENT);
	assert_int_equal(plan.current, 2);
}

static void intact_but_silent_restarts_then_reflashes(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	add_silent_cdc(&o);
	chip_healthy(&o);
	opts_images(&p);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.step.kind, STEP_RESET);
	assert_false(d.step.needs_confirm);
	record(&h, PATH_RESTART, STEP_RESET, ROLE_NONE, STEP_OK, 0, 0);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.step.kind, STEP_WAIT_VESC);
	record(&h, PATH_RESTART, STEP_WAIT_VESC, ROLE_NONE, STEP_FAILED, 0, 0);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.step.kind, STEP_BACKUP);
	assert_int_equal(d.step.path, PATH_CANONICAL);
	/* without an image: say what to do */
	p.firmware.present = false;
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_NEEDS_PERSON);
	assert_int_equal(d.exit_status, 4);
	assert_non_null(strstr(d.message, "wrong HW"));
	/* and when the reset was enough */
	struct plan_history h2 = {0};
	record(&h2, PATH_RESTART, STEP_RESET, ROLE_NONE, STEP_OK, 0, 0);
	record(&h2, PATH_RESTART, STEP_WAIT_VESC, ROLE_NONE, STEP_OK, 0, 0);
	plan_next(&o, &p, &h2, &d);
	assert_int_equal(d.outcome, PLAN_RECOVERED);
	assert_int_equal(d.exit_status, 0);
}

/* ---- failures and refusals ---------------------------------------------------------------------------- */

static void failures_stop_with_status(void **state)
{
	(void)state;
	static const struct {
		enum plan_step_kind kind;
		enum step_result result;
		int exit_status;
		const char *needle;
	} cases[] = {
		{STEP_BACKUP, STEP_FAILED, 9, "nothing was erased"},
		{STEP_MASS_ERASE, STEP_REFUSED, 7, "--yes"},
		{STEP_MASS_ERASE, STEP_FAILED, 9, "erase failed"},
		{STEP_VERIFY, STEP_FAILED, 9, "Verification"},
		{STEP_WAIT_VESC, STEP_FAILED, 4, "did not answer"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct observations o;
		struct plan_options p;
		struct plan_history h = {0};
		struct run r = {0};
		obs_init(&o);
		chip_corrupt_app(&o);
		opts_images(&p);
		r.fail_kind = cases[i].kind;
		r.fail_result = cases[i].result;
		run_plan(&o, &p, &h, &r);
		assert_int_equal(r.seq[r.n - 1], cases[i].kind);
		assert_int_equal(r.final.exit_status, cases[i].exit_status);
		if (!strstr(r.final.message, cases[i].needle))
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].needle, r.final.message);
		assert_safe(&r, false);
	}
}

/* ---- resume ------------------------------------------------------------------------------------------------- */

static void resume_interrupted_firmware_write(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan plan;
	obs_init(&o);
	chip_corrupt_app(&o);            /* what the re-survey sees: partial app */
	o.swd.app.vector_valid = true;
	opts_images(&p);
	p.yes = true;
	record(&h, PATH_CANONICAL, STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0x8FF, 0);
	record(&h, PATH_CANONICAL, STEP_MASS_ERASE, ROLE_NONE, STEP_OK, 0xFFF, 0);
	record(&h, PATH_CANONICAL, STEP_WRITE_BOOTLOADER, ROLE_BOOTLOADER, STEP_OK, 0x800, 0);
	record(&h, PATH_CANONICAL, STEP_WRITE_FIRMWARE, ROLE_FIRMWARE, STEP_INTERRUPTED, 0xFF, 65536);
	h.n_from_journal = h.n;
	/* the new run attached and surveyed before planning */
	record(&h, PATH_DIAGNOSE, STEP_SURVEY, ROLE_NONE, STEP_OK, 0, 0);
	plan_build(&o, &p, &h, &plan);
	assert_int_equal(plan.path, PATH_CANONICAL);
	assert_int_equal(plan.steps[0].state, PSTATE_DONE);
	assert_int_equal(plan.steps[1].state, PSTATE_DONE);
	assert_int_equal(plan.steps[2].state, PSTATE_DONE);
	assert_int_equal(plan.steps[3].state, PSTATE_CURRENT);
	struct plan_decision *d = &plan.decision;
	assert_int_equal(d->step.kind, STEP_WRITE_FIRMWARE);
	assert_int_equal(d->step.resume_offset, 65536);
	assert_true(d->step.needs_confirm);       /* a new run asks before going on */
	assert_true(d->step.preconfirmed);        /* --yes answers it */
	assert_non_null(strstr(d->note, "Resuming"));
	assert_int_equal(plan.total_bytes, (uint64_t)(FW6_SIZE - 65536) + FW6_SIZE + GENERIC_BL_SIZE);
}

static void resume_of_a_write_logged_complete(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan plan;
	obs_init(&o);
	chip_corrupt_app(&o);
	opts_images(&p);
	p.keep_config = true;
	record(&h, PATH_KEEP_CONFIG, STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0x8FF, 0);
	record(&h, PATH_KEEP_CONFIG, STEP_SECTOR_ERASE, ROLE_NONE, STEP_OK, 0xF9, 0);
	/* every block written (image offsets), killed before the "ok" line */
	record(&h, PATH_KEEP_CONFIG, STEP_WRITE_FIRMWARE, ROLE_FIRMWARE, STEP_STARTED, 0xF9, FW6_SIZE);
	h.n_from_journal = h.n;
	plan_build(&o, &p, &h, &plan);
	assert_int_equal(plan.decision.step.kind, STEP_WRITE_FIRMWARE);
	assert_int_equal(plan.decision.step.resume_offset, FW6_SIZE);   /* nothing left to write */
	/* remaining bytes: verify only (no wrap-around from the skipped window) */
	assert_true(plan.total_bytes < 2u * FW6_SIZE);
}

static void resume_unverified_erase_is_redone(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	chip_corrupt_app(&o);
	set_sector(&o, 0, SECTOR_BLANK);    /* half erased */
	opts_images(&p);
	record(&h, PATH_CANONICAL, STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0x8FF, 0);
	record(&h, PATH_CANONICAL, STEP_MASS_ERASE, ROLE_NONE, STEP_STARTED, 0xFFF, 0);
	h.n_from_journal = h.n;
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.step.kind, STEP_MASS_ERASE);
	assert_true(d.step.needs_confirm);
	assert_non_null(strstr(d.note, "did not verify"));
}

static void contradicted_journal_is_not_trusted(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	chip_corrupt_app(&o);
	o.swd.bootloader.present = false;   /* journal says it was written: someone changed the chip */
	set_sector(&o, 11, SECTOR_DATA);
	opts_images(&p);
	p.yes = true;
	record(&h, PATH_CANONICAL, STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0x8FF, 0);
	record(&h, PATH_CANONICAL, STEP_MASS_ERASE, ROLE_NONE, STEP_OK, 0xFFF, 0);
	record(&h, PATH_CANONICAL, STEP_WRITE_BOOTLOADER, ROLE_BOOTLOADER, STEP_OK, 0x800, 0);
	h.n_from_journal = h.n;
	plan_next(&o, &p, &h, &d);
	assert_non_null(strstr(d.note, "does not match"));
	assert_int_equal(d.step.kind, STEP_BACKUP);   /* from the start, backup first */
	/* and the erase then asks even with --yes: it would wipe finished work */
	struct plan_history h2 = h;
	record(&h2, PATH_CANONICAL, STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0x8FF, 0);
	h2.n_from_journal = 0;
	struct plan_record finished = {.kind = STEP_WRITE_BOOTLOADER, .path = PATH_BOOTLOADER_ONLY,
				       .result = STEP_OK, .role = ROLE_BOOTLOADER, .sectors = 0x800};
	struct plan_history h3 = {0};
	plan_history_add(&h3, &finished);
	record(&h3, PATH_CANONICAL, STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0x8FF, 0);
	plan_next(&o, &p, &h3, &d);
	assert_int_equal(d.step.kind, STEP_MASS_ERASE);
	assert_true(d.step.needs_confirm);
	assert_false(d.step.preconfirmed);
	assert_non_null(strstr(d.step.confirm, "earlier step finished"));
	p.force = true;
	plan_next(&o, &p, &h3, &d);
	assert_true(d.step.preconfirmed);
}

static void resumed_run_finishing_its_write_goes_on(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	chip_corrupt_app(&o);               /* surveyed at the start of the second run */
	o.swd.app.vector_valid = false;     /* the first blocks were not even there */
	set_sector(&o, 0, SECTOR_DATA);
	opts_images(&p);
	p.yes = true;
	record(&h, PATH_CANONICAL, STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0x8FF, 0);
	record(&h, PATH_CANONICAL, STEP_MASS_ERASE, ROLE_NONE, STEP_OK, 0xFFF, 0);
	record(&h, PATH_CANONICAL, STEP_WRITE_BOOTLOADER, ROLE_BOOTLOADER, STEP_OK, 0x800, 0);
	record(&h, PATH_CANONICAL, STEP_WRITE_FIRMWARE, ROLE_FIRMWARE, STEP_INTERRUPTED, 0xFF, 131072);
	h.n_from_journal = h.n;
	/* this run finished the write: the stale survey must not undo that */
	record(&h, PATH_CANONICAL, STEP_WRITE_FIRMWARE, ROLE_FIRMWARE, STEP_OK, 0xFF, FW6_SIZE);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_CONTINUE);
	assert_int_equal(d.step.kind, STEP_VERIFY);
	assert_null(strstr(d.note, "does not match"));
}

static void untrusted_journal_keeps_this_runs_failures(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	chip_corrupt_app(&o);
	o.swd.bootloader.present = false;
	set_sector(&o, 11, SECTOR_DATA);
	opts_images(&p);
	record(&h, PATH_CANONICAL, STEP_WRITE_BOOTLOADER, ROLE_BOOTLOADER, STEP_OK, 0x800, 0);
	h.n_from_journal = h.n;
	record(&h, PATH_CANONICAL, STEP_BACKUP, ROLE_BACKUP, STEP_FAILED, 0x8FF, 0);
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_FAILED);
	assert_int_equal(d.exit_status, 9);
	assert_non_null(strstr(d.note, "does not match"));
}

static void working_vesc_is_not_overwritten_by_an_old_journal(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan_decision d;
	obs_init(&o);
	chip_healthy(&o);
	add_vesc(&o, 6, 5);
	opts_images(&p);
	p.yes = true;
	record(&h, PATH_CANONICAL, STEP_BACKUP, ROLE_BACKUP, STEP_OK, 0x8FF, 0);
	record(&h, PATH_CANONICAL, STEP_SECTOR_ERASE, ROLE_NONE, STEP_INTERRUPTED, 0xF9, 0);
	h.n_from_journal = h.n;
	plan_next(&o, &p, &h, &d);
	assert_int_equal(d.outcome, PLAN_HEALTHY);
	assert_non_null(strstr(d.note, "not resumed"));
}

/* ---- the whole plan ----------------------------------------------------------------------------------------- */

static void dry_run_plan_lists_every_step(void **state)
{
	(void)state;
	struct observations o;
	struct plan_options p;
	struct plan_history h = {0};
	struct plan plan;
	obs_init(&o);
	chip_corrupt_app(&o);
	opts_images(&p);
	p.dry_run = true;
	plan_build(&o, &p, &h, &plan);
	assert_int_equal(plan.path, PATH_CANONICAL);
	assert_int_equal(plan.n, 8);   /* restore-config shown as skipped */
	assert_int_equal(plan.current, 0);
	assert_int_equal(plan.steps[0].state, PSTATE_CURRENT);
	for (unsigned i = 1; i < plan.n; i++) {
		if (plan.steps[i].step.kind == STEP_RESTORE_CONFIG)
			assert_int_equal(plan.steps[i].state, PSTATE_SKIPPED);
		else
			assert_int_equal(plan.steps[i].state, PSTATE_PENDING);
		assert_true(plan.steps[i].step.reason[0] != '\0');
	}
	assert_true(plan.total_bytes > FW6_SIZE);
	assert_int_equal(plan.decision.outcome, PLAN_CONTINUE);
	assert_int_equal(plan.decision.step.kind, STEP_BACKUP);
}

static void names_round_trip(void **state)
{
	(void)state;
	for (int k = 0; k < STEP_KIND_COUNT_; k++)
		assert_int_equal(plan_step_kind_from_name(plan_step_kind_name((enum plan_step_kind)k)), k);
	for (int k = 0; k < PATH_COUNT_; k++)
		assert_int_equal(plan_path_from_name(plan_path_name((enum plan_path)k)), k);
	for (int k = 0; k < STEP_RESULT_COUNT_; k++)
		assert_int_equal(step_result_from_name(step_result_name((enum step_result)k)), k);
	assert_int_equal(plan_step_kind_from_name("no-such-step"), STEP_NONE);
	assert_int_equal(plan_step_kind_from_name(NULL), STEP_NONE);
	assert_string_equal(plan_step_kind_name((enum plan_step_kind)999), "unknown");
}

static void history_keeps_latest_when_full(void **state)
{
	(void)state;
	struct plan_history h = {0};
	for (unsigned i = 0; i < PLAN_MAX_RECORDS + 5; i++)
		record(&h, PATH_DIAGNOSE, STEP_SURVEY, ROLE_NONE, STEP_OK, 0, i);
	assert_int_equal(h.n, PLAN_MAX_RECORDS);
	assert_int_equal(h.rec[PLAN_MAX_RECORDS - 1].bytes_done, PLAN_MAX_RECORDS + 4);
	assert_int_equal(h.rec[0].bytes_done, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy_with_survey_is_done),
		cmocka_unit_test(answering_without_swd_asks_then_says_unknown),
		cmocka_unit_test(answering_with_probe_attached_surveys_first),
		cmocka_unit_test(usb_bootloader_after_confirmed_missing),
		cmocka_unit_test(usb_bootloader_on_old_firmware_warns),
		cmocka_unit_test(usb_bootloader_needs_image),
		cmocka_unit_test(answering_with_survey_missing_bootloader_goes_swd),
		cmocka_unit_test(silent_or_absent_goes_to_swd),
		cmocka_unit_test(attach_without_a_trace_does_not_loop),
		cmocka_unit_test(no_probe_diagnosis),
		cmocka_unit_test(unpowered_target),
		cmocka_unit_test(attach_ladder_in_order),
		cmocka_unit_test(ladder_with_dpidr_means_damaged_mcu),
		cmocka_unit_test(manual_reset_refused_needs_person),
		cmocka_unit_test(rdp2_is_unrecoverable),
		cmocka_unit_test(rdp1_regression_then_full_recovery),
		cmocka_unit_test(rdp1_refused_in_batch),
		cmocka_unit_test(wrp_cleared_before_erase),
		cmocka_unit_test(canonical_path_on_corrupt_app),
		cmocka_unit_test(canonical_with_yes_is_preconfirmed),
		cmocka_unit_test(missing_images_stop_before_anything),
		cmocka_unit_test(oversized_firmware_is_refused),
		cmocka_unit_test(wrong_hw_image_is_refused_unless_forced),
		cmocka_unit_test(wrong_hw_found_after_boot_is_reported),
		cmocka_unit_test(keep_config_path),
		cmocka_unit_test(keep_config_with_garbage_in_sector_11),
		cmocka_unit_test(keep_config_on_blank_app_still_asks),
		cmocka_unit_test(restore_config_path),
		cmocka_unit_test(keep_and_restore_exclude_each_other),
		cmocka_unit_test(app_blank_bootloader_present_writes_firmware_only),
		cmocka_unit_test(bootloader_blank_app_valid_writes_bootloader_only),
		cmocka_unit_test(blank_chip_needs_no_erase),
		cmocka_unit_test(intact_but_silent_restarts_then_reflashes),
		cmocka_unit_test(failures_stop_with_status),
		cmocka_unit_test(resume_interrupted_firmware_write),
		cmocka_unit_test(resume_of_a_write_logged_complete),
		cmocka_unit_test(resume_unverified_erase_is_redone),
		cmocka_unit_test(contradicted_journal_is_not_trusted),
		cmocka_unit_test(resumed_run_finishing_its_write_goes_on),
		cmocka_unit_test(untrusted_journal_keeps_this_runs_failures),
		cmocka_unit_test(working_vesc_is_not_overwritten_by_an_old_journal),
		cmocka_unit_test(dry_run_plan_lists_every_step),
		cmocka_unit_test(names_round_trip),
		cmocka_unit_test(history_keeps_latest_when_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
