/* The SWD attach ladder and the flash survey on the in-process bench:
 * which rung gets in for each fault (healthy -> normal, firmware that
 * locks SWD -> under reset, no NRST wire -> manual reset driven through
 * the callback, unpowered / miswired -> failed with the right advice),
 * and what the survey concludes for healthy, no-bootloader, corrupt-app,
 * blank and RDP1 chips, without changing a byte of flash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "crc.h"
#include "probes/swd_probe.h"
#include "target_rig.h"

struct fixture {
	struct rig rig;
	struct stm32f4 t;
	struct swd_obs obs;
	struct swd_attach_opts opts;
	struct vr_error err;
	unsigned holds, releases;
};

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	rig_init(&f->rig);
	swd_attach_opts_defaults(&f->opts);
	f->opts.clock = &f->rig.target_clock;
	return f;
}

static void fixture_free(struct fixture *f)
{
	rig_close(&f->rig);
	free(f);
}

static vr_err attach(struct fixture *f)
{
	assert_int_equal(rig_open(&f->rig, &f->err), VR_OK);
	return swd_attach(&f->rig.probe, &f->opts, &f->t, &f->obs, &f->err);
}

/* The person at the bench: shorts NRST on the model when told to. */
static bool person_at_bench(void *ctx, enum swd_manual_cue cue, const char *instruction)
{
	struct fixture *f = ctx;
	assert_non_null(instruction);
	if (cue == SWD_CUE_HOLD_NRST) {
		assert_non_null(strstr(instruction, "pin 7"));
		f->holds++;
		f4_manual_nrst(f->rig.model, true);
	} else {
		f->releases++;
		f4_manual_nrst(f->rig.model, false);
	}
	return true;
}

/* ---- ladder ------------------------------------------------------------ */
static void healthy_attaches_normally(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	assert_int_equal(attach(f), VR_OK);
	assert_int_equal(f->obs.attach, ATTACH_NORMAL);
	assert_int_equal(f->obs.n_rungs, 1);
	assert_true(f->obs.ladder[0].ok);
	assert_int_equal(f->obs.ladder[0].dpidr, STM32F4_DPIDR);
	assert_true(f->obs.target_found);
	assert_int_equal(f->obs.dev_id, 0x413);
	assert_int_equal(f->obs.flash_kb, 1024);
	assert_string_equal(f->obs.target_name, "STM32F40x/F41x");
	assert_true(f->obs.voltage_known);
	assert_true(f->obs.voltage > 3.0);
	assert_true(f->obs.probe_found);
	assert_true(f4_core_halted(f->rig.model));
	fixture_free(f);
}

static void lockout_needs_connect_under_reset(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	f->rig.model_cfg.app_locks_swd = true;
	assert_int_equal(attach(f), VR_OK);
	assert_int_equal(f->obs.attach, ATTACH_UNDER_RESET);
	assert_int_equal(f->obs.n_rungs, 2);
	assert_false(f->obs.ladder[0].ok);
	assert_non_null(strstr(f->obs.ladder[0].saw, "no DPIDR"));
	assert_true(f->obs.ladder[1].ok);
	assert_true(f4_core_halted(f->rig.model));
	fixture_free(f);
}

static void no_nrst_needs_the_person(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	f->rig.model_cfg.app_locks_swd = true;
	f->rig.model_cfg.nrst_wired = false;
	f->opts.manual_reset = person_at_bench;
	f->opts.manual_ctx = f;
	assert_int_equal(attach(f), VR_OK);
	assert_int_equal(f->obs.attach, ATTACH_MANUAL_RESET);
	assert_int_equal(f->holds, 1);
	assert_int_equal(f->releases, 1);
	/* normal, under reset, two slow clocks, manual */
	assert_int_equal(f->obs.n_rungs, 5);
	assert_int_equal(f->obs.ladder[2].rung, ATTACH_SLOW_CLOCK);
	assert_int_equal(f->obs.ladder[4].rung, ATTACH_MANUAL_RESET);
	assert_true(f->obs.ladder[4].ok);
	for (unsigned i = 0; i < 4; i++)
		assert_false(f->obs.ladder[i].ok);
	assert_true(f4_core_halted(f->rig.model));
	assert_int_equal(f->obs.dev_id, 0x413);
	fixture_free(f);
}

static void no_nrst_without_callback_fails_and_says_so(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	f->rig.model_cfg.app_locks_swd = true;
	f->rig.model_cfg.nrst_wired = false;
	assert_int_equal(attach(f), VR_ERR_NO_DEVICE);
	assert_int_equal(f->obs.attach, ATTACH_FAILED);
	assert_int_equal(f->obs.n_rungs, 5);
	assert_non_null(strstr(f->obs.ladder[4].saw, "skipped"));
	fixture_free(f);
}

static void unpowered_gets_power_advice(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	f->rig.model_cfg.vdd = 0;
	assert_int_equal(attach(f), VR_ERR_NO_DEVICE);
	assert_int_equal(f->obs.attach, ATTACH_FAILED);
	assert_false(f->obs.target_found);
	assert_true(f->obs.voltage_known);
	assert_true(f->obs.voltage < 1.0);
	assert_non_null(strstr(f->obs.advice, "battery leads"));
	assert_non_null(strstr(f->obs.advice, "do not feed 3.3 V from a clone"));
	assert_non_null(strstr(f->err.msg, "battery leads"));
	fixture_free(f);
}

static void unpowered_behind_a_clone_mentions_both(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	f->rig.model_cfg.vdd = 0;
	f->rig.sim_cfg.is_clone = true;   /* reads its own ~3.2 V */
	assert_int_equal(attach(f), VR_ERR_NO_DEVICE);
	assert_true(f->obs.voltage > 3.0);
	assert_non_null(strstr(f->obs.advice, "VESC powered from its battery"));
	assert_non_null(strstr(f->obs.advice, "clone supplies its own 3.3 V"));
	fixture_free(f);
}

static void miswired_gets_wiring_checklist(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	f->rig.model_cfg.swd_wired = false;
	f->opts.manual_reset = person_at_bench;
	f->opts.manual_ctx = f;
	assert_int_equal(attach(f), VR_ERR_NO_DEVICE);
	assert_int_equal(f->obs.attach, ATTACH_FAILED);
	for (unsigned i = 0; i < f->obs.n_rungs; i++)
		assert_false(f->obs.ladder[i].ok);
	assert_non_null(strstr(f->obs.advice, "SWDIO/SWCLK not swapped"));
	assert_non_null(strstr(f->obs.advice, "3.3V CLK GND DIO RST SWO"));
	assert_non_null(strstr(f->obs.advice, "RDP2, dead MCU or wiring"));
	fixture_free(f);
}

static void other_mcu_is_named_and_refused(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	f->rig.model_cfg.dev_id = 0x419;
	assert_int_equal(attach(f), VR_ERR_UNRECOVERABLE);
	assert_int_equal(f->obs.attach, ATTACH_NORMAL);
	assert_int_equal(f->obs.dev_id, 0x419);
	assert_non_null(strstr(f->err.msg, "STM32F427 (0x419)"));
	fixture_free(f);
}

/* ---- survey ------------------------------------------------------------- */
static void survey(struct fixture *f, uint8_t *copy, bool read[F4_SECTORS])
{
	assert_int_equal(attach(f), VR_OK);
	assert_int_equal(swd_survey(&f->t, copy, read, &f->obs, &f->err), VR_OK);
	assert_true(f->obs.survey_done);
	/* read-only: not a byte of flash changed, nothing was programmed */
	assert_memory_equal(f4_model_flash(f->rig.model), f->rig.initial, RIG_FLASH_SIZE);
	struct f4_stats s;
	f4_model_stats(f->rig.model, &s);
	assert_int_equal(s.words_programmed, 0);
	assert_int_equal(s.sector_erases + s.mass_erases + s.option_writes, 0);
}

static void survey_healthy(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	uint8_t *copy = malloc(RIG_FLASH_SIZE);
	bool read[F4_SECTORS];
	survey(f, copy, read);
	const struct swd_obs *o = &f->obs;
	assert_int_equal(o->rdp, 0);
	assert_int_equal(o->nwrp, 0xFFF);
	static const enum sector_state want[F4_SECTORS] = {
		SECTOR_APP, SECTOR_CONFIG, SECTOR_CONFIG, SECTOR_APP, SECTOR_APP, SECTOR_APP,
		SECTOR_APP, SECTOR_APP, SECTOR_BLANK, SECTOR_BLANK, SECTOR_BLANK, SECTOR_BOOTLOADER};
	for (unsigned s = 0; s < F4_SECTORS; s++) {
		const struct sector_obs *so = &o->sectors[s];
		assert_int_equal(so->state, want[s]);
		assert_int_equal(so->address, stm32f4_sector_address(s));
		assert_true(so->crc_known);
		assert_int_equal(so->crc32, crc32_zlib(f->rig.initial + (so->address - 0x08000000),
						       so->size));
		/* blank sectors never crossed USB; the others did, once */
		assert_int_equal(read[s], !so->blank);
	}
	assert_memory_equal(copy, f->rig.initial, RIG_FLASH_SIZE);
	assert_true(o->app.vector_valid);
	assert_int_equal(o->app.fw_gen, 6);
	assert_int_equal(o->app.crcinfo, CRCINFO_BOOTED);
	assert_true(o->app.crc_checked);
	assert_true(o->app.crc_ok);
	assert_true(o->bootloader.present);
	assert_int_equal(o->bootloader.kind, BL_KIND_GENERIC);
	assert_false(o->staging.pending);
	/* done: the firmware runs again, flash untouched */
	assert_int_equal(swd_detach(&f->t, &f->err), VR_OK);
	f4_advance_us(f->rig.model, 1000);
	assert_true(f4_app_running(f->rig.model));
	assert_memory_equal(f4_model_flash(f->rig.model), f->rig.initial, RIG_FLASH_SIZE);
	free(copy);
	fixture_free(f);
}

static void survey_no_bootloader(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	memset(f->rig.initial + 0xE0000, 0xFF, 0x20000);
	survey(f, NULL, NULL);
	assert_int_equal(f->obs.sectors[11].state, SECTOR_BLANK);
	assert_false(f->obs.bootloader.present);
	assert_true(f->obs.bootloader.blank);
	assert_true(f->obs.app.crc_ok);
	fixture_free(f);
}

static void survey_corrupt_app(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	f->rig.initial[0x30001] ^= 0x40;
	survey(f, NULL, NULL);
	assert_true(f->obs.app.vector_valid);
	assert_int_equal(f->obs.app.crcinfo, CRCINFO_BOOTED);
	assert_true(f->obs.app.crc_checked);
	assert_false(f->obs.app.crc_ok);
	assert_int_equal(f->obs.sectors[11].state, SECTOR_BOOTLOADER);
	fixture_free(f);
}

static void survey_blank(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	survey(f, NULL, NULL);
	for (unsigned s = 0; s < F4_SECTORS; s++) {
		assert_int_equal(f->obs.sectors[s].state, SECTOR_BLANK);
		assert_true(f->obs.sectors[s].blank);
	}
	assert_false(f->obs.app.vector_valid);
	assert_int_equal(f->obs.app.image_end, 0);
	assert_false(f->obs.bootloader.present);
	/* blank checks by CRC on the target: almost nothing read over USB */
	assert_true(f->t.stats.bytes_from_target < 4096);
	fixture_free(f);
}

static void survey_staging_and_unknown_sector11(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	memset(f->rig.initial + 0xE0000, 0x00, 64);       /* not a vector table */
	memset(f->rig.initial + 0xA0000, 0x42, 0x1000);   /* Lisp/QML data */
	survey(f, NULL, NULL);
	assert_int_equal(f->obs.sectors[11].state, SECTOR_DATA);
	assert_false(f->obs.bootloader.present);
	assert_int_equal(f->obs.sectors[9].state, SECTOR_STAGING);
	assert_int_equal(f->obs.sectors[8].state, SECTOR_BLANK);
	fixture_free(f);
}

static void survey_rdp1_protected(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	f->rig.model_cfg.optcr = 0x0FFF55EDu;
	survey(f, NULL, NULL);
	assert_int_equal(f->obs.rdp, 1);
	for (unsigned s = 0; s < F4_SECTORS; s++) {
		assert_int_equal(f->obs.sectors[s].state, SECTOR_PROTECTED);
		assert_false(f->obs.sectors[s].crc_known);
	}
	assert_int_equal(f->obs.dev_id, 0x413);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy_attaches_normally),
		cmocka_unit_test(lockout_needs_connect_under_reset),
		cmocka_unit_test(no_nrst_needs_the_person),
		cmocka_unit_test(no_nrst_without_callback_fails_and_says_so),
		cmocka_unit_test(unpowered_gets_power_advice),
		cmocka_unit_test(unpowered_behind_a_clone_mentions_both),
		cmocka_unit_test(miswired_gets_wiring_checklist),
		cmocka_unit_test(other_mcu_is_named_and_refused),
		cmocka_unit_test(survey_healthy),
		cmocka_unit_test(survey_no_bootloader),
		cmocka_unit_test(survey_corrupt_app),
		cmocka_unit_test(survey_blank),
		cmocka_unit_test(survey_staging_and_unknown_sector11),
		cmocka_unit_test(survey_rdp1_protected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
