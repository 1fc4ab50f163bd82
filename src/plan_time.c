#include "plan_time.h"

#include <stdio.h>

/* bench-timing.md defaults. */
#define USB_ROUND_TRIP_S 0.001
#define USB_BYTES_PER_S 1.0e6
#define BLOCK_BYTES 6144.0          /* one memory command */
#define WORD_PROGRAM_S 16e-6
#define MASS_ERASE_S 8.0
#define REBOOT_AND_ENUMERATE_S 3.0  /* first-boot self-reset + USB 1.5 s after boot */
#define SURVEY_S 0.8                /* ladder rung + reading the non-blank sectors' CRCs */

static double sector_erase_s(unsigned sector)
{
	if (sector < 4)
		return 0.25;   /* 16 KB */
	if (sector == 4)
		return 0.55;   /* 64 KB */
	return 1.0;            /* 128 KB */
}

/* Moving bytes over USB in 6 KB commands, each with its status query. */
static double usb_transfer_s(double bytes)
{
	return bytes / USB_BYTES_PER_S + (bytes / BLOCK_BYTES) * 2 * USB_ROUND_TRIP_S;
}

/* Our loader programs while the next buffer crosses USB: the slower of the
 * two sets the pace. Every word is assumed programmed (0xFF words, which
 * are skipped, only make it faster). */
static double program_s(double bytes)
{
	double flash = bytes / 4.0 * WORD_PROGRAM_S;
	double usb = usb_transfer_s(bytes);
	return (flash > usb ? flash : usb) + 0.02;
}

double plan_step_modeled_s(const struct plan_step *step)
{
	double s = 0;
	switch (step->kind) {
	case STEP_SWD_ATTACH: return 0.1;
	case STEP_SURVEY: return SURVEY_S;
	case STEP_BACKUP: return usb_transfer_s(step->bytes) + 0.05;
	case STEP_MASS_ERASE:
	case STEP_RDP_REGRESS: return MASS_ERASE_S;
	case STEP_SECTOR_ERASE:
		for (unsigned i = 0; i < 12; i++)
			if (step->sectors & (1u << i))
				s += sector_erase_s(i);
		return s;
	case STEP_WRITE_BOOTLOADER:
	case STEP_WRITE_FIRMWARE:
	case STEP_RESTORE_CONFIG: return program_s(step->bytes);
	case STEP_VERIFY: return 0.05 + step->bytes / 50.0e6;  /* CRC on the target */
	case STEP_WRP_CLEAR: return 0.3;
	case STEP_RESET: return 0.01;
	case STEP_WAIT_VESC: return REBOOT_AND_ENUMERATE_S;
	case STEP_USB_ERASE_BOOTLOADER: return 1.0;
	case STEP_USB_WRITE_BOOTLOADER: return step->bytes / 384.0 * 0.002 + step->bytes / 1.0e6;
	default: return 0;
	}
}

void plan_time_text(double seconds, char *out, size_t cap)
{
	if (seconds <= 0)
		snprintf(out, cap, "%s", "");
	else if (seconds < 0.1)
		snprintf(out, cap, "%s", "<0.1 s");
	else if (seconds < 10)
		snprintf(out, cap, "%.1f s", seconds);
	else
		snprintf(out, cap, "%.0f s", seconds);
}
