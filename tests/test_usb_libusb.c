/* libusb transport: the ST-Link PID table (reference §1.1), serial
 * descriptor decoding (§1.1, OpenOCD's alternate serial), the choice among
 * several probes, and a real libusb listing on this machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "usb_libusb.h"

static void pid_table_endpoints(void **state)
{
	(void)state;
	const struct {
		uint16_t pid;
		uint8_t out;
		bool usable;
	} want[] = {
		{0x3748, 0x02, true},  {0x374B, 0x01, true},  {0x374A, 0x01, true},
		{0x3752, 0x01, true},  {0x374E, 0x01, true},  {0x374F, 0x01, true},
		{0x3753, 0x01, true},  {0x3754, 0x01, true},  {0x3757, 0x01, true},
		{0x3744, 0x02, false}, {0x374D, 0x01, false}, {0x3755, 0x01, false},
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		const struct stlink_pid_info *p = stlink_pid_lookup(want[i].pid);
		assert_non_null(p);
		assert_int_equal(p->ep_out, want[i].out);
		assert_int_equal(p->ep_in, 0x81);
		assert_int_equal(p->usable, want[i].usable);
		if (!p->usable)
			assert_non_null(p->refusal);
	}
	assert_int_equal(stlink_pid_count(), sizeof want / sizeof want[0]);
	assert_null(stlink_pid_lookup(0x5740)); /* the VESC's own CDC port */
	assert_null(stlink_pid_lookup(0xDF11)); /* STM32 ROM DFU */
	assert_null(stlink_pid_at(stlink_pid_count()));
}

static void refusals_say_what_to_do(void **state)
{
	(void)state;
	const struct stlink_pid_info *v1 = stlink_pid_lookup(0x3744);
	assert_non_null(strstr(v1->refusal, "ST-LINK/V1"));
	assert_non_null(strstr(v1->refusal, "V2"));
	const uint16_t boots[] = {0x374D, 0x3755};
	for (size_t i = 0; i < 2; i++) {
		const struct stlink_pid_info *b = stlink_pid_lookup(boots[i]);
		assert_non_null(strstr(b->refusal, "bootloader"));
		assert_non_null(strstr(b->refusal, "replug"));
	}
}

static void decodes_serial_descriptors(void **state)
{
	(void)state;
	char s[64];
	/* old V2 firmware: 12 raw bytes in the low bytes of UTF-16 units */
	uint8_t raw[26] = {0x1A, 0x03};
	const uint8_t bytes[12] = {0x57, 0xFF, 0x72, 0x06, 0x49, 0x85, 0x51, 0x52, 0x30, 0x31, 0x07, 0x87};
	for (int i = 0; i < 12; i++)
		raw[2 + 2 * i] = bytes[i];
	stlink_serial_from_descriptor(raw, sizeof raw, s, sizeof s);
	assert_string_equal(s, "57FF72064985515230310787");
	/* a good probe: 24 UTF-16 characters, descriptor length 50 */
	const char *text = "066DFF485550755187101234";
	uint8_t good[50] = {50, 0x03};
	for (int i = 0; i < 24; i++)
		good[2 + 2 * i] = (uint8_t)text[i];
	stlink_serial_from_descriptor(good, sizeof good, s, sizeof s);
	assert_string_equal(s, text);
	/* truncated and junk input: no crash, bounded output */
	stlink_serial_from_descriptor(good, 1, s, sizeof s);
	assert_string_equal(s, "");
	stlink_serial_from_descriptor(raw, 10, s, sizeof s);
	assert_true(strlen(s) <= 4);
	stlink_serial_from_descriptor(good, sizeof good, s, 5);
	assert_string_equal(s, "066D");
}

static struct stlink_usb_entry entry(uint16_t pid, const char *serial, const char *where)
{
	struct stlink_usb_entry e;
	memset(&e, 0, sizeof e);
	const struct stlink_pid_info *p = stlink_pid_lookup(pid);
	e.vid = STLINK_VID;
	e.pid = pid;
	snprintf(e.model, sizeof e.model, "%s", p->model);
	snprintf(e.serial, sizeof e.serial, "%s", serial);
	snprintf(e.where, sizeof e.where, "%s", where);
	e.usable = p->usable;
	if (!p->usable) {
		e.problem = VR_ERR_UNSUPPORTED;
		snprintf(e.advice, sizeof e.advice, "%s", p->refusal);
	}
	return e;
}

static void chooses_a_probe(void **state)
{
	(void)state;
	struct stlink_usb_entry e[3] = {
		entry(0x3748, "AAAA1111", "bus 1 port 2"),
		entry(0x374B, "BBBB2222", "bus 1 port 3"),
		entry(0x374D, "CCCC3333", "bus 2 port 1"),
	};
	struct vr_error err = {0};
	size_t pick = 99;
	assert_int_equal(stlink_usb_choose(e, 0, NULL, &pick, &err), VR_ERR_NO_DEVICE);
	assert_non_null(strstr(err.msg, "no ST-Link"));
	assert_int_equal(stlink_usb_choose(e, 1, NULL, &pick, &err), VR_OK);
	assert_int_equal(pick, 0);
	/* two usable and no choice: a usage error naming both */
	assert_int_equal(stlink_usb_choose(e, 3, NULL, &pick, &err), VR_ERR_USAGE);
	assert_non_null(strstr(err.msg, "--probe"));
	assert_non_null(strstr(err.msg, "AAAA1111"));
	assert_non_null(strstr(err.msg, "BBBB2222"));
	/* by serial, case-insensitive */
	assert_int_equal(stlink_usb_choose(e, 3, "bbbb2222", &pick, &err), VR_OK);
	assert_int_equal(pick, 1);
	assert_int_equal(stlink_usb_choose(e, 3, "DDDD", &pick, &err), VR_ERR_NO_DEVICE);
	assert_non_null(strstr(err.msg, "DDDD"));
	/* one usable next to a bootloader: the usable one */
	assert_int_equal(stlink_usb_choose(e + 1, 2, NULL, &pick, &err), VR_OK);
	assert_int_equal(pick, 0);
	/* only a V3 in its bootloader: refused with what to do */
	assert_int_equal(stlink_usb_choose(e + 2, 1, NULL, &pick, &err), VR_ERR_UNSUPPORTED);
	assert_non_null(strstr(err.msg, "bootloader"));
}

static void lists_this_machine(void **state)
{
	(void)state;
	struct stlink_usb_entry e[8];
	size_t n = 99;
	struct vr_error err = {0};
	assert_int_equal(usb_libusb_list(NULL, e, 8, &n, &err), VR_OK);
	assert_true(n <= 8);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(stlink_pid_lookup(e[i].pid));
		assert_true(e[i].where[0] != '\0');
	}
	if (n == 0) {
		/* nothing attached (the build machines have no USB bus) */
		struct usb_transport t;
		assert_int_equal(usb_libusb_open(NULL, NULL, &t, &err), VR_ERR_NO_DEVICE);
		assert_non_null(strstr(err.msg, "no ST-Link found"));
		assert_null(t.ops);
		assert_int_equal(usb_libusb_open(NULL, "0123", &t, &err), VR_ERR_NO_DEVICE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(pid_table_endpoints),
		cmocka_unit_test(refusals_say_what_to_do),
		cmocka_unit_test(decodes_serial_descriptors),
		cmocka_unit_test(chooses_a_probe),
		cmocka_unit_test(lists_this_machine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
