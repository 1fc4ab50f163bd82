/* Verdict sentences and exit statuses (issue 2 "Verdict and output",
 * CONTRACTS.md §3/§4) for the link cases and the SWD cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "verdict.h"

static void obs_init(struct observations *o)
{
	memset(o, 0, sizeof *o);
}

static struct usb_obs *add_usb(struct observations *o, enum usb_kind kind, uint16_t pid)
{
	struct usb_obs *u = &o->usb[o->n_usb++];
	u->vid = 0x0483;
	u->pid = pid;
	u->kind = kind;
	return u;
}

static struct serial_obs *add_port(struct observations *o, const char *port,
				   enum serial_status st, bool uart)
{
	struct serial_obs *s = &o->serial[o->n_serial++];
	snprintf(s->port, sizeof s->port, "%s", port);
	s->status = st;
	s->is_uart = uart;
	return s;
}

static void assert_contains(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("'%s' not in '%s'", needle, text);
}

static void probe_and_target(struct observations *o)
{
	o->swd.tried = true;
	o->swd.probe_found = true;
	o->swd.voltage_known = true;
	o->swd.voltage = 3.3;
	o->swd.target_found = true;
	o->swd.attach = ATTACH_NORMAL;
	o->swd.optcr = 0x0FFFAAEC;
	o->swd.nwrp = 0x0FFF;
	snprintf(o->swd.target_name, sizeof o->swd.target_name, "STM32F40x/F41x");
}

static void survey(struct observations *o, bool app_ok, bool crc_ok, bool bl)
{
	probe_and_target(o);
	o->swd.survey_done = true;
	for (unsigned i = 0; i < F4_SECTORS; i++)
		o->swd.sectors[i].blank = true;
	if (app_ok) {
		o->swd.sectors[0].blank = false;
		o->swd.app.vector_valid = true;
		o->swd.app.crc_checked = true;
		o->swd.app.crc_ok = crc_ok;
		o->swd.app.image_end = 524280;
	}
	o->swd.bootloader.present = bl;
	o->swd.bootloader.blank = !bl;
	o->swd.bootloader.kind = bl ? BL_KIND_HW60 : BL_KIND_UNKNOWN;
	o->swd.sectors[11].blank = !bl;
}

/* ---- link cases ------------------------------------------------------------ */

static void healthy_605(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	add_usb(&o, USB_KIND_VESC_CDC, 0x5740);
	struct serial_obs *s = add_port(&o, "/dev/ttyACM0", SERIAL_VESC, false);
	s->fw.major = 6;
	s->fw.minor = 5;
	snprintf(s->fw.hw_name, sizeof s->fw.hw_name, "60");
	s->fw.has_uuid = true;
	for (unsigned i = 0; i < 12; i++)
		s->fw.uuid[i] = (uint8_t)(0x10 + i);
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 0);
	assert_int_equal(v.firmware, FW_PRESENT);
	assert_int_equal(v.bootloader, BL_UNKNOWN);
	assert_int_equal(v.answering_serial, 0);
	assert_contains(v.summary, "6.05");
	assert_contains(v.summary, "HW 60");
	assert_contains(v.summary, "/dev/ttyACM0");
	assert_contains(v.summary, "101112131415161718191a1b");
	assert_contains(v.next, "SWD survey");
	assert_contains(v.next, "old firmware comes back after an update");
}

static void healthy_with_survey_proves_bootloader(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	struct serial_obs *s = add_port(&o, "/dev/ttyACM0", SERIAL_VESC, false);
	s->fw.major = 6;
	s->fw.minor = 5;
	survey(&o, true, true, true);
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 0);
	assert_int_equal(v.bootloader, BL_PRESENT);
	assert_int_equal(v.bl_kind, BL_KIND_HW60);
	assert_contains(v.next, "Nothing to do");
	survey(&o, true, true, false);
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 0);
	assert_int_equal(v.bootloader, BL_ABSENT);
	assert_contains(v.next, "--bootloader");
}

static void silent_cdc(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	struct usb_obs *u = add_usb(&o, USB_KIND_VESC_CDC, 0x5740);
	snprintf(u->tty, sizeof u->tty, "/dev/ttyACM0");
	add_port(&o, "/dev/ttyACM0", SERIAL_SILENT, false);
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 4);
	assert_int_equal(v.firmware, FW_UNKNOWN);
	assert_int_equal(v.answering_serial, -1);
	assert_contains(v.summary, "enumerates but its firmware is silent");
	assert_contains(v.next, "go to SWD");
}

static void nothing_on_usb(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 4);
	assert_int_equal(v.firmware, FW_UNKNOWN);
	assert_int_equal(v.bootloader, BL_UNKNOWN);
	assert_contains(v.summary, "Nothing on USB");
	assert_contains(v.next, "cable carries data");
	assert_contains(v.next, "blue LED alone means the firmware is not running");
}

static void permission_denied(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	add_usb(&o, USB_KIND_VESC_CDC, 0x5740);
	struct serial_obs *s = add_port(&o, "/dev/ttyACM0", SERIAL_ERROR, false);
	s->err = VR_ERR_ACCESS;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 5);
	assert_contains(v.summary, "/dev/ttyACM0");
	assert_contains(v.next, "usermod -aG dialout");

	obs_init(&o);
	struct usb_obs *u = add_usb(&o, USB_KIND_STLINK, 0x3748);
	u->access = VR_ERR_ACCESS;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 5);
	assert_contains(v.next, "--udev-rules");
	assert_contains(v.next, "udevadm");
}

static void port_busy(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	add_usb(&o, USB_KIND_VESC_CDC, 0x5740);
	struct serial_obs *s = add_port(&o, "/dev/ttyACM0", SERIAL_ERROR, false);
	s->err = VR_ERR_BUSY;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 6);
	assert_contains(v.next, "ModemManager");

	obs_init(&o);
	o.swd.tried = true;
	o.swd.probe_err = VR_ERR_BUSY;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 6);
	assert_contains(v.next, "openocd");
}

static void wrong_baud_vs_silence(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	struct serial_obs *s = add_port(&o, "/dev/ttyUSB0", SERIAL_NOISE, true);
	s->baud = 115200;
	s->noise_bytes = 40;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 4);
	assert_contains(v.summary, "115200 baud");
	assert_contains(v.summary, "baud rate is wrong");
	/* the scan already ran: name the ground and an explicit rate */
	assert_contains(v.next, "GND");
	assert_contains(v.next, "--baud N");

	obs_init(&o);
	add_port(&o, "/dev/ttyUSB0", SERIAL_SILENT, true);
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 4);
	assert_contains(v.summary, "silent at every rate");
	assert_contains(v.next, "UART app may be disabled");
}

static void echo_and_other(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	add_port(&o, "/dev/ttyUSB0", SERIAL_ECHO, true);
	verdict_compute(&o, &v);
	assert_contains(v.summary, "RX and TX are bridged");
	obs_init(&o);
	struct serial_obs *s = add_port(&o, "/dev/ttyUSB1", SERIAL_OTHER, false);
	snprintf(s->detail, sizeof s->detail, "NMEA sentences");
	verdict_compute(&o, &v);
	assert_contains(v.summary, "NMEA");
	assert_int_equal(v.exit_status, 4);
}

static void stlink_dfu_v1_and_bootloader(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	/* the driver could not bring the ST-Link out of its DFU mode */
	obs_init(&o);
	add_usb(&o, USB_KIND_STLINK, 0x3748);
	o.swd.tried = true;
	o.swd.probe_err = VR_ERR_UNSUPPORTED;
	snprintf(o.swd.probe_error, sizeof o.swd.probe_error, "the ST-Link stays in its DFU mode");
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 4);
	assert_contains(v.summary, "DFU mode");
	assert_contains(v.next, "replug");

	obs_init(&o);
	add_usb(&o, USB_KIND_STLINK, 0x3744);
	o.swd.tried = true;
	o.swd.probe_err = VR_ERR_NO_DEVICE;
	verdict_compute(&o, &v);
	assert_contains(v.summary, "ST-LINK/V1");
	assert_contains(v.next, "V2");

	obs_init(&o);
	add_usb(&o, USB_KIND_STLINK_BOOT, 0x374d);
	o.swd.tried = true;
	o.swd.probe_err = VR_ERR_NO_DEVICE;
	verdict_compute(&o, &v);
	assert_contains(v.summary, "bootloader");
	assert_contains(v.summary, "374d");

	/* the STM32 itself in its ROM DFU: BOOT0 high */
	obs_init(&o);
	add_usb(&o, USB_KIND_STM32_DFU, 0xdf11);
	verdict_compute(&o, &v);
	assert_contains(v.summary, "BOOT0");
	assert_contains(v.next, "BOOT0");
}

/* ---- SWD cases ---------------------------------------------------------------- */

static void swd_no_probe(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	add_usb(&o, USB_KIND_VESC_CDC, 0x5740);
	add_port(&o, "/dev/ttyACM0", SERIAL_SILENT, false);
	o.swd.tried = true;
	o.swd.probe_err = VR_ERR_NO_DEVICE;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 4);
	assert_contains(v.summary, "No ST-Link");
	assert_contains(v.next, "SWDIO");
}

static void swd_unpowered(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	o.swd.tried = true;
	o.swd.probe_found = true;
	o.swd.voltage_known = true;
	o.swd.voltage = 0.0;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 4);
	assert_contains(v.summary, "unpowered");
	assert_contains(v.next, "genuine");
	assert_contains(v.next, "clone");
}

static void swd_wiring_then_lockout_ladder(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	o.swd.tried = true;
	o.swd.probe_found = true;
	o.swd.n_rungs = 1;
	o.swd.ladder[0].rung = ATTACH_NORMAL;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 4);
	assert_contains(v.summary, "normal attach failed");
	assert_contains(v.next, "connect-under-reset");

	/* every rung failed, nothing ever answered */
	static const enum attach_result rungs[] = {ATTACH_NORMAL, ATTACH_UNDER_RESET,
						   ATTACH_SLOW_CLOCK, ATTACH_MANUAL_RESET};
	for (unsigned i = 0; i < 4; i++)
		o.swd.ladder[i].rung = rungs[i];
	o.swd.n_rungs = 4;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 4);
	assert_contains(v.summary, "indistinguishable");

	/* the DP answered every time, the core never */
	for (unsigned i = 0; i < 4; i++)
		o.swd.ladder[i].dpidr = 0x2ba01477;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 8);
	assert_contains(v.summary, "likely damaged");
	assert_contains(v.next, "replace");
}

static void swd_rdp_levels(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	probe_and_target(&o);
	o.swd.rdp = 1;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 4);
	assert_int_equal(v.firmware, FW_UNKNOWN);
	assert_contains(v.summary, "RDP level 1");
	assert_contains(v.next, "--allow-unprotect");
	assert_contains(v.next, "erases the whole chip");
	o.swd.rdp = 2;
	verdict_compute(&o, &v);
	assert_int_equal(v.exit_status, 8);
}

static void swd_survey_states(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	survey(&o, true, false, true);
	verdict_compute(&o, &v);
	assert_int_equal(v.firmware, FW_CORRUPT);
	assert_int_equal(v.bootloader, BL_PRESENT);
	assert_int_equal(v.exit_status, 4);
	assert_contains(v.summary, "application corrupt");
	assert_contains(v.next, "vesc-rescue recover");

	obs_init(&o);
	survey(&o, false, false, false);
	verdict_compute(&o, &v);
	assert_int_equal(v.firmware, FW_ABSENT);
	assert_int_equal(v.bootloader, BL_ABSENT);
	assert_contains(v.summary, "application blank");

	obs_init(&o);
	survey(&o, true, true, true);
	o.swd.attach = ATTACH_UNDER_RESET;
	o.swd.staging.pending = true;
	verdict_compute(&o, &v);
	assert_contains(v.summary, "Attached only under reset");
	assert_true(strlen(v.summary) < sizeof v.summary - 1);   /* not cut off */
	assert_contains(v.summary, "staged update");
	assert_int_equal(v.firmware, FW_PRESENT);
	assert_int_equal(v.exit_status, 4);   /* intact but nothing answers */
	assert_contains(v.next, "wrong-HW");

	/* vector table garbage, not blank */
	obs_init(&o);
	survey(&o, false, false, true);
	o.swd.sectors[0].blank = false;
	o.swd.app.image_end = 1000;
	verdict_compute(&o, &v);
	assert_int_equal(v.firmware, FW_CORRUPT);
}

static void never_overflows_and_counts_are_clamped(void **state)
{
	(void)state;
	struct observations o;
	struct verdict v;
	obs_init(&o);
	o.n_serial = 1000;   /* nonsense counts must not read past the arrays */
	o.n_usb = 1000;
	o.swd.tried = true;
	o.swd.probe_found = true;
	o.swd.n_rungs = 1000;
	memset(o.swd.advice, 'x', sizeof o.swd.advice - 1);
	verdict_compute(&o, &v);
	assert_true(strlen(v.summary) < sizeof v.summary);
	assert_true(strlen(v.next) < sizeof v.next);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(healthy_605),
		cmocka_unit_test(healthy_with_survey_proves_bootloader),
		cmocka_unit_test(silent_cdc),
		cmocka_unit_test(nothing_on_usb),
		cmocka_unit_test(permission_denied),
		cmocka_unit_test(port_busy),
		cmocka_unit_test(wrong_baud_vs_silence),
		cmocka_unit_test(echo_and_other),
		cmocka_unit_test(stlink_dfu_v1_and_bootloader),
		cmocka_unit_test(swd_no_probe),
		cmocka_unit_test(swd_unpowered),
		cmocka_unit_test(swd_wiring_then_lockout_ladder),
		cmocka_unit_test(swd_rdp_levels),
		cmocka_unit_test(swd_survey_states),
		cmocka_unit_test(never_overflows_and_counts_are_clamped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
