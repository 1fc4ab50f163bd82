/* Flash benchmark on the in-process bench (model + simulated ST-Link/V2 +
 * our driver + the target layer): modeled seconds, USB transfers and the
 * ratio to the datasheet floor (reference bench-timing.md) for each step
 * of a recovery and for the whole canonical and keep-config recoveries.
 * Prints figures; passes or fails nothing. The same jobs run by st-flash
 * and OpenOCD through the libusb facade are measured elsewhere
 * (tests/bench/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probes/swd_probe.h"
#include "stm32f4.h"
#include "target_rig.h"

#define FW_ADDR 0x08000000u
#define BL_ADDR 0x080E0000u
#define CONFIG_START 0x4000u
#define CONFIG_END 0xC000u

struct images {
	uint8_t *fw;
	size_t fw_len;
	uint8_t bl[8192];
	size_t bl_len;
};

struct mark {
	uint64_t us, usb;
};

struct floor {
	double erase_s;
	uint64_t words;       /* program steps */
	uint64_t usb_bytes;   /* one pass over USB */
};

static struct mark mark_now(const struct rig *r)
{
	struct mark m = {r->clock.now_us, r->clock.usb_transfers};
	return m;
}

static size_t count_words(const uint8_t *p, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i + 4 <= len; i += 4)
		n += !(p[i] == 0xFF && p[i + 1] == 0xFF && p[i + 2] == 0xFF && p[i + 3] == 0xFF);
	return n;
}

static double floor_seconds(const struct floor *f)
{
	return f->erase_s + f->words * 16e-6 + f->usb_bytes / 1e6;
}

static void print_row(const char *what, const struct rig *r, struct mark from,
		      const struct floor *fl)
{
	double s = (r->clock.now_us - from.us) / 1e6;
	unsigned long long usb = (unsigned long long)(r->clock.usb_transfers - from.usb);
	if (fl) {
		double f = floor_seconds(fl);
		printf("  %-34s %8.3f s %7llu USB   floor %7.3f s   x%.3f\n", what, s, usb, f, s / f);
	} else {
		printf("  %-34s %8.3f s %7llu USB\n", what, s, usb);
	}
}

static int fail(const char *what, const struct vr_error *err)
{
	printf("  %s failed: %s\n", what, err->msg);
	return 1;
}

/* Attached and surveyed (the survey's reads are the backup's bytes). */
static int open_chip(struct rig *r, struct stm32f4 *t, bool corrupt, struct vr_error *err)
{
	rig_init(r);
	rig_healthy_flash(r->initial);
	if (corrupt)
		r->initial[0x31000] ^= 0x5A;
	if (rig_open(r, err) != VR_OK)
		return fail("opening the bench", err);
	struct swd_attach_opts opts;
	swd_attach_opts_defaults(&opts);
	opts.clock = &r->target_clock;
	struct swd_obs obs;
	memset(&obs, 0, sizeof obs);
	if (swd_attach(&r->probe, &opts, t, &obs, err) != VR_OK)
		return fail("attach", err);
	return 0;
}

static int survey_backup(struct rig *r, struct stm32f4 *t, struct vr_error *err, uint64_t *backup_bytes)
{
	static struct swd_obs obs;
	uint8_t *copy = malloc(RIG_FLASH_SIZE);
	bool read[F4_SECTORS];
	struct mark m = mark_now(r);
	vr_err rc = swd_survey(t, copy, read, &obs, err);
	size_t bytes = 0;
	for (unsigned s = 0; s < F4_SECTORS; s++)
		bytes += read[s] ? stm32f4_sector_size(s) : 0;
	free(copy);
	if (rc != VR_OK)
		return fail("survey", err);
	struct floor fl = {0, 0, bytes};
	print_row("survey + backup read", r, m, &fl);
	*backup_bytes = bytes;
	return 0;
}

static int program(struct rig *r, struct stm32f4 *t, uint32_t addr, const uint8_t *data,
		   size_t len, const char *what, struct vr_error *err)
{
	struct stm32f4_write_opts o = {false};
	struct mark m = mark_now(r);
	if (stm32f4_program(t, addr, data, len, &o, err) != VR_OK)
		return fail(what, err);
	struct floor fl = {0, count_words(data, len), count_words(data, len) * 4u};
	print_row(what, r, m, &fl);
	return 0;
}

static int verify(struct rig *r, struct stm32f4 *t, uint32_t addr, const uint8_t *data,
		  size_t len, const char *what, struct vr_error *err)
{
	uint32_t diff = 0;
	struct mark m = mark_now(r);
	if (stm32f4_verify(t, addr, data, len, &diff, err) != VR_OK)
		return fail(what, err);
	print_row(what, r, m, NULL);
	return 0;
}

static int canonical(const struct images *im, bool use_loader)
{
	struct rig r;
	struct stm32f4 t;
	struct vr_error err = {0};
	printf("canonical recovery (%s): corrupt 524,280-byte firmware + 5,280-byte bootloader\n",
	       use_loader ? "our loader" : "direct writes");
	int bad = open_chip(&r, &t, true, &err);
	t.use_loader = use_loader;
	struct mark start = mark_now(&r);
	uint64_t backup_bytes = 0;
	bad = bad || survey_backup(&r, &t, &err, &backup_bytes);
	struct mark m = mark_now(&r);
	if (!bad && stm32f4_mass_erase(&t, &err) != VR_OK)
		bad = fail("mass erase", &err);
	struct floor fl_me = {8.0, 0, 0};
	if (!bad)
		print_row("mass erase (x32)", &r, m, &fl_me);
	bad = bad || program(&r, &t, BL_ADDR, im->bl, im->bl_len, "bootloader 5,280 B", &err);
	bad = bad || program(&r, &t, FW_ADDR, im->fw, im->fw_len, "firmware 524,280 B", &err);
	bad = bad || verify(&r, &t, BL_ADDR, im->bl, im->bl_len, "verify bootloader", &err);
	bad = bad || verify(&r, &t, FW_ADDR, im->fw, im->fw_len, "verify firmware", &err);
	if (!bad && stm32f4_reset_run(&t, &err) != VR_OK)
		bad = fail("reset and run", &err);
	uint64_t words = count_words(im->fw, im->fw_len) + count_words(im->bl, im->bl_len);
	/* bench-timing.md: the flash's own time plus one pass of the bytes
	 * over USB, and the job includes reading the backup. */
	struct floor whole = {8.0, words, words * 4u + backup_bytes};
	if (!bad) {
		print_row("WHOLE canonical recovery", &r, start, &whole);
		printf("  (floor = mass erase 8 s + %llu program steps x 16 us + (%llu written + %llu backup) "
		       "bytes at 1 MB/s; probe calls %llu, loader runs %u)\n", (unsigned long long)words,
		       (unsigned long long)words * 4u, (unsigned long long)backup_bytes,
		       (unsigned long long)t.stats.probe_calls, t.stats.loader_runs);
	}
	rig_close(&r);
	return bad;
}

static int keep_config(const struct images *im)
{
	struct rig r;
	struct stm32f4 t;
	struct vr_error err = {0};
	printf("keep-config recovery: sectors 0, 3-7 and 11 erased, config window kept\n");
	int bad = open_chip(&r, &t, true, &err);
	struct mark start = mark_now(&r);
	uint64_t backup_bytes = 0;
	bad = bad || survey_backup(&r, &t, &err, &backup_bytes);
	uint16_t mask = (1u << 0) | (0x1Fu << 3) | (1u << 11);
	struct mark m = mark_now(&r);
	if (!bad && stm32f4_erase_sectors(&t, mask, &err) != VR_OK)
		bad = fail("sector erase", &err);
	double erase_s = 2 * 0.25 + 0.55 + 4 * 1.0;
	struct floor fl_e = {erase_s, 0, 0};
	if (!bad)
		print_row("erase 0,3-7,11 (x32)", &r, m, &fl_e);
	bad = bad || program(&r, &t, BL_ADDR, im->bl, im->bl_len, "bootloader", &err);
	bad = bad || program(&r, &t, FW_ADDR, im->fw, CONFIG_START, "firmware below config", &err);
	bad = bad || program(&r, &t, FW_ADDR + CONFIG_END, im->fw + CONFIG_END,
			     im->fw_len - CONFIG_END, "firmware above config", &err);
	bad = bad || verify(&r, &t, FW_ADDR, im->fw, CONFIG_START, "verify below config", &err);
	bad = bad || verify(&r, &t, FW_ADDR + CONFIG_END, im->fw + CONFIG_END,
			    im->fw_len - CONFIG_END, "verify above config", &err);
	bad = bad || verify(&r, &t, BL_ADDR, im->bl, im->bl_len, "verify bootloader", &err);
	uint64_t words = count_words(im->fw, CONFIG_START) +
			 count_words(im->fw + CONFIG_END, im->fw_len - CONFIG_END) +
			 count_words(im->bl, im->bl_len);
	struct floor whole = {erase_s, words, words * 4u + backup_bytes};
	if (!bad) {
		print_row("WHOLE keep-config recovery", &r, start, &whole);
		const uint8_t *chip_now = f4_model_flash(r.model);
		printf("  config window kept byte for byte: %s\n",
		       memcmp(chip_now + CONFIG_START, r.initial + CONFIG_START,
			      CONFIG_END - CONFIG_START) == 0 ? "yes" : "NO");
	}
	rig_close(&r);
	return bad;
}

int main(void)
{
	struct images im;
	im.fw = malloc(SYNTH_FW6_SIZE);
	im.fw_len = synth_firmware(im.fw, SYNTH_FW6_SIZE, 6, 5, 11);
	im.bl_len = synth_bootloader(im.bl, sizeof im.bl, BL_KIND_GENERIC);
	printf("in-process bench: ST-LINK/V2 model, 1 ms per USB round trip, 1 MB/s bulk; "
	       "x32 datasheet typical times\n");
	printf("firmware: %zu bytes, %zu words to program (0xFF words skipped); bootloader %zu "
	       "bytes\n\n", im.fw_len, count_words(im.fw, im.fw_len), im.bl_len);
	int bad = canonical(&im, true);
	printf("\n");
	bad |= keep_config(&im);
	printf("\n");
	bad |= canonical(&im, false);
	free(im.fw);
	return bad;
}
