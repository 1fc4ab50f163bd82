/* The SWD probe of a VESC: the attach ladder (issue 3) and the read-only
 * flash survey, both recorded into struct swd_obs (src/observe.h).
 *
 * Ladder, stopping at the first rung that halts the core:
 *   1 normal attach: ENTER SWD, DPIDR, halt, freeze the watchdogs;
 *   2 connect-under-reset: NRST low before ENTER SWD, halt + vector catch
 *     while in reset, release, the core stops on its reset vector;
 *   3 slower SWD clocks (480 kHz, then 100 kHz), rungs 1-2 again at each;
 *   4 manual NRST: the person shorts NRST (pin 7 of the LQFP64 F405) to GND
 *     and releases it on cue while the tool retries; driven through a
 *     callback (NULL: rung skipped and recorded as such).
 * DPIDR decides whether a target is there; the probe's voltage reading only
 * explains a failure (a clone reads its own 3.3 V, CONTRACTS.md §5). */
#ifndef VR_PROBES_SWD_PROBE_H
#define VR_PROBES_SWD_PROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "errors.h"
#include "observe.h"
#include "stm32f4.h"

enum swd_manual_cue {
	SWD_CUE_HOLD_NRST,     /* short NRST to GND now and keep holding */
	SWD_CUE_RELEASE_NRST,  /* let go now */
};

/* Tells the person what to do and returns once they did it (HOLD: they
 * are holding; RELEASE: they let go). Returning false abandons the rung.
 * instruction is a full sentence ready to show. */
typedef bool (*swd_manual_reset_fn)(void *ctx, enum swd_manual_cue cue, const char *instruction);

struct swd_attach_opts {
	unsigned normal_khz;            /* 1800 */
	unsigned slow_khz[2];           /* 480, 100; 0 ends the list */
	swd_manual_reset_fn manual_reset;
	void *manual_ctx;
	unsigned manual_window_ms;      /* retries after each cue: 5000 */
	const struct stm32f4_clock *clock;  /* NULL: real time */
};

void swd_attach_opts_defaults(struct swd_attach_opts *opts);

/* Runs the ladder. On success t is initialised over probe, identified
 * (a part other than the F40x/F41x is VR_ERR_UNRECOVERABLE, named), the
 * core halted and the watchdogs frozen. Every rung tried is in
 * obs->ladder; on failure obs->advice and err say what the person should
 * check (VR_ERR_NO_DEVICE: needs a person). The probe fields of obs
 * (name, version, serial, pid) are filled from probe->info. */
vr_err swd_attach(struct swd_probe *probe, const struct swd_attach_opts *opts, struct stm32f4 *t,
		  struct swd_obs *obs, struct vr_error *err);

/* Read-only survey of an attached target: option bytes (RDP, nWRP), each
 * sector blank or not (CRC on the target when our loader runs there),
 * sector states and CRC-32 (zlib) per sector, the app's vector table,
 * crcinfo and CRC residue, the staging header, the bootloader in sector
 * 11. Under RDP1 the sectors are "protected". flash_copy, when not NULL,
 * receives the 1 MB of flash as read (blank sectors filled with 0xFF) so
 * a backup need not read it again; sector_read[i] says which sectors hold
 * real bytes. Only SRAM is written (the loader), never flash. */
vr_err swd_survey(struct stm32f4 *t, uint8_t *flash_copy, bool sector_read[F4_SECTORS],
		  struct swd_obs *obs, struct vr_error *err);

/* Ends a session: NRST released, the core reset and left running its
 * firmware with debug off, the probe out of SWD mode. The survey runs our
 * code on the core (CRC in SRAM), so the firmware restarts rather than
 * resumes: call this when done so that a healthy VESC boots again. */
vr_err swd_detach(struct stm32f4 *t, struct vr_error *err);

/* The advice for a ladder that found nothing (also stored in obs->advice):
 * unpowered vs wiring, with the clone-voltage caveat. */
void swd_failure_advice(const struct swd_obs *obs, char *out, size_t cap);

#endif
