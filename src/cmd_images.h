/* `vesc-rescue images DIR [--hw NAME] [--json]`: lists the firmware and
 * bootloader images found under DIR (VESC Tool res/ tree or firmware
 * archive) with role, size and check result, and for a HW name the chosen
 * firmware and bootloader, or every candidate when there is no single one.
 * Exit 0; 3 for an unreadable DIR, a malformed image, no image at all, or
 * no firmware for the HW name; 2 without DIR. */
#ifndef VR_CMD_IMAGES_H
#define VR_CMD_IMAGES_H

#include <stdio.h>

#include "cli.h"

int cmd_images(const struct cli_options *opts);

/* The same writing to out (report) and diag (messages); for tests. */
int cmd_images_to(const struct cli_options *opts, FILE *out, FILE *diag);

#endif
