/* The dashboard's pure text (ui/format.c): sizes, durations, progress bars
 * and their words, sector map cells, pane lines, word wrapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ui/format.h"

static void assert_contains(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		fail_msg("'%s' not in '%s'", needle, text);
}

static void test_bytes(void **state)
{
	char out[32];
	fmt_bytes(512, out, sizeof out);
	assert_string_equal(out, "512 B");
	fmt_bytes(16384, out, sizeof out);
	assert_string_equal(out, "16.0 KiB");
	fmt_bytes(1048576, out, sizeof out);
	assert_string_equal(out, "1.00 MiB");
	fmt_bytes(524280, out, sizeof out);
	assert_string_equal(out, "512.0 KiB");
}

static void test_duration(void **state)
{
	char out[32];
	fmt_duration(0.44, out, sizeof out);
	assert_string_equal(out, "0.4 s");
	fmt_duration(16, out, sizeof out);
	assert_string_equal(out, "16 s");
	fmt_duration(65, out, sizeof out);
	assert_string_equal(out, "1 min 05 s");
	fmt_duration(-1, out, sizeof out);
	assert_string_equal(out, "?");
}

static void test_transfer_progress(void **state)
{
	struct engine_progress p = {.active = true, .done = 393216, .total = 524288, .rate_bps = 49152,
				    .eta_s = 2.7};
	char out[200];
	assert_true(fmt_progress_fraction(&p) > 0.74 && fmt_progress_fraction(&p) < 0.76);
	fmt_progress_text(&p, out, sizeof out);
	assert_string_equal(out, "384.0 KiB of 512.0 KiB, 48.0 KiB/s, ETA 2.7 s");
	p.rate_bps = 0;
	p.eta_s = -1;
	fmt_progress_text(&p, out, sizeof out);
	assert_string_equal(out, "384.0 KiB of 512.0 KiB");
}

/* A mass erase has no bytes: it shows elapsed against the datasheet's
 * typical and maximum, and says so when the maximum has passed. */
static void test_erase_progress(void **state)
{
	struct engine_progress p = {.active = true, .elapsed_s = 4, .typical_s = 8, .max_s = 16, .eta_s = 4};
	char out[200];
	assert_true(fmt_progress_fraction(&p) > 0.24 && fmt_progress_fraction(&p) < 0.26);
	fmt_progress_text(&p, out, sizeof out);
	assert_string_equal(out, "4.0 s elapsed, typical 8.0 s, max 16 s");
	p.elapsed_s = 17;
	fmt_progress_text(&p, out, sizeof out);
	assert_contains(out, "past the 16 s maximum");
	assert_true(fmt_progress_fraction(&p) == 1.0);
}

static void test_bar(void **state)
{
	const struct ui_glyphs *ascii = theme_glyphs(false);
	char out[256];
	fmt_bar(0.5, 10, ascii, out, sizeof out);
	assert_string_equal(out, "#####.....");
	fmt_bar(-3, 4, ascii, out, sizeof out);
	assert_string_equal(out, "....");
	fmt_bar(7, 4, ascii, out, sizeof out);
	assert_string_equal(out, "####");
	/* UTF-8 cells are three bytes each but one column. */
	fmt_bar(0.25, 8, theme_glyphs(true), out, sizeof out);
	assert_int_equal(fmt_columns(out), 8);
	/* A small buffer is never overrun, and stays a whole number of cells. */
	char small[8];
	fmt_bar(1, 10, theme_glyphs(true), small, sizeof small);
	assert_int_equal(strlen(small), 6);
}

/* Every state has its own letter, so the map reads without colour. */
static void test_sector_cells_distinct(void **state)
{
	enum sector_state all[] = {SECTOR_UNKNOWN, SECTOR_BLANK, SECTOR_APP, SECTOR_CONFIG,
				   SECTOR_STAGING, SECTOR_BOOTLOADER, SECTOR_DATA, SECTOR_PROTECTED};
	size_t n = sizeof all / sizeof all[0];
	for (size_t i = 0; i < n; i++)
		for (size_t k = i + 1; k < n; k++)
			assert_true(fmt_sector_char(all[i]) != fmt_sector_char(all[k]));
	assert_int_equal(fmt_sector_char(SECTOR_APP), 'A');
	assert_int_equal(fmt_sector_char(SECTOR_BLANK), '.');
	assert_int_equal(fmt_sector_char(SECTOR_BOOTLOADER), 'B');
	assert_int_equal(fmt_sector_char((enum sector_state)99), '?');
	assert_int_equal(fmt_sector_color(SECTOR_PROTECTED), UIC_SECTOR_PROTECTED);
}

static void test_legend_names_only_present_states(void **state)
{
	enum sector_state map[F4_SECTORS] = {SECTOR_APP, SECTOR_CONFIG, SECTOR_CONFIG, SECTOR_APP,
					     SECTOR_APP, SECTOR_APP, SECTOR_APP, SECTOR_APP,
					     SECTOR_BLANK, SECTOR_BLANK, SECTOR_BLANK, SECTOR_BOOTLOADER};
	char out[120];
	fmt_sector_legend(map, F4_SECTORS, out, sizeof out);
	assert_string_equal(out, "A app C config B boot . blank");
	assert_true(fmt_columns(out) <= 38);  /* fits the Target pane at 80x24 */
}

static void test_serial_lines(void **state)
{
	struct serial_obs s;
	memset(&s, 0, sizeof s);
	char out[240];
	snprintf(s.port, sizeof s.port, "/dev/ttyACM0");
	s.status = SERIAL_VESC;
	s.fw.major = 6;
	s.fw.minor = 5;
	snprintf(s.fw.hw_name, sizeof s.fw.hw_name, "60");
	fmt_serial_line(&s, out, sizeof out);
	assert_string_equal(out, "/dev/ttyACM0  VESC 6.05 HW 60");
	s.status = SERIAL_ECHO;
	snprintf(s.detail, sizeof s.detail, "our request came back: RX and TX bridged");
	fmt_serial_line(&s, out, sizeof out);
	assert_string_equal(out, "/dev/ttyACM0  echo: our request came back: RX and TX bridged");
	s.status = SERIAL_ERROR;
	snprintf(s.error, sizeof s.error, "permission denied: add yourself to dialout");
	fmt_serial_line(&s, out, sizeof out);
	assert_contains(out, "error: permission denied");
	assert_int_equal(fmt_serial_color(SERIAL_ERROR), UIC_ERROR);
	assert_int_equal(fmt_serial_color(SERIAL_VESC), UIC_OK);
	assert_int_equal(fmt_serial_color(SERIAL_SILENT), UIC_WARN);
}

static void test_usb_lines(void **state)
{
	struct usb_obs u;
	memset(&u, 0, sizeof u);
	char out[240];
	u.vid = 0x0483;
	u.pid = 0x3748;
	u.kind = USB_KIND_STLINK;
	snprintf(u.model, sizeof u.model, "ST-LINK/V2");
	fmt_usb_line(&u, out, sizeof out);
	assert_string_equal(out, "ST-Link 0483:3748 ST-LINK/V2");
	u.kind = USB_KIND_VESC_CDC;
	u.pid = 0x5740;
	snprintf(u.tty, sizeof u.tty, "/dev/ttyACM0");
	snprintf(u.model, sizeof u.model, "ChibiOS/RT Virtual COM Port");
	fmt_usb_line(&u, out, sizeof out);
	/* The tty comes before the long product name, which may be cut. */
	assert_string_equal(out, "VESC USB 0483:5740 /dev/ttyACM0 ChibiOS/RT Virtual COM Port");
	u.kind = USB_KIND_STLINK;
	u.pid = 0x3748;
	u.access = VR_ERR_ACCESS;
	snprintf(u.error, sizeof u.error, "no udev rule: vesc-rescue --udev-rules");
	fmt_usb_line(&u, out, sizeof out);
	assert_string_equal(out, "ST-Link 0483:3748: no udev rule: vesc-rescue --udev-rules");
	assert_string_equal(fmt_usb_kind_label(USB_KIND_STM32_DFU), "STM32 DFU");
}

static void test_target_lines(void **state)
{
	struct swd_obs swd;
	struct verdict v;
	memset(&swd, 0, sizeof swd);
	memset(&v, 0, sizeof v);
	char out[240];
	fmt_attach_line(&swd, out, sizeof out);
	assert_string_equal(out, "SWD not tried yet");
	swd.tried = swd.probe_found = swd.target_found = true;
	swd.attach = ATTACH_UNDER_RESET;
	swd.dev_id = 0x413;
	swd.rdp = 1;
	fmt_attach_line(&swd, out, sizeof out);
	assert_string_equal(out, "SWD under-reset  DEV_ID 0x413  RDP 1");
	swd.attach = ATTACH_MANUAL_RESET;
	fmt_attach_line(&swd, out, sizeof out);
	assert_true(fmt_columns(out) <= 38);  /* the longest rung fits the Target pane */
	swd.voltage_known = true;
	swd.voltage = 0.02;
	fmt_voltage_line(&swd, out, sizeof out);
	assert_contains(out, "unpowered");
	swd.voltage = 3.21;
	fmt_voltage_line(&swd, out, sizeof out);
	assert_contains(out, "3.21 V");
	assert_contains(out, "clone");
	v.firmware = FW_CORRUPT;
	swd.app.crc_checked = true;
	fmt_firmware_line(&v, &swd, out, sizeof out);
	assert_string_equal(out, "Firmware: corrupt (CRC check fails)");
	v.bootloader = BL_PRESENT;
	v.bl_kind = BL_KIND_HW60;
	fmt_bootloader_line(&v, out, sizeof out);
	assert_string_equal(out, "Bootloader: present (hw60)");
}

static void test_row_marks(void **state)
{
	const struct ui_glyphs *g = theme_glyphs(false);
	assert_string_equal(fmt_row_mark(ROW_DONE, g), "+");
	assert_string_equal(fmt_row_mark(ROW_CURRENT, g), ">");
	assert_string_equal(fmt_row_mark(ROW_FAILED, g), "x");
	assert_string_equal(fmt_row_mark(ROW_SKIPPED, g), "-");
	assert_int_equal(fmt_row_color(ROW_FAILED), UIC_ROW_FAILED);
	assert_int_equal(fmt_row_color(ROW_CURRENT), UIC_ROW_CURRENT);
}

static void test_columns(void **state)
{
	assert_int_equal(fmt_columns("abc"), 3);
	assert_int_equal(fmt_columns("a\u2192b"), 3);
	assert_int_equal(fmt_prefix_bytes("a\u2192b", 2), 4);
	assert_int_equal(fmt_prefix_bytes("ab", 5), 2);
}

static void test_wrap(void **state)
{
	char lines[6][32];
	size_t n = fmt_wrap("Erase the whole flash (1 MiB): the firmware and the bootloader.", 20,
			    &lines[0][0], sizeof lines[0], 6);
	assert_int_equal(n, 4);
	assert_string_equal(lines[0], "Erase the whole");
	assert_string_equal(lines[1], "flash (1 MiB): the");
	assert_string_equal(lines[2], "firmware and the");
	assert_string_equal(lines[3], "bootloader.");
	for (size_t i = 0; i < n; i++)
		assert_true(fmt_columns(lines[i]) <= 20);
	/* Newlines break; a word longer than the line is cut, not lost. */
	n = fmt_wrap("a\n\nabcdefghij", 4, &lines[0][0], sizeof lines[0], 6);
	assert_int_equal(n, 5);
	assert_string_equal(lines[1], "");
	assert_string_equal(lines[2], "abcd");
	assert_string_equal(lines[4], "ij");
	/* max_lines bounds the output. */
	assert_int_equal(fmt_wrap("one two three four", 3, &lines[0][0], sizeof lines[0], 2), 2);
	assert_int_equal(fmt_wrap("", 10, &lines[0][0], sizeof lines[0], 2), 0);
}

/* In a non-UTF-8 locale every character must be one column of ASCII. */
static void test_ascii(void **state)
{
	char out[64];
	fmt_ascii("Back up \u2014 read \u2192 check\u2026", out, sizeof out);
	assert_string_equal(out, "Back up - read -> check...");
	fmt_ascii("caf\u00e9 \xff end", out, sizeof out);
	assert_string_equal(out, "caf? ? end");
	char tiny[5];
	fmt_ascii("a\u2192bcdef", tiny, sizeof tiny);
	assert_string_equal(tiny, "a->b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_transfer_progress),
		cmocka_unit_test(test_erase_progress),
		cmocka_unit_test(test_bar),
		cmocka_unit_test(test_sector_cells_distinct),
		cmocka_unit_test(test_legend_names_only_present_states),
		cmocka_unit_test(test_serial_lines),
		cmocka_unit_test(test_usb_lines),
		cmocka_unit_test(test_target_lines),
		cmocka_unit_test(test_row_marks),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_ascii),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
