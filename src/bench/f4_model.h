/* A simulated STM32F405 as an SWD debugger sees it: memory map (flash with
 * the F405 sector map, SRAM, CCM, system memory, OTP, option bytes), the
 * flash controller (keys, SR/CR, PSIZE, erase and program timing, errors),
 * option bytes (RDP, nWRP), the debug registers (DHCSR, DEMCR, AIRCR, DFSR,
 * DBGMCU), NRST, and a Cortex-M4 CPU (Debian's unicorn) that executes code
 * the debugger runs from SRAM (flash loaders). Code running from flash (the
 * VESC firmware itself) is not emulated: it is "the application running",
 * which matters only for whether SWD still answers.
 *
 * All functions are called with the model's lock not held and are not
 * thread-safe; the bench serialises access. */
#ifndef VR_BENCH_F4_MODEL_H
#define VR_BENCH_F4_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "bench/timing.h"

#define F4_FLASH_BASE 0x08000000u
#define F4_FLASH_SIZE (1024u * 1024u)
#define F4_SRAM_BASE 0x20000000u
#define F4_SRAM_SIZE (128u * 1024u)
#define F4_CCM_BASE 0x10000000u
#define F4_CCM_SIZE (64u * 1024u)

struct f4_model_config {
	uint16_t dev_id;          /* 0x413 */
	uint16_t rev_id;          /* 0x1007 */
	uint32_t dpidr;           /* 0x2BA01477 */
	uint32_t cpuid;           /* 0x410FC241 */
	uint16_t flash_kb;        /* 1024 */
	uint8_t uid[12];
	double vdd;               /* 3.3; 0 = unpowered (nothing answers) */
	bool swd_wired;           /* false: SWDIO/SWCLK swapped or open, DP never answers */
	bool nrst_wired;          /* false: NRST changes nothing */
	bool app_locks_swd;       /* the running app turns PA13/PA14 into GPIO */
	uint32_t optcr;           /* 0x0FFFAAED factory; RDP in [15:8], nWRP in [27:16] */
	const uint8_t *flash_image;  /* 1 MiB initial contents, NULL = all 0xFF */
	struct bench_clock *clock;   /* shared modeled clock, not owned */
	struct bench_timing timing;
};

void f4_model_config_defaults(struct f4_model_config *cfg);

struct f4_model;

struct f4_model *f4_model_new(const struct f4_model_config *cfg, struct vr_error *err);
void f4_model_free(struct f4_model *m);

/* SWD-side answers. */
enum f4_ack { F4_ACK_OK = 0, F4_ACK_WAIT, F4_ACK_FAULT, F4_ACK_NONE };

/* Line reset + DPIDR read: F4_ACK_NONE when unpowered, miswired, locked out
 * by a running app, or RDP2. */
enum f4_ack f4_swd_connect(struct f4_model *m, uint32_t *dpidr);
/* Whether the DP is currently attached (a connect succeeded and nothing
 * since made it drop). */
bool f4_swd_attached(const struct f4_model *m);
void f4_swd_disconnect(struct f4_model *m);

/* AHB-AP accesses; width 1, 2 or 4; len a multiple of width, address
 * aligned to width. Flash reads under RDP1 with a debugger attached fault,
 * as do unmapped addresses. *fault_addr gets the failing address. */
enum f4_ack f4_mem_read(struct f4_model *m, uint32_t addr, void *buf, size_t len,
			unsigned width, uint32_t *fault_addr);
enum f4_ack f4_mem_write(struct f4_model *m, uint32_t addr, const void *buf, size_t len,
			 unsigned width, uint32_t *fault_addr);

/* Core registers through DCRSR/DCRDR: only while halted (else FAULT).
 * reg numbering as in swd_probe.h and DCRSR.REGSEL: 0-15, 16 xPSR, 17 MSP,
 * 18 PSP, 20 CONTROL/FAULTMASK/BASEPRI/PRIMASK, 33 FPSCR, 64-95 S0-S31;
 * other numbers FAULT. */
enum f4_ack f4_core_reg_read(struct f4_model *m, unsigned reg, uint32_t *val);
enum f4_ack f4_core_reg_write(struct f4_model *m, unsigned reg, uint32_t val);

/* NRST line from the probe (ignored when not wired). */
void f4_set_nrst(struct f4_model *m, bool asserted_low);
/* The person shorting NRST to GND by hand (works even when not wired to the probe). */
void f4_manual_nrst(struct f4_model *m, bool asserted_low);
void f4_power_cycle(struct f4_model *m);

/* Supply voltage (0 = unpowered); a change across the brown-out threshold
 * is a power-on reset. */
void f4_set_vdd(struct f4_model *m, double vdd);
double f4_model_vdd(const struct f4_model *m);
/* A system reset as the ST-Link's RESETSYS or AIRCR.SYSRESETREQ causes. */
void f4_system_reset(struct f4_model *m);

/* Let time pass: flash operations progress and finish, a running core
 * executes (SRAM code is emulated; flash code is "the application").
 * This does not move the shared clock: whoever spends time advances it
 * (bench_clock_advance) and then calls this; the model catches up with
 * max(its own time + us, clock->now_us). Every other call also catches up
 * with the clock first. */
void f4_advance_us(struct f4_model *m, uint64_t us);

/* Backdoor for the bench and the tests: the silicon's contents, no timing,
 * no protection. */
uint8_t *f4_model_flash(struct f4_model *m);
uint32_t f4_model_optcr(const struct f4_model *m);
void f4_model_set_optcr(struct f4_model *m, uint32_t optcr);
bool f4_core_halted(const struct f4_model *m);
/* True while the core runs the application from flash. */
bool f4_app_running(const struct f4_model *m);
bool f4_core_locked_up(const struct f4_model *m);
bool f4_core_in_reset(const struct f4_model *m);
uint8_t *f4_model_sram(struct f4_model *m);
uint8_t *f4_model_otp(struct f4_model *m);   /* 528 bytes: 512 data + 16 lock */
uint64_t f4_model_now_us(const struct f4_model *m);
/* Counts of flash operations done, for byte-exact tests and the benchmark. */
struct f4_stats {
	uint64_t words_programmed, bytes_programmed;
	unsigned sector_erases, mass_erases, option_writes;
	unsigned psize_of_last_erase;
	uint64_t cpu_instructions;
};
void f4_model_stats(const struct f4_model *m, struct f4_stats *out);

/* Flash + option bytes to a file and back, so a rehearsal can span runs. */
vr_err f4_model_save(const struct f4_model *m, const char *path, struct vr_error *err);
vr_err f4_model_load(struct f4_model *m, const char *path, struct vr_error *err);

#endif
