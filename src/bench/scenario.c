/* The scenario table of the simulated bench (CONTRACTS.md §2) and the
 * "name,k=v,..." parser. Each scenario differs from the healthy bench in as
 * few fields as possible, so a row reads as "what is broken". */
#include "bench/scenario.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPTCR_FACTORY 0x0FFFAAEDu
/* RDP byte 0x55: any value but 0xAA and 0xCC is level 1 */
#define OPTCR_RDP1 0x0FFF55EDu
/* nWRP bit 11 cleared: the bootloader sector is write protected */
#define OPTCR_WRP_SECTOR11 0x07FFAAEDu

/* One row: what differs from a healthy bench. The remaining fields (HW
 * "60", a 0x3748 clone probe, no injected USB faults, no sleeping) are the
 * same for every scenario and are set by ROW_. */
#define ROW_(name_, summary_, flash_, fw_major_, fw_minor_, vdd_, swd_, nrst_, locks_, optcr_, probe_, \
	    link_, baud_)                                                                                  \
	{                                                                                                   \
		.name = name_, .summary = summary_, .flash = flash_, .fw_major = fw_major_,                   \
		.fw_minor = fw_minor_, .hw_name = "60", .vdd = vdd_, .swd_wired = swd_, .nrst_wired = nrst_, \
		.app_locks_swd = locks_, .optcr = optcr_, .probe = probe_, .probe_pid = 0x3748,              \
		.probe_is_clone = true, .link = link_, .uart_baud = baud_, .usb_timeout_at = -1,              \
		.usb_gone_at = -1, .time_scale = 0.0, .state_file = ""                                        \
	}

/* expands OK_TARGET/OK_LINK before ROW_ counts its arguments */
#define ROW(...) ROW_(__VA_ARGS__)
#define OK_TARGET 3.3, true, true, false, OPTCR_FACTORY
#define OK_LINK PROBE_OK, VESC_LINK_NORMAL, 115200

static const struct bench_scenario rows[] = {
	ROW("healthy", "a working VESC 6.05 (HW 60) with its bootloader; everything answers",
	    FLASH_HEALTHY, 6, 5, OK_TARGET, OK_LINK),
	ROW("old-fw", "a working VESC on firmware 2.18 (old protocol and flash layout)",
	    FLASH_HEALTHY, 2, 18, OK_TARGET, OK_LINK),
	ROW("no-bootloader", "firmware runs, sector 11 is blank: no bootloader for updates",
	    FLASH_NO_BOOTLOADER, 6, 5, OK_TARGET, OK_LINK),
	ROW("corrupt-app", "firmware fails its CRC check: USB never enumerates; bootloader intact",
	    FLASH_CORRUPT_APP, 6, 5, OK_TARGET, OK_LINK),
	ROW("blank", "the flash is all 0xFF: no firmware, no bootloader",
	    FLASH_BLANK, 6, 5, OK_TARGET, OK_LINK),
	ROW("swd-lockout", "a broken app that disables SWD once it runs: only connect-under-reset attaches",
	    FLASH_CORRUPT_APP, 6, 5, 3.3, true, true, true, OPTCR_FACTORY, OK_LINK),
	ROW("no-nrst", "as swd-lockout, and NRST is not wired: only a manual NRST short attaches",
	    FLASH_CORRUPT_APP, 6, 5, 3.3, true, false, true, OPTCR_FACTORY, OK_LINK),
	ROW("rdp1", "a broken app under read protection level 1: flash unreadable, regression mass-erases",
	    FLASH_CORRUPT_APP, 6, 5, 3.3, true, true, false, OPTCR_RDP1, OK_LINK),
	ROW("wrp", "a broken app, sector 11 write protected (nWRP11 = 0): its erase and mass erase fail",
	    FLASH_CORRUPT_APP, 6, 5, 3.3, true, true, false, OPTCR_WRP_SECTOR11, OK_LINK),
	ROW("unpowered", "the VESC has no supply: nothing answers on SWD, USB or UART",
	    FLASH_HEALTHY, 6, 5, 0.0, true, true, false, OPTCR_FACTORY, OK_LINK),
	ROW("miswired", "SWDIO/SWCLK swapped: the probe works, the target never answers",
	    FLASH_CORRUPT_APP, 6, 5, 3.3, false, true, false, OPTCR_FACTORY, OK_LINK),
	ROW("probe-dfu", "the ST-Link sits in its DFU (firmware update) mode",
	    FLASH_CORRUPT_APP, 6, 5, OK_TARGET, PROBE_DFU, VESC_LINK_NORMAL, 115200),
	ROW("probe-busy", "another program (OpenOCD, st-util) holds the ST-Link",
	    FLASH_CORRUPT_APP, 6, 5, OK_TARGET, PROBE_BUSY, VESC_LINK_NORMAL, 115200),
	ROW("probe-access", "no udev rule: opening the ST-Link is denied (LIBUSB_ERROR_ACCESS)",
	    FLASH_CORRUPT_APP, 6, 5, OK_TARGET, PROBE_NO_ACCESS, VESC_LINK_NORMAL, 115200),
	ROW("uart-wrong-baud", "USB does not enumerate; the VESC's UART runs at 9600 baud, not 115200",
	    FLASH_HEALTHY, 6, 5, OK_TARGET, PROBE_OK, VESC_LINK_UART_WRONG_BAUD, 9600),
	ROW("usb-noise", "a working VESC whose USB link adds noise around every reply",
	    FLASH_HEALTHY, 6, 5, OK_TARGET, PROBE_OK, VESC_LINK_USB_NOISE, 115200),
};

enum { ROW_COUNT = sizeof rows / sizeof rows[0] };

size_t bench_scenario_count(void)
{
	return ROW_COUNT;
}

const struct bench_scenario *bench_scenario_at(size_t i)
{
	return i < ROW_COUNT ? &rows[i] : NULL;
}

static void list_names(char *out, size_t cap)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < ROW_COUNT && used < cap; i++) {
		int n = snprintf(out + used, cap - used, "%s%s", i ? ", " : "", rows[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static const char valid_keys[] = "fw=MAJOR.MINOR, hw=NAME, time-scale=X, usb-timeout-at=N, "
				 "usb-gone-at=N, usb-timeout-every=K, state=FILE, probe=absent, link=disconnect";

static vr_err parse_fw(const char *val, struct bench_scenario *sc, struct vr_error *err)
{
	unsigned major, minor;
	char tail;
	if (sscanf(val, "%u.%u%c", &major, &minor, &tail) != 2 || major > 99 || minor > 99)
		return vr_fail(err, VR_ERR_USAGE, "--sim: fw=%s is not a firmware version like 6.05", val);
	sc->fw_major = (int)major;
	sc->fw_minor = (int)minor;
	return VR_OK;
}

static vr_err parse_count(const char *key, const char *val, long *out, struct vr_error *err)
{
	char *end;
	errno = 0;
	long n = strtol(val, &end, 10);
	if (errno || end == val || *end || n < 0)
		return vr_fail(err, VR_ERR_USAGE, "--sim: %s=%s is not a transfer number (0, 1, 2, ...)", key,
			       val);
	*out = n;
	return VR_OK;
}

static vr_err parse_scale(const char *val, double *out, struct vr_error *err)
{
	char *end;
	errno = 0;
	double x = strtod(val, &end);
	if (errno || end == val || *end || !isfinite(x) || x < 0.0 || x > 100.0)
		return vr_fail(err, VR_ERR_USAGE,
			       "--sim: time-scale=%s must be a number from 0 (no sleeping) to 100", val);
	*out = x;
	return VR_OK;
}

static vr_err copy_text(const char *key, const char *val, char *dst, size_t cap, struct vr_error *err)
{
	if (!*val || strlen(val) >= cap)
		return vr_fail(err, VR_ERR_USAGE, "--sim: %s= needs a value of 1 to %zu characters", key,
			       cap - 1);
	memcpy(dst, val, strlen(val) + 1);
	return VR_OK;
}

static vr_err apply_param(char *kv, struct bench_scenario *sc, struct vr_error *err)
{
	char *eq = strchr(kv, '=');
	if (!eq)
		return vr_fail(err, VR_ERR_USAGE, "--sim: \"%s\" is not key=value; valid keys: %s", kv,
			       valid_keys);
	*eq = '\0';
	const char *key = kv, *val = eq + 1;
	if (strcmp(key, "fw") == 0)
		return parse_fw(val, sc, err);
	if (strcmp(key, "hw") == 0)
		return copy_text(key, val, sc->hw_name, sizeof sc->hw_name, err);
	if (strcmp(key, "time-scale") == 0)
		return parse_scale(val, &sc->time_scale, err);
	if (strcmp(key, "usb-timeout-at") == 0)
		return parse_count(key, val, &sc->usb_timeout_at, err);
	if (strcmp(key, "usb-gone-at") == 0)
		return parse_count(key, val, &sc->usb_gone_at, err);
	if (strcmp(key, "usb-timeout-every") == 0)
		return parse_count(key, val, &sc->usb_timeout_every, err);
	if (strcmp(key, "state") == 0)
		return copy_text(key, val, sc->state_file, sizeof sc->state_file, err);
	/* The VESC's USB port vanishes in the middle of its first reply. */
	if (strcmp(key, "link") == 0 && strcmp(val, "disconnect") == 0) {
		sc->link = VESC_LINK_DISCONNECT;
		return VR_OK;
	}
	/* No ST-Link on the bus: what the USB-only paths see. */
	if (strcmp(key, "probe") == 0 && strcmp(val, "absent") == 0) {
		sc->probe = PROBE_ABSENT;
		return VR_OK;
	}
	return vr_fail(err, VR_ERR_USAGE, "--sim: unknown parameter \"%s\"; valid keys: %s", key,
		       valid_keys);
}

static vr_err find_row(const char *name, size_t *index, struct vr_error *err)
{
	for (size_t i = 0; i < ROW_COUNT; i++) {
		if (strcmp(rows[i].name, name) == 0) {
			*index = i;
			return VR_OK;
		}
	}
	char names[256];
	list_names(names, sizeof names);
	return vr_fail(err, VR_ERR_USAGE, "--sim: unknown scenario \"%s\"; scenarios: %s", name, names);
}

vr_err bench_scenario_parse(const char *spec, struct bench_scenario *out, struct vr_error *err)
{
	char buf[512];
	if (!spec || !*spec)
		return vr_fail(err, VR_ERR_USAGE, "--sim needs a scenario name; try --sim list");
	if (strlen(spec) >= sizeof buf)
		return vr_fail(err, VR_ERR_USAGE, "--sim: the scenario text is too long");
	memcpy(buf, spec, strlen(spec) + 1);
	char *save = NULL;
	char *name = strtok_r(buf, ",", &save);
	size_t index = 0;
	vr_err rc = find_row(name ? name : "", &index, err);
	if (rc != VR_OK)
		return rc;
	struct bench_scenario sc = rows[index];
	for (char *kv = strtok_r(NULL, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		rc = apply_param(kv, &sc, err);
		if (rc != VR_OK)
			return rc;
	}
	*out = sc;
	return VR_OK;
}
