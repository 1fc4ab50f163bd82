/* The bench behind the libusb facade: one scenario's STM32F405 model and
 * the simulated ST-Link in front of it, plus the state file that carries
 * the chip from one process to the next (VR_BENCH_STATE).
 *
 * facade_chip_open is the one place that builds "the chip for this
 * scenario"; the in-process bench (bench.c) should build the same. */
#ifndef VR_BENCH_FACADE_CHIP_H
#define VR_BENCH_FACADE_CHIP_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "bench/scenario.h"
#include "bench/timing.h"

struct f4_model;
struct stlink_sim;

struct facade_chip {
	struct bench_scenario scenario;
	struct bench_clock clock;
	struct bench_timing timing;
	struct f4_model *model;
	struct stlink_sim *probe;
	char state_path[256];          /* "" when the chip is not persisted */
	uint64_t saved_flash_ops;      /* flash operations counted at the last save */
};

/* Builds model and probe for the scenario; loads state_path when that file
 * exists (state_path may be NULL or ""; then the scenario's state= is used). */
vr_err facade_chip_open(struct facade_chip *chip, const struct bench_scenario *sc,
			const char *state_path, struct vr_error *err);
/* Appends the model's counters (f4_stats) as "name value" lines to path,
 * so a test can tell that a tool's flash loader ran on the emulated core. */
vr_err facade_chip_write_stats(const struct facade_chip *chip, const char *path,
			       struct vr_error *err);
/* Saves (when persisted) and frees. */
void facade_chip_close(struct facade_chip *chip);

/* Flash operations (words programmed, erases, option writes) so far. */
uint64_t facade_chip_flash_ops(const struct facade_chip *chip);
/* Writes the state file atomically (temporary file + rename) when there is
 * one and something changed since the last save, or always when force. */
vr_err facade_chip_save(struct facade_chip *chip, bool force, struct vr_error *err);

#endif
