/* The verdict: what the observations mean for a person at the bench, in two
 * sentences (what we see, what to do next), plus the firmware and bootloader
 * states of CONTRACTS.md §4 and the exit status of `probe` (§3).
 *
 * Pure: reads observations, writes a struct verdict, nothing else. */
#ifndef VR_VERDICT_H
#define VR_VERDICT_H

#include "observe.h"

/* Fills v completely (never leaves a field unset). obs may describe a probe
 * that saw nothing at all; that is a verdict too. */
void verdict_compute(const struct observations *obs, struct verdict *v);

/* Index of the first serial port that answered as a VESC, -1 if none. */
int verdict_answering_port(const struct observations *obs);

/* The firmware state the SWD survey shows (FW_UNKNOWN without a survey). */
enum fw_verdict verdict_flash_firmware(const struct swd_obs *swd);

/* The bootloader state the SWD survey shows (BL_UNKNOWN without a survey). */
enum bl_verdict verdict_flash_bootloader(const struct swd_obs *swd);

#endif
