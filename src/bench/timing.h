/* The bench's clock and its datasheet timing model
 * (../shared/reference/bench-timing.md). Modeled time always advances;
 * real sleeping happens only when time_scale > 0 (dashboard rehearsals and
 * the tmux tests), so benchmarks report modeled seconds. */
#ifndef VR_BENCH_TIMING_H
#define VR_BENCH_TIMING_H

#include <stdint.h>

struct bench_timing {
	uint32_t usb_round_trip_us;       /* 1000: one command OUT + reply IN */
	uint32_t bulk_bytes_per_s;        /* 1,000,000 (V2); 20,000,000 (V3) */
	uint32_t word_program_us;         /* 16 (tPROG, any PSIZE) */
	uint32_t erase16k_ms, erase64k_ms, erase128k_ms, mass_erase_ms;  /* x32 typ */
	uint32_t erase_max_factor_pct;    /* 200: max = 2 x typ */
	uint32_t x16_factor_pct;          /* 130 */
	uint32_t x8_factor_pct;           /* 200 */
	double time_scale;                /* 0: never sleep; 1: real time; 0.1: 10x faster */
};

void bench_timing_defaults(struct bench_timing *t);

/* Erase time of one sector (by size in bytes) or of the whole chip at a
 * given PSIZE code (0 x8, 1 x16, 2 x32, 3 x64), in microseconds. */
uint64_t bench_timing_erase_us(const struct bench_timing *t, uint32_t sector_bytes, unsigned psize);
uint64_t bench_timing_mass_erase_us(const struct bench_timing *t, unsigned psize);

/* A modeled clock; all bench parts that spend time add to the same one. */
struct bench_clock {
	uint64_t now_us;          /* modeled microseconds since the bench opened */
	uint64_t usb_transfers;   /* bulk transfers, both directions */
	double time_scale;
};

/* Moves modeled time forward and, when time_scale > 0, sleeps the scaled
 * amount of real time. */
void bench_clock_advance(struct bench_clock *c, uint64_t us);

#endif
