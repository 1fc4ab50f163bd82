/* Builds the simulated chip and probe for one scenario, and keeps the chip
 * in a state file between processes so st-flash can write and a later
 * st-flash read sees it. */
#include "bench/facade/facade_chip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/f4_model.h"
#include "bench/stlink_sim.h"
#include "bench/synth.h"

#define SECTOR11_OFFSET 0xE0000u
#define APP_REGION 0x80000u
/* Where the corrupt-app scenario damages the application (inside sector 5,
 * far from the vector table, so only the CRC check notices). */
#define CORRUPT_OFFSET 0x24000u
#define CORRUPT_LEN 64u
#define FIRMWARE_SEED 0x56455343u  /* "VESC" */

static enum bl_kind bootloader_kind(const struct bench_scenario *sc)
{
	if (strcmp(sc->hw_name, "60") == 0 || strncmp(sc->hw_name, "60_", 3) == 0)
		return BL_KIND_HW60;
	if (strcmp(sc->hw_name, "40") == 0)
		return BL_KIND_HW40;
	return BL_KIND_GENERIC;
}

static void put_firmware(uint8_t *flash, const struct bench_scenario *sc)
{
	int major = sc->fw_major > 0 ? sc->fw_major : 6;
	size_t size;
	size = synth_firmware(flash, APP_REGION, major, sc->fw_minor, FIRMWARE_SEED);
	if (size > 0)
		synth_mark_booted(flash, APP_REGION, major >= 6 ? 6 : 5);
}

static void put_bootloader(uint8_t *flash, const struct bench_scenario *sc)
{
	synth_bootloader(flash + SECTOR11_OFFSET, F4_FLASH_SIZE - SECTOR11_OFFSET,
			 bootloader_kind(sc));
}

/* The flash a scenario starts with (before any state file). */
static uint8_t *scenario_flash(const struct bench_scenario *sc)
{
	uint8_t *flash = malloc(F4_FLASH_SIZE);
	if (!flash)
		return NULL;
	memset(flash, 0xFF, F4_FLASH_SIZE);
	switch (sc->flash) {
	case FLASH_HEALTHY:
		put_firmware(flash, sc);
		put_bootloader(flash, sc);
		break;
	case FLASH_NO_BOOTLOADER:
		put_firmware(flash, sc);
		break;
	case FLASH_CORRUPT_APP:
		put_firmware(flash, sc);
		put_bootloader(flash, sc);
		for (size_t i = 0; i < CORRUPT_LEN; i++)
			flash[CORRUPT_OFFSET + i] ^= 0x5A;
		break;
	case FLASH_BLANK:
	default:
		break;
	}
	return flash;
}

static void probe_config(const struct bench_scenario *sc, struct stlink_sim_config *cfg)
{
	stlink_sim_config_defaults(cfg, sc->probe_pid ? sc->probe_pid : STLINK_SIM_PID_V2);
	cfg->is_clone = sc->probe_is_clone;
	cfg->start_in_dfu = sc->probe == PROBE_DFU;
	cfg->timeout_at = sc->usb_timeout_at;
	cfg->gone_at = sc->usb_gone_at;
	cfg->timeout_every = sc->usb_timeout_every;
}

static vr_err build_model(struct facade_chip *chip, struct vr_error *err)
{
	const struct bench_scenario *sc = &chip->scenario;
	struct f4_model_config cfg;
	uint8_t *flash = scenario_flash(sc);
	if (!flash)
		return vr_fail(err, VR_ERR_NOMEM, "out of memory building the simulated chip");
	f4_model_config_defaults(&cfg);
	cfg.vdd = sc->vdd;
	cfg.swd_wired = sc->swd_wired;
	cfg.nrst_wired = sc->nrst_wired;
	cfg.app_locks_swd = sc->app_locks_swd;
	cfg.optcr = sc->optcr;
	cfg.flash_image = flash;
	cfg.clock = &chip->clock;
	cfg.timing = chip->timing;
	chip->model = f4_model_new(&cfg, err);
	free(flash);
	return chip->model ? VR_OK : err->code;
}

vr_err facade_chip_open(struct facade_chip *chip, const struct bench_scenario *sc,
			const char *state_path, struct vr_error *err)
{
	struct stlink_sim_config pcfg;
	vr_err rc;

	memset(chip, 0, sizeof(*chip));
	chip->scenario = *sc;
	bench_timing_defaults(&chip->timing);
	/* The facade drives modeled time from the host's real time itself, so
	 * the clock never sleeps on its own. */
	chip->timing.time_scale = 0;
	chip->clock.time_scale = 0;
	if (state_path && *state_path)
		snprintf(chip->state_path, sizeof(chip->state_path), "%s", state_path);
	else
		snprintf(chip->state_path, sizeof(chip->state_path), "%s", sc->state_file);

	rc = build_model(chip, err);
	if (rc != VR_OK)
		return rc;
	if (chip->state_path[0] && access(chip->state_path, F_OK) == 0) {
		rc = f4_model_load(chip->model, chip->state_path, err);
		if (rc != VR_OK) {
			facade_chip_close(chip);
			return vr_wrap(err, "loading the bench state %s", chip->state_path);
		}
	}
	probe_config(sc, &pcfg);
	chip->probe = stlink_sim_new(&pcfg, chip->model, &chip->clock, &chip->timing, err);
	if (!chip->probe) {
		facade_chip_close(chip);
		return err->code;
	}
	chip->saved_flash_ops = facade_chip_flash_ops(chip);
	return VR_OK;
}

uint64_t facade_chip_flash_ops(const struct facade_chip *chip)
{
	struct f4_stats st;
	if (!chip->model)
		return 0;
	f4_model_stats(chip->model, &st);
	return st.words_programmed + st.bytes_programmed + st.sector_erases + st.mass_erases +
	       st.option_writes;
}

vr_err facade_chip_save(struct facade_chip *chip, bool force, struct vr_error *err)
{
	char tmp[sizeof(chip->state_path) + 16];
	uint64_t ops = facade_chip_flash_ops(chip);
	vr_err rc;
	if (!chip->model || !chip->state_path[0])
		return VR_OK;
	if (!force && ops == chip->saved_flash_ops)
		return VR_OK;
	snprintf(tmp, sizeof(tmp), "%s.tmp%ld", chip->state_path, (long)getpid());
	rc = f4_model_save(chip->model, tmp, err);
	if (rc != VR_OK) {
		unlink(tmp);
		return rc;
	}
	if (rename(tmp, chip->state_path) != 0) {
		unlink(tmp);
		return vr_fail(err, VR_ERR_IO, "cannot replace the bench state %s", chip->state_path);
	}
	chip->saved_flash_ops = ops;
	return VR_OK;
}

vr_err facade_chip_write_stats(const struct facade_chip *chip, const char *path,
			       struct vr_error *err)
{
	struct f4_stats st;
	FILE *f;
	if (!chip->model)
		return VR_OK;
	f4_model_stats(chip->model, &st);
	f = fopen(path, "a");
	if (!f)
		return vr_fail(err, VR_ERR_IO, "cannot append the bench counters to %s", path);
	fprintf(f, "cpu_instructions %llu\nwords_programmed %llu\nbytes_programmed %llu\n"
		"sector_erases %u\nmass_erases %u\noption_writes %u\nusb_transfers %llu\n"
		"modeled_us %llu\n",
		(unsigned long long)st.cpu_instructions, (unsigned long long)st.words_programmed,
		(unsigned long long)st.bytes_programmed, st.sector_erases, st.mass_erases,
		st.option_writes, (unsigned long long)chip->clock.usb_transfers,
		(unsigned long long)chip->clock.now_us);
	if (fclose(f) != 0)
		return vr_fail(err, VR_ERR_IO, "cannot write the bench counters to %s", path);
	return VR_OK;
}

void facade_chip_close(struct facade_chip *chip)
{
	struct vr_error err;
	if (chip->model)
		facade_chip_save(chip, true, &err);
	stlink_sim_free(chip->probe);
	f4_model_free(chip->model);
	chip->probe = NULL;
	chip->model = NULL;
}
