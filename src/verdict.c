/* The verdict (issue 2 "Verdict and output", CONTRACTS.md §3-§5).
 *
 * Order of precedence when no VESC answers: what blocks the person first
 * (permissions, a busy port or probe) is named before what the flash holds,
 * because nothing else can be learned until it is fixed. */
#include "verdict.h"
#include "text.h"

#include <stdio.h>
#include <string.h>

#define PID_STLINK_V1 0x3744
#define STM32_ST_VID 0x0483
/* Below this an ST-Link's VDD sense sees no target supply (OpenOCD warns at
 * 1.5 V too, reference stlink §7). */
#define MIN_TARGET_VOLTS 1.5

#define UDEV_FIX "install the udev rules: vesc-rescue --udev-rules | sudo tee " \
	"/etc/udev/rules.d/70-vesc-rescue.rules && sudo udevadm control --reload-rules && " \
	"sudo udevadm trigger, then replug; over SSH also join plugdev: sudo usermod -aG " \
	"plugdev $USER (and log in again)"
#define DIALOUT_FIX "add yourself to the dialout group: sudo usermod -aG dialout $USER, " \
	"then log out and in again"
#define BL_PROOF "the bootloader cannot be seen over USB: an SWD survey proves it, or if " \
	"the old firmware comes back after an update, the bootloader is missing"
#define POWER_ADVICE "power the VESC from its battery or supply; a genuine ST-LINK/V2 only " \
	"senses VDD (connect its VDD pin to the VESC 3.3 V), a clone supplies 3.3 V on that " \
	"pin (do not connect it while the VESC is powered)"
#define WIRING_ADVICE "check GND, SWDIO and SWCLK (VESC header order: 3.3V, CLK, GND, DIO, " \
	"RST, SWO; clone dongles may label them VDD, SWCLK, GND, SWDIO and carry two RST pins, " \
	"only one of which is NRST)"


int verdict_answering_port(const struct observations *obs)
{
	unsigned n = obs->n_serial < OBS_MAX_SERIAL ? obs->n_serial : OBS_MAX_SERIAL;
	for (unsigned i = 0; i < n; i++)
		if (obs->serial[i].status == SERIAL_VESC)
			return (int)i;
	return -1;
}

static bool sector_blank(const struct swd_obs *swd, unsigned i)
{
	return swd->sectors[i].blank || swd->sectors[i].state == SECTOR_BLANK;
}

enum fw_verdict verdict_flash_firmware(const struct swd_obs *swd)
{
	if (!swd->survey_done || swd->rdp == 1 || swd->rdp == 2)
		return FW_UNKNOWN;
	const struct app_obs *app = &swd->app;
	if (app->vector_valid)
		return (app->crc_checked && !app->crc_ok) ? FW_CORRUPT : FW_PRESENT;
	if (sector_blank(swd, 0) && app->image_end == 0)
		return FW_ABSENT;
	return FW_CORRUPT;
}

enum bl_verdict verdict_flash_bootloader(const struct swd_obs *swd)
{
	if (!swd->survey_done || swd->rdp == 1 || swd->rdp == 2)
		return BL_UNKNOWN;
	/* Anything in sector 11 that is not shaped like a VESC bootloader cannot
	 * take an update either: the firmware would jump into it. */
	return swd->bootloader.present ? BL_PRESENT : BL_ABSENT;
}

/* ---- the link side ------------------------------------------------------ */

static unsigned n_usb(const struct observations *obs)
{
	return obs->n_usb < OBS_MAX_USB ? obs->n_usb : OBS_MAX_USB;
}

static unsigned n_serial(const struct observations *obs)
{
	return obs->n_serial < OBS_MAX_SERIAL ? obs->n_serial : OBS_MAX_SERIAL;
}

static const struct usb_obs *find_usb(const struct observations *obs, enum usb_kind kind)
{
	for (unsigned i = 0; i < n_usb(obs); i++)
		if (obs->usb[i].kind == kind)
			return &obs->usb[i];
	return NULL;
}

static const struct serial_obs *find_serial(const struct observations *obs,
					    enum serial_status status, bool uart)
{
	for (unsigned i = 0; i < n_serial(obs); i++)
		if (obs->serial[i].status == status && obs->serial[i].is_uart == uart)
			return &obs->serial[i];
	return NULL;
}

static const struct serial_obs *find_serial_error(const struct observations *obs, vr_err code)
{
	for (unsigned i = 0; i < n_serial(obs); i++)
		if (obs->serial[i].status == SERIAL_ERROR && obs->serial[i].err == code)
			return &obs->serial[i];
	return NULL;
}

static const struct usb_obs *find_usb_error(const struct observations *obs, vr_err code)
{
	for (unsigned i = 0; i < n_usb(obs); i++)
		if (obs->usb[i].access == code && obs->usb[i].kind != USB_KIND_OTHER)
			return &obs->usb[i];
	return NULL;
}

static void describe_answer(const struct observations *obs, int idx, struct verdict *v)
{
	const struct serial_obs *s = &obs->serial[idx];
	const struct fw_version *fw = &s->fw;
	v->firmware = FW_PRESENT;
	v->answering_serial = idx;
	text_put(v->summary, sizeof v->summary, "VESC firmware %d.%02d%s%s%s answers on %s",
	    fw->major, fw->minor < 0 ? 0 : fw->minor,
	    fw->hw_name[0] ? " (HW " : "", fw->hw_name, fw->hw_name[0] ? ")" : "", s->port);
	if (s->is_uart && s->baud)
		text_append(v->summary, sizeof v->summary, " at %u baud", s->baud);
	if (fw->has_uuid) {
		text_append(v->summary, sizeof v->summary, ", UUID ");
		for (unsigned i = 0; i < sizeof fw->uuid; i++)
			text_append(v->summary, sizeof v->summary, "%02x", fw->uuid[i]);
	}
	text_append(v->summary, sizeof v->summary, ".");
	v->exit_status = VR_EXIT_OK;
	switch (v->bootloader) {
	case BL_PRESENT:
		if (v->bl_kind == BL_KIND_UNKNOWN)
			text_append(v->summary, sizeof v->summary, " The SWD survey shows a bootloader in "
			       "sector 11.");
		else
			text_append(v->summary, sizeof v->summary, " The SWD survey shows a bootloader "
			       "(%s).", bl_kind_name(v->bl_kind));
		if (v->bl_kind == BL_KIND_OLD && fw->major >= 6)
			text_put(v->next, sizeof v->next, "Nothing to fix; the bootloader is an old one "
			    "without compression: VESC Tool's next update replaces it first.");
		else
			text_put(v->next, sizeof v->next, "Nothing to do: the firmware runs and the "
			    "bootloader is in place.");
		break;
	case BL_ABSENT:
		text_append(v->summary, sizeof v->summary, " The SWD survey shows no bootloader in sector 11.");
		text_put(v->next, sizeof v->next, "Install the bootloader: vesc-rescue recover "
		    "--bootloader FILE (or --images DIR); firmware updates cannot work without it.");
		break;
	default:
		text_put(v->next, sizeof v->next, "Nothing to fix over USB; %s.", BL_PROOF);
		break;
	}
	/* The firmware runs but only the UART shows it: USB itself is the
	 * problem a person came with. */
	if (s->is_uart && !find_usb(obs, USB_KIND_VESC_CDC)) {
		text_append(v->summary, sizeof v->summary, " USB does not enumerate (no 0483:5740): only the "
		       "UART link works%s.", s->baud && s->baud != 115200 ? ", at a non-default rate" : "");
		if (v->bootloader != BL_ABSENT)
			text_put(v->next, sizeof v->next, "The firmware runs: check that the USB cable carries data "
			    "(many carry only power), another USB port, and the VESC's USB connector.");
	}
}

/* Permission problems: exit 5, with the exact fix. */
static bool access_problem(const struct observations *obs, struct verdict *v)
{
	const struct serial_obs *s = find_serial_error(obs, VR_ERR_ACCESS);
	if (s) {
		text_put(v->summary, sizeof v->summary, "Permission denied opening %s.", s->port);
		text_put(v->next, sizeof v->next, "%s.", DIALOUT_FIX);
		v->exit_status = VR_EXIT_ACCESS;
		return true;
	}
	const struct usb_obs *u = find_usb_error(obs, VR_ERR_ACCESS);
	bool probe_denied = obs->swd.tried && !obs->swd.probe_found && obs->swd.probe_err == VR_ERR_ACCESS;
	if (u || probe_denied) {
		text_put(v->summary, sizeof v->summary, "Permission denied opening the USB device %04x:%04x%s%s.",
		    u ? u->vid : STM32_ST_VID, u ? u->pid : obs->swd.probe_pid,
		    u && u->model[0] ? " " : "", u ? u->model : "");
		text_put(v->next, sizeof v->next, "%s.", UDEV_FIX);
		v->exit_status = VR_EXIT_ACCESS;
		return true;
	}
	return false;
}

/* Another program holds the port or the probe: exit 6. */
static bool busy_problem(const struct observations *obs, struct verdict *v)
{
	const struct serial_obs *s = find_serial_error(obs, VR_ERR_BUSY);
	if (s) {
		text_put(v->summary, sizeof v->summary, "%s is busy: another program holds it.", s->port);
		text_put(v->next, sizeof v->next, "ModemManager usually grabs 0483:5740 ports on plugging: "
		    "sudo systemctl stop ModemManager (our udev rule sets ID_MM_DEVICE_IGNORE), "
		    "and close VESC Tool, screen or minicom; then retry.");
		v->exit_status = VR_EXIT_BUSY;
		return true;
	}
	const struct usb_obs *u = find_usb_error(obs, VR_ERR_BUSY);
	bool probe_busy = obs->swd.tried && !obs->swd.probe_found && obs->swd.probe_err == VR_ERR_BUSY;
	if (u && u->kind != USB_KIND_STLINK && !probe_busy) {
		text_put(v->summary, sizeof v->summary, "The USB device %04x:%04x is busy: another program "
		    "holds it.", u->vid, u->pid);
		text_put(v->next, sizeof v->next, "Close the program that uses it (VESC Tool, screen, "
		    "minicom; ModemManager grabs 0483:5740: sudo systemctl stop ModemManager), then retry.");
		v->exit_status = VR_EXIT_BUSY;
		return true;
	}
	if (u || probe_busy) {
		text_put(v->summary, sizeof v->summary, "The ST-Link is busy: another program has claimed it.");
		text_put(v->next, sizeof v->next, "Close openocd, st-util, stlink-server, STM32CubeProgrammer "
		    "or another vesc-rescue, then retry.");
		v->exit_status = VR_EXIT_BUSY;
		return true;
	}
	return false;
}

/* What the USB and serial side shows when no VESC answered. */
static void describe_link(const struct observations *obs, struct verdict *v)
{
	const struct serial_obs *s;
	const struct usb_obs *cdc = find_usb(obs, USB_KIND_VESC_CDC);
	v->exit_status = VR_EXIT_UNREACHABLE;
	if (obs->usb_error) {
		text_put(v->summary, sizeof v->summary, "USB could not be listed: %s.", obs->usb_error_text);
		text_put(v->next, sizeof v->next, "Check that libusb can reach /dev/bus/usb (inside a "
		    "container pass the device through), then retry.");
	} else if ((s = find_serial(obs, SERIAL_ECHO, true)) || (s = find_serial(obs, SERIAL_ECHO, false))) {
		text_put(v->summary, sizeof v->summary, "%s returns our own request: RX and TX are bridged "
		    "or it is a loopback adapter.", s->port);
		text_put(v->next, sizeof v->next, "Connect the adapter's RX to the VESC's TX and TX to RX, "
		    "and GND to GND.");
	} else if ((s = find_serial(obs, SERIAL_NOISE, true))) {
		if (s->baud)
			text_put(v->summary, sizeof v->summary, "Bytes arrive on %s (UART, first at %u baud) but "
			    "no valid VESC frame at any rate tried: the baud rate is wrong or the ground "
			    "is missing.", s->port, s->baud);
		else
			text_put(v->summary, sizeof v->summary, "Bytes arrive on %s (UART) but no valid "
			    "VESC frame: the baud rate is wrong or the ground is missing.", s->port);
		text_put(v->next, sizeof v->next, "Connect GND between the adapter and the VESC; if the "
		    "VESC's UART rate is not one of 9600-921600, give it with --baud N (App Settings, "
		    "UART). Something runs on the VESC: USB should answer too.");
	} else if (cdc && !find_serial(obs, SERIAL_OTHER, false)) {
		text_put(v->summary, sizeof v->summary, "A VESC USB device (0483:5740%s%s) enumerates but its "
		    "firmware is silent.", cdc->tty[0] ? ", " : "", cdc->tty);
		text_put(v->next, sizeof v->next, "VESC enumerates but firmware is silent: go to SWD with an "
		    "ST-Link (a very slow firmware answers with --timeout 1000).");
	} else if ((s = find_serial(obs, SERIAL_NOISE, false))) {
		text_put(v->summary, sizeof v->summary, "%s sends bytes but no valid VESC frame.", s->port);
		text_put(v->next, sizeof v->next, "Try another USB cable or port; if it stays garbled, go "
		    "to SWD with an ST-Link.");
	} else if ((s = find_serial(obs, SERIAL_SILENT, true))) {
		text_put(v->summary, sizeof v->summary, "%s (UART) stays silent at every rate tried.", s->port);
		text_put(v->next, sizeof v->next, "Silence at all rates: the UART app may be disabled in "
		    "the app configuration (USB still works), RX/TX swapped, or no firmware runs; try "
		    "USB, then SWD.");
	} else if ((s = find_serial(obs, SERIAL_OTHER, false)) || (s = find_serial(obs, SERIAL_OTHER, true))) {
		text_put(v->summary, sizeof v->summary, "%s talks, but not the VESC protocol%s%s.", s->port,
		    s->detail[0] ? ": " : "", s->detail);
		text_put(v->next, sizeof v->next, "That port is another device; nothing else on USB looks "
		    "like a VESC: check the cable carries data and the board has power.");
	} else if (find_usb(obs, USB_KIND_STM32_DFU)) {
		text_put(v->summary, sizeof v->summary, "An STM32 sits in its ROM DFU bootloader (0483:df11): "
		    "BOOT0 is high, so the VESC firmware does not start.");
		text_put(v->next, sizeof v->next, "Release BOOT0 (remove the jumper or bridge) and power "
		    "cycle; the firmware starts only with BOOT0 low.");
	} else {
		text_put(v->summary, sizeof v->summary, "Nothing on USB looks like a VESC.");
		text_put(v->next, sizeof v->next, "Nothing on USB: check the cable carries data and the board "
		    "has power; a blue LED alone means the firmware is not running: go to SWD.");
	}
}

/* ---- the SWD side ------------------------------------------------------- */

/* A rung that was skipped (nobody to ask for the manual reset) was not
 * tried: its record says "skipped". */
static bool ladder_tried(const struct swd_obs *swd, enum attach_result rung)
{
	unsigned n = swd->n_rungs < OBS_MAX_RUNGS ? swd->n_rungs : OBS_MAX_RUNGS;
	for (unsigned i = 0; i < n; i++)
		if (swd->ladder[i].rung == rung && strncmp(swd->ladder[i].saw, "skipped", 7) != 0)
			return true;
	return false;
}

static bool ladder_saw_dpidr(const struct swd_obs *swd)
{
	unsigned n = swd->n_rungs < OBS_MAX_RUNGS ? swd->n_rungs : OBS_MAX_RUNGS;
	if (swd->dpidr)
		return true;
	for (unsigned i = 0; i < n; i++)
		if (swd->ladder[i].dpidr)
			return true;
	return false;
}

static void no_probe(const struct observations *obs, struct verdict *v)
{
	const struct usb_obs *u;
	bool v1 = false;
	for (unsigned i = 0; i < n_usb(obs); i++)
		if (obs->usb[i].vid == STM32_ST_VID && obs->usb[i].pid == PID_STLINK_V1)
			v1 = true;
	if (v1) {
		text_append(v->summary, sizeof v->summary, " An ST-LINK/V1 (0483:3744) is attached; it "
		       "speaks a mass-storage transport vesc-rescue does not support.");
		text_put(v->next, sizeof v->next, "Use an ST-LINK/V2, V2-1 or V3 (a V2 clone works).");
	} else if ((u = find_usb(obs, USB_KIND_STLINK_BOOT))) {
		text_append(v->summary, sizeof v->summary, " An STLINK-V3 sits in its own bootloader "
		       "(0483:%04x).", u->pid);
		text_put(v->next, sizeof v->next, "Unplug and replug the ST-Link; if it stays there, "
		       "update its firmware with ST's ST-LINK upgrade tool.");
	} else if (obs->swd.probe_err != VR_OK && obs->swd.probe_err != VR_ERR_NO_DEVICE &&
		   obs->swd.probe_error[0]) {
		text_append(v->summary, sizeof v->summary, " The ST-Link cannot be used: %s.",
		       obs->swd.probe_error);
		text_put(v->next, sizeof v->next, "Unplug and replug the ST-Link, then retry; %s",
		    obs->swd.probe_error);
	} else {
		text_append(v->summary, sizeof v->summary, " No ST-Link is attached.");
		if (v->firmware == FW_UNKNOWN && !find_usb(obs, USB_KIND_VESC_CDC))
			return; /* the link's "nothing on USB" advice already says what to do */
		text_put(v->next, sizeof v->next, "Connect an ST-Link to the VESC's SWD header "
		    "(GND, SWDIO, SWCLK; power the VESC from its battery) and run vesc-rescue probe.");
	}
}

static void no_target(const struct swd_obs *swd, struct verdict *v)
{
	if (swd->voltage_known && swd->voltage < MIN_TARGET_VOLTS) {
		text_append(v->summary, sizeof v->summary, " The ST-Link reads %.2f V on its VDD pin: the "
		       "target looks unpowered.", swd->voltage);
		text_put(v->next, sizeof v->next, "%s.", POWER_ADVICE);
		return;
	}
	bool manual_done = ladder_tried(swd, ATTACH_MANUAL_RESET);
	bool dpidr = ladder_saw_dpidr(swd);
	if (manual_done && dpidr) {
		text_append(v->summary, sizeof v->summary, " The debug port answers but the core never "
		       "does, not even under a manual reset: the MCU is likely damaged.");
		text_put(v->next, sizeof v->next, "Last resort: replace the STM32F405 (or the board); "
		    "nothing more can be done over SWD.");
		v->exit_status = VR_EXIT_UNRECOVERABLE;
	} else if (manual_done) {
		text_append(v->summary, sizeof v->summary, " No SWD answer at any rung tried, manual reset "
		       "included: no power, wiring, RDP2 or a dead MCU, indistinguishable from here.");
		text_put(v->next, sizeof v->next, "Check the VESC is powered from its battery (a clone "
		    "ST-Link reads about 3.2 V by itself), then the wiring: %s.", WIRING_ADVICE);
	} else if (swd->n_rungs > 0 && ladder_tried(swd, ATTACH_UNDER_RESET)) {
		text_append(v->summary, sizeof v->summary, " No SWD answer, not even under reset; the last "
		       "rung, a manual NRST reset, needs a person.");
		text_put(v->next, sizeof v->next, "Check the wiring (%s). Then run vesc-rescue recover on a "
		    "terminal (or the dashboard): it asks you to short NRST (pin 7 of the STM32F405) to "
		    "GND and release it on cue.", WIRING_ADVICE);
	} else if (swd->n_rungs > 0) {
		unsigned last = (swd->n_rungs < OBS_MAX_RUNGS ? swd->n_rungs : OBS_MAX_RUNGS) - 1;
		text_append(v->summary, sizeof v->summary, " The ST-Link finds no SWD target (%s attach "
		       "failed%s).", attach_result_name(swd->ladder[last].rung),
		       dpidr ? "; the debug port answered" : "; no debug port answer");
		text_put(v->next, sizeof v->next, "Check the wiring (%s); vesc-rescue recover then tries "
		    "connect-under-reset, a slower clock and a manual NRST reset.", WIRING_ADVICE);
	} else {
		text_append(v->summary, sizeof v->summary, " The ST-Link finds no SWD target.");
		text_put(v->next, sizeof v->next, "%s; %s.", WIRING_ADVICE, POWER_ADVICE);
	}
	if (swd->advice[0])
		text_append(v->summary, sizeof v->summary, " %s", swd->advice);
}

static void describe_survey(const struct swd_obs *swd, struct verdict *v)
{
	if (swd->rdp == 1) {
		text_append(v->summary, sizeof v->summary, " SWD: %s attached (%s); the flash is read "
		       "protected (RDP level 1).", swd->target_name[0] ? swd->target_name : "target",
		       attach_result_name(swd->attach));
		text_put(v->next, sizeof v->next, "vesc-rescue recover --allow-unprotect removes the "
		    "protection, which erases the whole chip; nothing can be read to back up first.");
		return;
	}
	if (!swd->survey_done) {
		text_append(v->summary, sizeof v->summary, " SWD: %s attached (%s).",
		       swd->target_name[0] ? swd->target_name : "target", attach_result_name(swd->attach));
		text_put(v->next, sizeof v->next, "Run vesc-rescue survey to see what the flash holds.");
		return;
	}
	text_append(v->summary, sizeof v->summary, " SWD survey: application %s, bootloader %s%s%s.",
	       v->firmware == FW_PRESENT ? "intact" : v->firmware == FW_ABSENT ? "blank" : "corrupt",
	       v->bootloader == BL_PRESENT ? "present" : "missing",
	       v->bootloader == BL_PRESENT && v->bl_kind != BL_KIND_UNKNOWN ? " " : "",
	       v->bootloader == BL_PRESENT && v->bl_kind != BL_KIND_UNKNOWN ? bl_kind_name(v->bl_kind) : "");
	if (swd->attach == ATTACH_UNDER_RESET || swd->attach == ATTACH_SLOW_CLOCK ||
	    swd->attach == ATTACH_MANUAL_RESET)
		text_append(v->summary, sizeof v->summary, " Attached only %s (the firmware blocks a "
		       "normal attach).",
		       swd->attach == ATTACH_UNDER_RESET ? "under reset" :
		       swd->attach == ATTACH_SLOW_CLOCK ? "at a slow SWD clock" : "with NRST held by hand");
	if (swd->optcr != 0 && (swd->nwrp & 0x0fff) != 0x0fff)
		text_append(v->summary, sizeof v->summary, " Some sectors are write protected.");
	if (swd->staging.pending)
		text_append(v->summary, sizeof v->summary, " Sectors 8-10: staged update (not an error).");
	if (v->firmware == FW_PRESENT && v->bootloader == BL_PRESENT)
		text_put(v->next, sizeof v->next, "The flash looks intact but USB is silent: check the USB "
		    "cable carries data; a wrong-HW image looks like this too: vesc-rescue recover "
		    "--firmware FILE reflashes it.");
	else
		text_put(v->next, sizeof v->next, "Run vesc-rescue recover (backup first, then erase and "
		    "write; --dry-run shows the plan).");
}

static void describe_swd(const struct observations *obs, struct verdict *v)
{
	const struct swd_obs *swd = &obs->swd;
	if (!swd->tried)
		return;
	if (!swd->probe_found) {
		no_probe(obs, v);
	} else if (swd->rdp == 2) {
		text_append(v->summary, sizeof v->summary, " The chip reports RDP level 2: debug is off "
		       "for good.");
		text_put(v->next, sizeof v->next, "Unrecoverable over SWD: the STM32 must be replaced.");
		v->exit_status = VR_EXIT_UNRECOVERABLE;
	} else if (!swd->target_found) {
		no_target(swd, v);
	} else {
		describe_survey(swd, v);
	}
}

void verdict_compute(const struct observations *obs, struct verdict *v)
{
	memset(v, 0, sizeof *v);
	v->answering_serial = -1;
	v->firmware = verdict_flash_firmware(&obs->swd);
	v->bootloader = verdict_flash_bootloader(&obs->swd);
	v->bl_kind = v->bootloader == BL_PRESENT ? obs->swd.bootloader.kind : BL_KIND_UNKNOWN;

	int idx = verdict_answering_port(obs);
	if (idx >= 0) {
		describe_answer(obs, idx, v);
		return;
	}
	if (access_problem(obs, v) || busy_problem(obs, v))
		return;
	describe_link(obs, v);
	describe_swd(obs, v);
}
