/* An SWD probe, whatever carries it: an ST-Link (src/stlink.c, over a
 * usb_transport, which may be the simulated bench), or one day a working VESC
 * acting as programmer (COMM_BM_*). The STM32F4 layer (src/stm32f4.c) only
 * talks to this.
 *
 * All memory operations address the target's AHB-AP (AP 0). Lengths for
 * read_mem/write_mem are multiples of 4 at 4-aligned addresses and may be of
 * any size: the driver splits them to what the probe can carry. */
#ifndef VR_SWD_PROBE_H
#define VR_SWD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

struct swd_probe_info {
	char name[32];       /* "ST-LINK/V2", "ST-LINK/V3", "VESC (BM)" */
	char version[32];    /* "V2J37S7" */
	char serial[64];
	uint16_t vid, pid;
	bool can_drive_nrst;
	bool can_set_clock;
	bool senses_voltage;  /* false: voltage reads mean nothing */
	unsigned max_block;   /* largest single memory transfer, bytes */
};

/* Core register numbers as in the ST-Link READREG command: 0..15 r0..r15,
 * 16 xPSR, 17 MSP, 18 PSP. */
enum { SWD_REG_SP = 13, SWD_REG_LR = 14, SWD_REG_PC = 15, SWD_REG_XPSR = 16, SWD_REG_MSP = 17 };

struct swd_probe_ops {
	vr_err (*target_voltage)(void *ctx, double *volts, struct vr_error *err);
	vr_err (*set_clock)(void *ctx, unsigned khz, unsigned *actual_khz, struct vr_error *err);
	vr_err (*drive_nrst)(void *ctx, bool assert_low, struct vr_error *err);
	vr_err (*enter_swd)(void *ctx, struct vr_error *err);
	vr_err (*leave_swd)(void *ctx, struct vr_error *err);
	vr_err (*read_dpidr)(void *ctx, uint32_t *dpidr, struct vr_error *err);
	vr_err (*read_mem)(void *ctx, uint32_t addr, void *buf, size_t len, struct vr_error *err);
	vr_err (*write_mem)(void *ctx, uint32_t addr, const void *buf, size_t len, struct vr_error *err);
	vr_err (*read_word)(void *ctx, uint32_t addr, uint32_t *val, struct vr_error *err);
	vr_err (*write_word)(void *ctx, uint32_t addr, uint32_t val, struct vr_error *err);
	vr_err (*read_core_reg)(void *ctx, unsigned reg, uint32_t *val, struct vr_error *err);
	vr_err (*write_core_reg)(void *ctx, unsigned reg, uint32_t val, struct vr_error *err);
	/* The probe's own reset command (ST-Link RESETSYS); NULL if none. */
	vr_err (*system_reset)(void *ctx, struct vr_error *err);
	void (*close)(void *ctx);
};

struct swd_probe {
	const struct swd_probe_ops *ops;
	void *ctx;
	struct swd_probe_info info;
};

#endif
