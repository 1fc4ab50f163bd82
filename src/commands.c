#include "commands.h"

#include <stdio.h>

#include "errors.h"

/* One rule per ST-Link debug PID (reference §1.1), the VESC CDC (kept away
 * from ModemManager), and the STM32 ROM DFU. uaccess alone covers only the
 * person at the seat, not an SSH session: hence the plugdev group too. */
static const struct {
	const char *pid;
	const char *what;
} udev_stlinks[] = {
	{"3744", "ST-LINK/V1"}, {"3748", "ST-LINK/V2 (and most clones)"},
	{"374b", "ST-LINK/V2-1"}, {"374a", "ST-LINK/V2-1 (audio)"},
	{"3752", "ST-LINK/V2-1 without MSD"}, {"374d", "STLINK-V3 bootloader"},
	{"374e", "STLINK-V3E/V3SET"}, {"374f", "STLINK-V3S"}, {"3753", "STLINK-V3 2VCP"},
	{"3754", "STLINK-V3MINIE"}, {"3755", "STLINK-V3PWR bootloader"}, {"3757", "STLINK-V3PWR"},
};

int cmd_udev_rules(const struct cli_options *opts)
{
	(void)opts;
	puts("# udev rules for vesc-rescue: install as /etc/udev/rules.d/70-vesc-rescue.rules,\n"
	     "# then: sudo udevadm control --reload-rules && sudo udevadm trigger\n"
	     "# and add yourself to plugdev and dialout: sudo usermod -aG plugdev,dialout $USER\n"
	     "# (log out and in again).");
	for (size_t i = 0; i < sizeof udev_stlinks / sizeof udev_stlinks[0]; i++)
		printf("# %s\nSUBSYSTEM==\"usb\", ATTR{idVendor}==\"0483\", ATTR{idProduct}==\"%s\", "
		       "MODE=\"0660\", GROUP=\"plugdev\", TAG+=\"uaccess\"\n",
		       udev_stlinks[i].what, udev_stlinks[i].pid);
	puts("# VESC USB CDC (ChibiOS virtual COM port): keep ModemManager away from it\n"
	     "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"0483\", ATTR{idProduct}==\"5740\", "
	     "MODE=\"0660\", GROUP=\"plugdev\", TAG+=\"uaccess\", ENV{ID_MM_DEVICE_IGNORE}=\"1\"\n"
	     "SUBSYSTEM==\"tty\", ATTRS{idVendor}==\"0483\", ATTRS{idProduct}==\"5740\", "
	     "MODE=\"0660\", GROUP=\"dialout\", TAG+=\"uaccess\", ENV{ID_MM_DEVICE_IGNORE}=\"1\"\n"
	     "# STM32 ROM DFU (BOOT0 high)\n"
	     "SUBSYSTEM==\"usb\", ATTR{idVendor}==\"0483\", ATTR{idProduct}==\"df11\", "
	     "MODE=\"0660\", GROUP=\"plugdev\", TAG+=\"uaccess\"");
	return VR_EXIT_OK;
}

int commands_run(const struct cli_options *opts)
{
	(void)opts;
	fprintf(stderr, "vesc-rescue: this command is not built yet\n");
	return VR_EXIT_INTERNAL;
}
