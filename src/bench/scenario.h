/* Scenarios of the simulated bench (CONTRACTS.md §2 "--sim"): what the
 * chip holds, how the target is powered and wired, how the probe behaves,
 * and how the VESC's serial link behaves. Parsed from "name,k=v,...". */
#ifndef VR_BENCH_SCENARIO_H
#define VR_BENCH_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"

enum bench_flash_recipe {
	FLASH_HEALTHY = 0,     /* firmware (booted, crcinfo stored) + bootloader */
	FLASH_NO_BOOTLOADER,   /* firmware, sector 11 blank */
	FLASH_CORRUPT_APP,     /* firmware with damaged bytes + bootloader: CRC check fails */
	FLASH_BLANK,           /* all 0xFF */
};

enum bench_probe_mode {
	PROBE_OK = 0,
	PROBE_ABSENT,          /* no ST-Link on the bus */
	PROBE_DFU,             /* ST-Link sits in its DFU mode */
	PROBE_BUSY,            /* another program has claimed it */
	PROBE_NO_ACCESS,       /* no udev rule: LIBUSB_ERROR_ACCESS */
};

enum vesc_link_mode {
	VESC_LINK_NORMAL = 0,
	VESC_LINK_UART_WRONG_BAUD,  /* only a UART at the wrong rate; CDC does not enumerate */
	VESC_LINK_USB_NOISE,        /* line noise around every reply */
	VESC_LINK_DISCONNECT,       /* half of the first reply, then the port vanishes */
};

struct bench_scenario {
	char name[32];
	const char *summary;               /* one line for --sim list */
	enum bench_flash_recipe flash;
	int fw_major, fw_minor;            /* what the firmware reports; 6.05 default */
	char hw_name[32];                  /* "60" default */
	/* target */
	double vdd;                        /* 3.3; 0 unpowered */
	bool swd_wired, nrst_wired, app_locks_swd;
	uint32_t optcr;                    /* RDP and nWRP */
	/* probe */
	enum bench_probe_mode probe;
	uint16_t probe_pid;                /* 0x3748 */
	bool probe_is_clone;               /* voltage reads its own 3.2 V */
	/* link */
	enum vesc_link_mode link;
	unsigned uart_baud;                /* the rate the VESC's UART really uses */
	/* parameters */
	long usb_timeout_at;               /* ST-Link transfer N times out (-1 never) */
	long usb_gone_at;                  /* probe unplugged at transfer N (-1 never) */
	long usb_timeout_every;            /* every K-th ST-Link transfer times out (0 never) */
	double time_scale;                 /* 0 no sleeping */
	char state_file[256];              /* load/save the chip between runs */
};

/* "corrupt-app,fw=6.05,time-scale=0.1". Unknown names and keys are
 * VR_ERR_USAGE with a message listing what exists. */
vr_err bench_scenario_parse(const char *spec, struct bench_scenario *out, struct vr_error *err);
size_t bench_scenario_count(void);
const struct bench_scenario *bench_scenario_at(size_t i);

#endif
