/* In-process bench rig for the target-layer tests and the flash benchmark:
 * STM32F405 model -> simulated ST-Link -> usb_transport -> our ST-Link
 * driver -> swd_probe -> stm32f4. Time is the bench's modeled clock:
 * sleeping lets the model run (stlink_sim_pass_time), so waits cost no
 * USB transfers and no real time.
 *
 * Header-only (static inline) so that each test program can include it;
 * the Makefile builds only tests/test_*.c and tests/bench_*.c. */
#ifndef VR_TESTS_TARGET_RIG_H
#define VR_TESTS_TARGET_RIG_H

#include <stdlib.h>
#include <string.h>

#include "bench/f4_model.h"
#include "bench/stlink_sim.h"
#include "bench/synth.h"
#include "bench/timing.h"
#include "stlink.h"
#include "stm32f4.h"

#define RIG_FLASH_SIZE (1024u * 1024u)

struct rig {
	struct bench_clock clock;
	struct f4_model_config model_cfg;
	struct stlink_sim_config sim_cfg;
	struct f4_model *model;
	struct stlink_sim *sim;
	struct swd_probe probe;
	bool probe_open;
	struct stm32f4_clock target_clock;
	uint8_t *initial;         /* 1 MB the chip starts with */
};

static inline uint64_t rig_now_us(void *ctx)
{
	struct rig *r = ctx;
	return r->clock.now_us;
}

static inline void rig_sleep_us(void *ctx, uint64_t us)
{
	struct rig *r = ctx;
	stlink_sim_pass_time(r->sim, us);
}

/* Defaults: a powered, wired, blank F405 behind a V2. Change model_cfg,
 * sim_cfg or initial between rig_init and rig_open. */
static inline void rig_init(struct rig *r)
{
	memset(r, 0, sizeof *r);
	f4_model_config_defaults(&r->model_cfg);
	stlink_sim_config_defaults(&r->sim_cfg, STLINK_SIM_PID_V2);
	r->initial = malloc(RIG_FLASH_SIZE);
	memset(r->initial, 0xFF, RIG_FLASH_SIZE);
	r->target_clock.now_us = rig_now_us;
	r->target_clock.sleep_us = rig_sleep_us;
	r->target_clock.ctx = r;
}

static inline vr_err rig_open(struct rig *r, struct vr_error *err)
{
	r->model_cfg.clock = &r->clock;
	r->model_cfg.flash_image = r->initial;
	r->clock.time_scale = 0;
	r->model = f4_model_new(&r->model_cfg, err);
	if (!r->model)
		return err->code ? err->code : VR_ERR_INTERNAL;
	r->sim = stlink_sim_new(&r->sim_cfg, r->model, &r->clock, &r->model_cfg.timing, err);
	if (!r->sim)
		return err->code ? err->code : VR_ERR_INTERNAL;
	struct usb_transport tr;
	stlink_sim_transport(r->sim, &tr);
	vr_err rc = stlink_open(&tr, &r->probe, err);
	r->probe_open = rc == VR_OK;
	return rc;
}

static inline void rig_close(struct rig *r)
{
	if (r->probe_open && r->probe.ops->close)
		r->probe.ops->close(r->probe.ctx);
	stlink_sim_free(r->sim);
	f4_model_free(r->model);
	free(r->initial);
	memset(r, 0, sizeof *r);
}

/* A 6.x firmware that booted once (crcinfo stored) and a generic
 * bootloader, as a healthy VESC holds them. */
static inline void rig_healthy_flash(uint8_t *flash)
{
	size_t n = synth_firmware(flash, SYNTH_FW6_SIZE, 6, 5, 1);
	synth_mark_booted(flash, n, 6);
	synth_bootloader(flash + 0xE0000, 0x20000, BL_KIND_GENERIC);
}

#endif
