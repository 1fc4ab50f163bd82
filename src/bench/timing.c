/* The bench's timing model (../shared/reference/bench-timing.md). Figures are
 * DS8626 typical values at x32; x16 and x8 scale them because the flash
 * erases fewer bits in parallel. */
#include "bench/timing.h"

#include <errno.h>
#include <time.h>

enum { PSIZE_X8 = 0, PSIZE_X16 = 1, PSIZE_X32 = 2, PSIZE_X64 = 3 };

void bench_timing_defaults(struct bench_timing *t)
{
	t->usb_round_trip_us = 1000;
	t->bulk_bytes_per_s = 1000000;
	t->word_program_us = 16;
	t->erase16k_ms = 250;
	t->erase64k_ms = 550;
	t->erase128k_ms = 1000;
	t->mass_erase_ms = 8000;
	t->erase_max_factor_pct = 200;
	t->x16_factor_pct = 130;
	t->x8_factor_pct = 200;
	t->time_scale = 0.0;
}

/* x64 needs an external VPP the VESC does not have; the flash still erases,
 * and treating it like x32 is the least surprising answer. */
static uint64_t scale_by_psize(const struct bench_timing *t, uint64_t x32_us, unsigned psize)
{
	switch (psize) {
	case PSIZE_X8:
		return x32_us * t->x8_factor_pct / 100u;
	case PSIZE_X16:
		return x32_us * t->x16_factor_pct / 100u;
	default:
		return x32_us;
	}
}

/* Sectors are 16, 64 or 128 KB on the F405; anything else gets the figure of
 * the next size up so an odd size never erases faster than a real one. */
static uint32_t sector_x32_ms(const struct bench_timing *t, uint32_t sector_bytes)
{
	if (sector_bytes <= 16u * 1024u)
		return t->erase16k_ms;
	if (sector_bytes <= 64u * 1024u)
		return t->erase64k_ms;
	return t->erase128k_ms;
}

uint64_t bench_timing_erase_us(const struct bench_timing *t, uint32_t sector_bytes, unsigned psize)
{
	uint64_t x32_us = (uint64_t)sector_x32_ms(t, sector_bytes) * 1000u;
	return scale_by_psize(t, x32_us, psize);
}

uint64_t bench_timing_mass_erase_us(const struct bench_timing *t, unsigned psize)
{
	return scale_by_psize(t, (uint64_t)t->mass_erase_ms * 1000u, psize);
}

static void sleep_ns(uint64_t ns)
{
	struct timespec req = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &req) == EINTR)
		;
}

void bench_clock_advance(struct bench_clock *c, uint64_t us)
{
	if (!c || us == 0)
		return;
	uint64_t before_us = c->now_us;
	c->now_us += us;
	if (c->time_scale <= 0.0)
		return;
	/* Sleeping the difference of the scaled totals accumulates the
	 * fractions of a microsecond that a per-call rounding would lose. */
	double scaled_before_ns = (double)before_us * 1000.0 * c->time_scale;
	double scaled_after_ns = (double)c->now_us * 1000.0 * c->time_scale;
	uint64_t ns = (uint64_t)scaled_after_ns - (uint64_t)scaled_before_ns;
	if (ns > 0)
		sleep_ns(ns);
}
