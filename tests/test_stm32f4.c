/* The STM32F4 target layer: the part table and sector map, then every
 * flash operation and refusal on the in-process bench (model + simulated
 * ST-Link + our driver), checked byte for byte against the model's flash
 * and its operation counters (PSIZE of the erase, words programmed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "crc.h"
#include "flashloader.h"
#include "stm32f4.h"
#include "target_rig.h"

/* ---- tables ------------------------------------------------------------ */
static void part_table(void **state)
{
	(void)state;
	const struct stm32f4_desc *d = stm32f4_desc_find(0x413);
	assert_non_null(d);
	assert_true(d->supported);
	assert_int_equal(d->flash_kb, 1024);
	for (uint16_t id = 0; id < 0x1000; id++) {
		const struct stm32f4_desc *x = stm32f4_desc_find(id);
		if (x && id != 0x413)
			assert_false(x->supported);
	}
	assert_non_null(stm32f4_desc_find(0x421));
	assert_null(stm32f4_desc_find(0x123));
	/* rev-A F405 reads 0x411 on a Cortex-M4; an F2 (M3) stays 0x411 */
	assert_int_equal(stm32f4_effective_dev_id(0x411, 0x410FC241u), 0x413);
	assert_int_equal(stm32f4_effective_dev_id(0x411, 0x412FC231u), 0x411);
	char name[64];
	stm32f4_describe_dev_id(0x421, name, sizeof name);
	assert_string_equal(name, "STM32F446 (0x421)");
}

static void sector_map(void **state)
{
	(void)state;
	static const uint32_t base[12] = {0x08000000, 0x08004000, 0x08008000, 0x0800C000,
					  0x08010000, 0x08020000, 0x08040000, 0x08060000,
					  0x08080000, 0x080A0000, 0x080C0000, 0x080E0000};
	uint32_t total = 0;
	for (unsigned s = 0; s < 12; s++) {
		assert_int_equal(stm32f4_sector_address(s), base[s]);
		assert_int_equal(stm32f4_sector_of(base[s]), (int)s);
		assert_int_equal(stm32f4_sector_of(base[s] + stm32f4_sector_size(s) - 1), (int)s);
		total += stm32f4_sector_size(s);
	}
	assert_int_equal(total, 1024u * 1024u);
	assert_int_equal(stm32f4_sector_of(0x07FFFFFF), -1);
	assert_int_equal(stm32f4_sector_of(0x08100000), -1);
	assert_int_equal(stm32f4_sector_erase_typ_us(0), 250000);
	assert_int_equal(stm32f4_sector_erase_typ_us(4), 550000);
	assert_int_equal(stm32f4_sector_erase_typ_us(11), 1000000);
}

static void optcr_decoding(void **state)
{
	(void)state;
	struct stm32f4_options o;
	stm32f4_decode_optcr(0x0FFFAAEDu, &o);
	assert_int_equal(o.rdp_level, 0);
	assert_int_equal(o.nwrp, 0xFFF);
	stm32f4_decode_optcr(0x07FF55EDu, &o);
	assert_int_equal(o.rdp_level, 1);
	assert_int_equal(o.nwrp, 0x7FF);
	stm32f4_decode_optcr(0x0FFFCCEDu, &o);
	assert_int_equal(o.rdp_level, 2);
}

/* ---- bench helpers ------------------------------------------------------- */
struct fixture {
	struct rig rig;
	struct stm32f4 t;
	struct vr_error err;
};

static struct fixture *fixture_new(void)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	rig_init(&f->rig);
	return f;
}

/* Opens the rig and attaches the simple way (the ladder has its own test). */
static void fixture_attach(struct fixture *f)
{
	assert_int_equal(rig_open(&f->rig, &f->err), VR_OK);
	struct swd_probe *p = &f->rig.probe;
	assert_int_equal(p->ops->enter_swd(p->ctx, &f->err), VR_OK);
	stm32f4_init(&f->t, p, &f->rig.target_clock);
	assert_int_equal(stm32f4_identify(&f->t, &f->err), VR_OK);
	assert_int_equal(stm32f4_halt(&f->t, &f->err), VR_OK);
	assert_int_equal(stm32f4_freeze_watchdogs(&f->t, &f->err), VR_OK);
}

static void fixture_free(struct fixture *f)
{
	rig_close(&f->rig);
	free(f);
}

static const uint8_t *chip(struct fixture *f)
{
	return f4_model_flash(f->rig.model);
}

static struct f4_stats model_stats(struct fixture *f)
{
	struct f4_stats s;
	f4_model_stats(f->rig.model, &s);
	return s;
}

static bool region_is(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

static size_t nonblank_words(const uint8_t *p, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i += 4)
		n += !(p[i] == 0xFF && p[i + 1] == 0xFF && p[i + 2] == 0xFF && p[i + 3] == 0xFF);
	return n;
}

/* ---- identify --------------------------------------------------------------- */
static void identify_f405(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	fixture_attach(f);
	assert_int_equal(f->t.ids.dev_id, 0x413);
	assert_int_equal(f->t.ids.rev_id, 0x1007);
	assert_int_equal(f->t.ids.cpuid, 0x410FC241u);
	assert_int_equal(f->t.ids.dpidr, STM32F4_DPIDR);
	assert_int_equal(f->t.ids.flash_kb, 1024);
	assert_memory_equal(f->t.ids.uid, f->rig.model_cfg.uid, 12);
	assert_true(f4_core_halted(f->rig.model));
	fixture_free(f);
}

static void identify_refuses_f446(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	f->rig.model_cfg.dev_id = 0x421;
	assert_int_equal(rig_open(&f->rig, &f->err), VR_OK);
	struct swd_probe *p = &f->rig.probe;
	assert_int_equal(p->ops->enter_swd(p->ctx, &f->err), VR_OK);
	stm32f4_init(&f->t, p, &f->rig.target_clock);
	assert_int_equal(stm32f4_identify(&f->t, &f->err), VR_ERR_UNRECOVERABLE);
	assert_non_null(strstr(f->err.msg, "STM32F446 (0x421), not a VESC's STM32F405: refusing"));
	assert_false(f->t.identified);
	fixture_free(f);
}

/* ---- erase -------------------------------------------------------------------- */
static void sector_erase_exact(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	fixture_attach(f);
	uint64_t t0 = f->rig.clock.now_us;
	assert_int_equal(stm32f4_erase_sectors(&f->t, (1u << 1) | (1u << 2), &f->err), VR_OK);
	uint64_t took = f->rig.clock.now_us - t0;
	const uint8_t *flash = chip(f);
	assert_memory_equal(flash, f->rig.initial, 0x4000);
	assert_true(region_is(flash + 0x4000, 0x8000, 0xFF));
	assert_memory_equal(flash + 0xC000, f->rig.initial + 0xC000, 0x100000 - 0xC000);
	struct f4_stats s = model_stats(f);
	assert_int_equal(s.sector_erases, 2);
	assert_int_equal(s.psize_of_last_erase, 2);   /* x32 */
	/* two 16 KB sectors at x32: 2 x 250 ms typical, plus polling */
	assert_true(took >= 500000 && took < 700000);
	fixture_free(f);
}

static void mass_erase_x32(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	fixture_attach(f);
	unsigned calls = 0;
	uint64_t t0 = f->rig.clock.now_us;
	assert_int_equal(stm32f4_mass_erase(&f->t, &f->err), VR_OK);
	uint64_t took = f->rig.clock.now_us - t0;
	(void)calls;
	assert_true(region_is(chip(f), RIG_FLASH_SIZE, 0xFF));
	struct f4_stats s = model_stats(f);
	assert_int_equal(s.mass_erases, 1);
	assert_int_equal(s.psize_of_last_erase, 2);
	/* 8 s typical at x32 (x8 would be 16 s), little polling slack */
	assert_true(took >= 8000000 && took < 8300000);
	assert_true(f->t.stats.polls < 80);
	fixture_free(f);
}

struct cancel_after {
	volatile sig_atomic_t flag;
	unsigned finished;
};

static void cancel_on_first_done(void *ctx, const struct stm32f4_progress *p)
{
	struct cancel_after *c = ctx;
	if (p->typical_us && p->done == p->total && p->total) {
		c->finished++;
		c->flag = 1;
	}
}

static void erase_cancel_between_sectors(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	fixture_attach(f);
	struct cancel_after c = {0, 0};
	f->t.progress = cancel_on_first_done;
	f->t.progress_ctx = &c;
	f->t.cancel = &c.flag;
	assert_int_equal(stm32f4_erase_sectors(&f->t, (1u << 3) | (1u << 4), &f->err),
			 VR_ERR_INTERRUPTED);
	/* sector 3 finished its erase, sector 4 never started */
	assert_true(region_is(chip(f) + 0xC000, 0x4000, 0xFF));
	assert_memory_equal(chip(f) + 0x10000, f->rig.initial + 0x10000, 0x10000);
	assert_int_equal(model_stats(f).sector_erases, 1);
	fixture_free(f);
}

/* ---- program ------------------------------------------------------------------- */
static void program_fw_on_blank(bool use_loader)
{
	struct fixture *f = fixture_new();
	fixture_attach(f);
	f->t.use_loader = use_loader;
	uint8_t *fw = malloc(SYNTH_FW6_SIZE);
	assert_non_null(fw);
	size_t n = synth_firmware(fw, SYNTH_FW6_SIZE, 6, 5, 3);
	assert_int_equal(n, SYNTH_FW6_SIZE);
	struct stm32f4_write_opts o = {false};
	assert_int_equal(stm32f4_program(&f->t, 0x08000000, fw, n, &o, &f->err), VR_OK);
	assert_memory_equal(chip(f), fw, n);
	assert_true(region_is(chip(f) + n, RIG_FLASH_SIZE - n, 0xFF));
	/* 0xFF words cost nothing: the model programmed exactly the others */
	size_t words = nonblank_words(fw, n);
	assert_true(words < n / 4);
	assert_int_equal(model_stats(f).words_programmed, words);
	assert_int_equal(f->t.stats.bytes_programmed, words * 4);
	uint32_t diff = 1;
	assert_int_equal(stm32f4_verify(&f->t, 0x08000000, fw, n, &diff, &f->err), VR_OK);
	assert_int_equal(diff, 0);
	if (use_loader)
		assert_true(f->t.stats.loader_runs > 0);
	else
		assert_int_equal(f->t.stats.loader_runs, 0);
	free(fw);
	fixture_free(f);
}

static void program_with_loader(void **state)
{
	(void)state;
	program_fw_on_blank(true);
}

static void program_direct(void **state)
{
	(void)state;
	program_fw_on_blank(false);
}

static void program_refuses_non_blank(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	fixture_attach(f);
	uint8_t bl[5776];
	size_t n = synth_bootloader(bl, sizeof bl, BL_KIND_HW60);
	struct stm32f4_write_opts o = {false};
	assert_int_equal(stm32f4_program(&f->t, 0x080E0000, bl, n, &o, &f->err), VR_ERR_CONFIRM);
	assert_non_null(strstr(f->err.msg, "0x080e0000"));
	assert_non_null(strstr(f->err.msg, "--force"));
	assert_memory_equal(chip(f), f->rig.initial, RIG_FLASH_SIZE);
	assert_int_equal(model_stats(f).words_programmed, 0);
	/* forced: the bits AND together, and verify names where they differ */
	o.force = true;
	assert_int_equal(stm32f4_program(&f->t, 0x080E0000, bl, n, &o, &f->err), VR_OK);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(chip(f)[0xE0000 + i], f->rig.initial[0xE0000 + i] & bl[i]);
	uint32_t diff = 0;
	size_t first = 0;
	while (first < n && chip(f)[0xE0000 + first] == bl[first])
		first++;
	assert_true(first < n);
	assert_int_equal(stm32f4_verify(&f->t, 0x080E0000, bl, n, &diff, &f->err),
			 VR_ERR_OPERATION);
	assert_int_equal(diff, 0x080E0000 + first);
	fixture_free(f);
}

static void program_into_blank_words_of_used_sector(void **state)
{
	(void)state;
	/* --keep-config style: bytes elsewhere in the sector are kept and do
	 * not count as a conflict; only the words written must be blank */
	struct fixture *f = fixture_new();
	memset(f->rig.initial + 0x4000, 0x5A, 0x100);
	fixture_attach(f);
	uint8_t data[0x200];
	memset(data, 0xFF, 0x100);
	memset(data + 0x100, 0x33, 0x100);
	struct stm32f4_write_opts o = {false};
	assert_int_equal(stm32f4_program(&f->t, 0x08004000, data, sizeof data, &o, &f->err), VR_OK);
	assert_true(region_is(chip(f) + 0x4000, 0x100, 0x5A));
	assert_true(region_is(chip(f) + 0x4100, 0x100, 0x33));
	fixture_free(f);
}

static void program_rejects_bad_ranges(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	fixture_attach(f);
	uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct stm32f4_write_opts o = {false};
	assert_int_equal(stm32f4_program(&f->t, 0x08000002, data, 8, &o, &f->err), VR_ERR_INPUT);
	assert_int_equal(stm32f4_program(&f->t, 0x08000000, data, 6, &o, &f->err), VR_ERR_INPUT);
	assert_int_equal(stm32f4_program(&f->t, 0x080FFFFC, data, 8, &o, &f->err), VR_ERR_INPUT);
	assert_int_equal(stm32f4_program(&f->t, 0x20000000, data, 8, &o, &f->err), VR_ERR_INPUT);
	assert_true(region_is(chip(f), RIG_FLASH_SIZE, 0xFF));
	fixture_free(f);
}

static void verify_reports_first_difference(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	fixture_attach(f);
	uint8_t *want = malloc(SYNTH_FW6_SIZE);
	memcpy(want, f->rig.initial, SYNTH_FW6_SIZE);
	uint32_t diff = 1;
	assert_int_equal(stm32f4_verify(&f->t, 0x08000000, want, SYNTH_FW6_SIZE, &diff, &f->err),
			 VR_OK);
	assert_int_equal(diff, 0);
	/* two flipped bytes in different sectors: the earlier one is named */
	f4_model_flash(f->rig.model)[0x41235] ^= 0x10;
	f4_model_flash(f->rig.model)[0x62000] ^= 0x01;
	assert_int_equal(stm32f4_verify(&f->t, 0x08000000, want, SYNTH_FW6_SIZE, &diff, &f->err),
			 VR_ERR_OPERATION);
	assert_int_equal(diff, 0x08041235);
	assert_non_null(strstr(f->err.msg, "0x08041235"));
	/* the same without CRC on the target (readback only) */
	f->t.use_loader = false;
	assert_int_equal(stm32f4_verify(&f->t, 0x08000000, want, SYNTH_FW6_SIZE, &diff, &f->err),
			 VR_ERR_OPERATION);
	assert_int_equal(diff, 0x08041235);
	free(want);
	fixture_free(f);
}

static void crc_on_target_matches_host(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	fixture_attach(f);
	uint32_t crc = 0;
	uint64_t before = f->t.stats.bytes_from_target;
	assert_int_equal(stm32f4_crc(&f->t, 0x08000000, 0x20000, &crc, &f->err), VR_OK);
	assert_int_equal(crc, crc32_stm32(f->rig.initial, 0x20000));
	assert_true(f->t.crc_engine > 0);
	/* computed there: far fewer bytes came back than 128 KB */
	assert_true(f->t.stats.bytes_from_target - before < 1024);
	bool blank = false;
	assert_int_equal(stm32f4_blank_check(&f->t, 0x08080000, 0x20000, &blank, NULL, &f->err),
			 VR_OK);
	assert_true(blank);
	uint32_t first = 0;
	assert_int_equal(stm32f4_blank_check(&f->t, 0x08000000, 0x4000, &blank, &first, &f->err),
			 VR_OK);
	assert_false(blank);
	assert_int_equal(first, 0x08000000);
	fixture_free(f);
}

/* ---- protection ------------------------------------------------------------------ */
static void rdp1_regression_wipes(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	f->rig.model_cfg.optcr = 0x0FFF55EDu;   /* RDP level 1 */
	fixture_attach(f);
	struct stm32f4_options o;
	assert_int_equal(stm32f4_read_options(&f->t, &o, &f->err), VR_OK);
	assert_int_equal(o.rdp_level, 1);
	uint8_t word[4] = {0, 0, 0, 0};
	struct stm32f4_write_opts wo = {true};
	assert_int_equal(stm32f4_program(&f->t, 0x08000000, word, 4, &wo, &f->err),
			 VR_ERR_PROTECTED);
	assert_int_equal(stm32f4_mass_erase(&f->t, &f->err), VR_ERR_PROTECTED);
	uint8_t buf[16];
	assert_int_equal(stm32f4_read(&f->t, 0x08000000, buf, sizeof buf, &f->err),
			 VR_ERR_PROTECTED);
	assert_memory_equal(chip(f), f->rig.initial, RIG_FLASH_SIZE);
	assert_int_equal(stm32f4_rdp_regress(&f->t, &f->err), VR_OK);
	assert_true(region_is(chip(f), RIG_FLASH_SIZE, 0xFF));
	assert_int_equal((f4_model_optcr(f->rig.model) >> 8) & 0xFF, 0xAA);
	assert_int_equal((f4_model_optcr(f->rig.model) >> 16) & 0xFFF, 0xFFF);
	fixture_free(f);
}

static void wrp_blocks_then_clears(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	f->rig.model_cfg.optcr = 0x07FFAAEDu;   /* sector 11 write-protected */
	fixture_attach(f);
	assert_int_equal(stm32f4_erase_sectors(&f->t, 1u << 11, &f->err), VR_ERR_PROTECTED);
	assert_non_null(strstr(f->err.msg, "sector 11"));
	assert_int_equal(stm32f4_mass_erase(&f->t, &f->err), VR_ERR_PROTECTED);
	assert_memory_equal(chip(f), f->rig.initial, RIG_FLASH_SIZE);
	/* sectors without protection still erase */
	assert_int_equal(stm32f4_erase_sectors(&f->t, 1u << 10, &f->err), VR_OK);
	assert_int_equal(stm32f4_wrp_clear(&f->t, &f->err), VR_OK);
	assert_int_equal((f4_model_optcr(f->rig.model) >> 16) & 0xFFF, 0xFFF);
	assert_int_equal((f4_model_optcr(f->rig.model) >> 8) & 0xFF, 0xAA);  /* RDP kept */
	assert_memory_equal(chip(f) + 0xE0000, f->rig.initial + 0xE0000, 0x20000);
	fixture_free(f);
}

static void reset_run_starts_firmware(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	rig_healthy_flash(f->rig.initial);
	fixture_attach(f);
	assert_true(f4_core_halted(f->rig.model));
	assert_int_equal(stm32f4_reset_halt(&f->t, &f->err), VR_OK);
	assert_true(f4_core_halted(f->rig.model));
	assert_int_equal(stm32f4_reset_run(&f->t, &f->err), VR_OK);
	f4_advance_us(f->rig.model, 1000);
	assert_false(f4_core_halted(f->rig.model));
	assert_true(f4_app_running(f->rig.model));
	fixture_free(f);
}


/* ---- a target whose core runs nothing of ours -------------------------- */
/* Forwards to the bench's probe but refuses core register writes, as a
 * probe or simulator without a usable CPU would: the layer must fall back
 * to direct programming and readback verify, with the same end state. */
static struct swd_probe *inner_probe;

static vr_err fwd_read_word(void *ctx, uint32_t a, uint32_t *v, struct vr_error *e)
{
	return inner_probe->ops->read_word(inner_probe->ctx, a, v, e);
}
static vr_err fwd_write_word(void *ctx, uint32_t a, uint32_t v, struct vr_error *e)
{
	return inner_probe->ops->write_word(inner_probe->ctx, a, v, e);
}
static vr_err fwd_read_mem(void *ctx, uint32_t a, void *b, size_t n, struct vr_error *e)
{
	return inner_probe->ops->read_mem(inner_probe->ctx, a, b, n, e);
}
static vr_err fwd_write_mem(void *ctx, uint32_t a, const void *b, size_t n, struct vr_error *e)
{
	return inner_probe->ops->write_mem(inner_probe->ctx, a, b, n, e);
}
static vr_err fwd_read_dpidr(void *ctx, uint32_t *v, struct vr_error *e)
{
	return inner_probe->ops->read_dpidr(inner_probe->ctx, v, e);
}
static vr_err no_core_write(void *ctx, unsigned reg, uint32_t v, struct vr_error *e)
{
	return vr_fail(e, VR_ERR_FAULT, "core registers not available");
}
static vr_err fwd_read_core(void *ctx, unsigned reg, uint32_t *v, struct vr_error *e)
{
	return inner_probe->ops->read_core_reg(inner_probe->ctx, reg, v, e);
}

static void no_cpu_falls_back_to_direct(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	fixture_attach(f);
	inner_probe = &f->rig.probe;
	static const struct swd_probe_ops ops = {
		.read_dpidr = fwd_read_dpidr,
		.read_mem = fwd_read_mem,
		.write_mem = fwd_write_mem,
		.read_word = fwd_read_word,
		.write_word = fwd_write_word,
		.read_core_reg = fwd_read_core,
		.write_core_reg = no_core_write,
	};
	struct swd_probe wrapped = {&ops, NULL, f->rig.probe.info};
	struct stm32f4 t;
	stm32f4_init(&t, &wrapped, &f->rig.target_clock);
	assert_int_equal(stm32f4_identify(&t, &f->err), VR_OK);
	uint8_t bl[8192];
	size_t n = synth_bootloader(bl, sizeof bl, BL_KIND_GENERIC);
	struct stm32f4_write_opts o = {false};
	assert_int_equal(stm32f4_program(&t, 0x080E0000, bl, n, &o, &f->err), VR_OK);
	assert_int_equal(t.crc_engine, 0);
	assert_int_equal(t.stats.loader_runs, 0);
	assert_memory_equal(chip(f) + 0xE0000, bl, n);
	assert_true(region_is(chip(f) + 0xE0000 + n, 0x20000 - n, 0xFF));
	assert_int_equal(model_stats(f).words_programmed, nonblank_words(bl, n));
	uint32_t diff = 0;
	assert_int_equal(stm32f4_verify(&t, 0x080E0000, bl, n, &diff, &f->err), VR_OK);
	f4_model_flash(f->rig.model)[0xE0010] ^= 0x80;
	assert_int_equal(stm32f4_verify(&t, 0x080E0000, bl, n, &diff, &f->err), VR_ERR_OPERATION);
	assert_int_equal(diff, 0x080E0010);
	fixture_free(f);
}

static void cancel_when_programming(void *ctx, const struct stm32f4_progress *p)
{
	struct cancel_after *c = ctx;
	if (strcmp(p->what, "programming") == 0)
		c->flag = 1;
}

static void program_cancel_between_blocks(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	fixture_attach(f);
	uint8_t *fw = malloc(SYNTH_FW6_SIZE);
	size_t n = synth_firmware(fw, SYNTH_FW6_SIZE, 6, 5, 3);
	/* Ctrl-C while the first block is being programmed */
	struct cancel_after c = {0, 0};
	f->t.progress = cancel_when_programming;
	f->t.progress_ctx = &c;
	f->t.cancel = &c.flag;
	struct stm32f4_write_opts o = {false};
	assert_int_equal(stm32f4_program(&f->t, 0x08000000, fw, n, &o, &f->err),
			 VR_ERR_INTERRUPTED);
	/* the block that was running finished; nothing after it was started */
	uint64_t words = model_stats(f).words_programmed;
	assert_true(words > 0 && words < nonblank_words(fw, n));
	/* exactly one loader block (48 KB of image) went in, all of it */
	assert_int_equal(words, nonblank_words(fw, FL_BUF_SIZE));
	assert_memory_equal(chip(f), fw, FL_BUF_SIZE);
	assert_true(region_is(chip(f) + FL_BUF_SIZE, RIG_FLASH_SIZE - FL_BUF_SIZE, 0xFF));
	assert_non_null(strstr(f->err.msg, "interrupted"));
	free(fw);
	fixture_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(part_table),
		cmocka_unit_test(sector_map),
		cmocka_unit_test(optcr_decoding),
		cmocka_unit_test(identify_f405),
		cmocka_unit_test(identify_refuses_f446),
		cmocka_unit_test(sector_erase_exact),
		cmocka_unit_test(mass_erase_x32),
		cmocka_unit_test(erase_cancel_between_sectors),
		cmocka_unit_test(program_with_loader),
		cmocka_unit_test(program_direct),
		cmocka_unit_test(program_refuses_non_blank),
		cmocka_unit_test(program_into_blank_words_of_used_sector),
		cmocka_unit_test(program_rejects_bad_ranges),
		cmocka_unit_test(verify_reports_first_difference),
		cmocka_unit_test(crc_on_target_matches_host),
		cmocka_unit_test(rdp1_regression_wipes),
		cmocka_unit_test(wrp_blocks_then_clears),
		cmocka_unit_test(reset_run_starts_firmware),
		cmocka_unit_test(no_cpu_falls_back_to_direct),
		cmocka_unit_test(program_cancel_between_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
