/* The STM32F4 target layer over an SWD probe (src/swd_probe.h): identify,
 * halt, reset, option bytes, and the flash operations of a recovery (erase,
 * program with erase disabled, verify, RDP regression, WRP clearing).
 * Facts: ../shared/reference/stlink-swd-stm32f4.md §3-§6; decisions:
 * ../shared/CONTRACTS.md §5.
 *
 * Only the F40x/F41x (DEV_ID 0x413, a VESC's STM32F405) is supported; other
 * parts are named and refused. Erases run at PSIZE x32 (a VESC's 3.3 V rail),
 * programming goes through our own loader in SRAM (src/flashloader.h). */
#ifndef VR_STM32F4_H
#define VR_STM32F4_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "swd_probe.h"

/* ---- constants (RM0090; register maps stay private to stm32f4.c) ------- */
#define STM32F4_FLASH_BASE 0x08000000u
#define STM32F4_SECTORS 12
#define STM32F4_DPIDR 0x2BA01477u  /* SW-DP of the F4 (reference §4) */

/* ---- target descriptions ---------------------------------------------- */
struct stm32f4_desc {
	uint16_t dev_id;
	const char *name;          /* "STM32F40x/F41x" */
	const char *example;       /* "STM32F405" for messages */
	bool supported;            /* only 0x413 */
	unsigned flash_kb;         /* the largest part of the line */
};

/* NULL when the DEV_ID is not in the table. 0x411 is not mapped here:
 * stm32f4_effective_dev_id applies the rev-A rule. */
const struct stm32f4_desc *stm32f4_desc_find(uint16_t dev_id);
/* 0x411 on a Cortex-M4 reads as 0x413 (F4 rev A errata, reference §3.1). */
uint16_t stm32f4_effective_dev_id(uint16_t dev_id, uint32_t cpuid);

/* F405 sector map (reference §5.2). */
uint32_t stm32f4_sector_address(unsigned sector);
uint32_t stm32f4_sector_size(unsigned sector);
/* Sector holding addr, or -1 outside the 1 MB flash. */
int stm32f4_sector_of(uint32_t addr);
/* Typical and maximum x32 erase times (DS8626, reference §5.4), microseconds. */
uint64_t stm32f4_sector_erase_typ_us(unsigned sector);
#define STM32F4_MASS_ERASE_TYP_US 8000000u
#define STM32F4_MASS_ERASE_MAX_US 16000000u

/* ---- time ------------------------------------------------------------- */
/* Where time comes from: the host's monotonic clock on real hardware, the
 * bench's modeled clock in simulation (sleeping then lets the model run).
 * NULL ops in stm32f4_init mean real time. */
struct stm32f4_clock {
	uint64_t (*now_us)(void *ctx);
	void (*sleep_us)(void *ctx, uint64_t us);
	void *ctx;
};

/* ---- progress and cancel ---------------------------------------------- */
struct stm32f4_progress {
	const char *what;          /* "mass erase", "erasing sector 3", "programming" */
	uint64_t elapsed_us;       /* of this step */
	uint64_t typical_us, max_us;  /* 0 when not a timed flash step */
	uint64_t done, total;      /* bytes, for programming/verify/reading */
};
typedef void (*stm32f4_progress_fn)(void *ctx, const struct stm32f4_progress *p);

/* ---- identity and options --------------------------------------------- */
struct stm32f4_ids {
	uint32_t dpidr, cpuid, idcode;
	uint16_t dev_id, rev_id;   /* dev_id after the 0x411 -> 0x413 rule */
	unsigned flash_kb;
	uint8_t uid[12];
	const struct stm32f4_desc *desc;
};

struct stm32f4_options {
	uint32_t optcr;
	uint8_t rdp_byte;          /* 0xAA level 0, 0xCC level 2, else level 1 */
	int rdp_level;
	uint16_t nwrp;             /* bit i = 0: sector i write protected */
};

/* ---- statistics ------------------------------------------------------- */
struct stm32f4_stats {
	uint64_t probe_calls;      /* swd_probe operations issued */
	uint64_t bytes_to_target;  /* memory writes (SRAM buffers, direct flash) */
	uint64_t bytes_from_target;
	uint64_t bytes_programmed; /* image bytes in words that were not 0xFF */
	uint64_t bytes_skipped;    /* image bytes in 0xFFFFFFFF words */
	uint64_t wait_us;          /* time spent waiting for the flash or the loader */
	unsigned polls;            /* status reads while waiting */
	unsigned loader_runs;
};

/* ---- the target ------------------------------------------------------- */
struct stm32f4 {
	struct swd_probe *probe;
	struct stm32f4_clock clock;
	struct stm32f4_ids ids;
	bool identified;
	bool use_loader;           /* false: direct writes (AHB stalls), no CPU needed */
	bool loader_ready;         /* loader code in SRAM since the last halt */
	int crc_engine;            /* -1 unknown, 0 none (readback), 1 CRC unit, 2 software */
	stm32f4_progress_fn progress;
	void *progress_ctx;
	/* Set by a signal handler; honoured only at safe points: between
	 * sectors and between program blocks, never inside an erase. */
	const volatile sig_atomic_t *cancel;
	struct stm32f4_stats stats;
};

void stm32f4_init(struct stm32f4 *t, struct swd_probe *probe, const struct stm32f4_clock *clock);

/* Reads DPIDR (if the probe can), CPUID, DBGMCU_IDCODE, flash size and UID.
 * A part other than the F40x/F41x: VR_ERR_UNRECOVERABLE naming it. No
 * Cortex-M answer: VR_ERR_NO_DEVICE. */
vr_err stm32f4_identify(struct stm32f4 *t, struct vr_error *err);
/* "STM32F446 (0x421)" style name for any DEV_ID. */
void stm32f4_describe_dev_id(uint16_t dev_id, char *out, size_t out_len);

/* DHCSR halt, checked with S_HALT. */
vr_err stm32f4_halt(struct stm32f4 *t, struct vr_error *err);
/* DBGMCU_APB1_FZ IWDG/WWDG stop, DBGMCU_CR sleep/stop/standby debug. */
vr_err stm32f4_freeze_watchdogs(struct stm32f4 *t, struct vr_error *err);
/* Soft reset that leaves the core halted on the reset vector (DEMCR
 * VC_CORERESET + AIRCR SYSRESETREQ; reference §3.1 step 7). */
vr_err stm32f4_reset_halt(struct stm32f4 *t, struct vr_error *err);
/* The end of a job: reset and let the firmware run, debug released. */
vr_err stm32f4_reset_run(struct stm32f4 *t, struct vr_error *err);
vr_err stm32f4_dhcsr(struct stm32f4 *t, uint32_t *dhcsr, struct vr_error *err);

vr_err stm32f4_read_options(struct stm32f4 *t, struct stm32f4_options *out, struct vr_error *err);
void stm32f4_decode_optcr(uint32_t optcr, struct stm32f4_options *out);

/* Plain memory reads (any address, 4-aligned; faults are VR_ERR_FAULT, or
 * VR_ERR_PROTECTED on flash under RDP1). */
vr_err stm32f4_read(struct stm32f4 *t, uint32_t addr, void *buf, size_t len, struct vr_error *err);

/* ---- flash ------------------------------------------------------------ */
/* Erases the sectors whose bit is set in sector_mask, one by one, at x32.
 * Cancel is honoured between sectors (VR_ERR_INTERRUPTED, those before
 * it are erased). */
vr_err stm32f4_erase_sectors(struct stm32f4 *t, uint16_t sector_mask, struct vr_error *err);
/* Whole-chip erase at x32 (8 s typical, 16 s max; timeout 33 s). Not
 * cancellable once started. */
vr_err stm32f4_mass_erase(struct stm32f4 *t, struct vr_error *err);

struct stm32f4_write_opts {
	bool force;                /* program over non-blank bytes (the result is AND-ed) */
};
/* Program with erase disabled: data (len a multiple of 4) at addr (4-aligned,
 * inside flash). Refuses with VR_ERR_CONFIRM, naming the first non-blank
 * address, unless every word to be programmed is blank on the target or
 * force is set. 0xFFFFFFFF words of data are skipped. */
vr_err stm32f4_program(struct stm32f4 *t, uint32_t addr, const uint8_t *data, size_t len,
		       const struct stm32f4_write_opts *opts, struct vr_error *err);
/* Compares flash with data, sector by sector by CRC on the target when
 * possible, else by readback. A mismatch is VR_ERR_OPERATION and
 * *first_diff gets the first differing address (0 if none). */
vr_err stm32f4_verify(struct stm32f4 *t, uint32_t addr, const uint8_t *data, size_t len,
		      uint32_t *first_diff, struct vr_error *err);
/* STM32 CRC32 of a flash range (4-aligned), on the target when possible. */
vr_err stm32f4_crc(struct stm32f4 *t, uint32_t addr, size_t len, uint32_t *crc, struct vr_error *err);
/* Whether the range reads all 0xFF; *first_used gets the first word that
 * does not (exact only when the answer came from a readback or a sector
 * scan; 0 when blank). */
vr_err stm32f4_blank_check(struct stm32f4 *t, uint32_t addr, size_t len, bool *blank,
			   uint32_t *first_used, struct vr_error *err);

/* RDP level 1 -> 0. The chip erases all of its flash itself; the part
 * then needs a power cycle. The caller has confirmed (--allow-unprotect). */
vr_err stm32f4_rdp_regress(struct stm32f4 *t, struct vr_error *err);
/* Sets every nWRP bit (no sector write protected), keeping RDP. Caller
 * has confirmed. */
vr_err stm32f4_wrp_clear(struct stm32f4 *t, struct vr_error *err);

#endif
